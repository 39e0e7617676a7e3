// The card beside the highlighted point of the embedding: that image's
// thumbnail, cut from the step's sprite, with its index and facet.
import {el} from "./dom.js";

export class HoverCard {
  constructor() {
    this.canvas = el("canvas", {id: "fv-thumb", class: "fv-thumb fv-pixelated",
                                width: 1, height: 1, hidden: true, role: "img"});
    this.swatch = el("span", {class: "fv-swatch", "aria-hidden": "true"});
    this.text = el("span", {class: "fv-hover-text"});
    this.element = el("div", {id: "fv-hover", class: "fv-hover", "aria-live": "polite"}, [
      this.canvas, el("span", {class: "fv-hover-label"}, [this.swatch, this.text])]);
    this.index = null;
    this.sprite = null;
  }

  /**
   * Shows image `index` of facet `facet` (drawn in `color`); sprite: a
   * SpriteSheet or null (then only the facet and index are shown); size:
   * {width, height} of the thumbnail on screen.
   */
  show({index, facet, color, sprite, size}) {
    this.index = index;
    this.sprite = sprite;
    this.element.dataset.index = String(index);
    this.element.dataset.facet = facet === undefined ? "" : String(facet);
    this.text.textContent = facet === undefined
        ? `image ${index}` : `image ${index} · facet ${facet}`;
    this.swatch.style.setProperty("--fv-series", color);
    this.canvas.width = size.width;
    this.canvas.height = size.height;
    this.canvas.setAttribute("aria-label", `image ${index}`);
    delete this.canvas.dataset.index;
    this.canvas.hidden = true;
    if (!sprite || sprite.failed) return;
    if (!this._draw()) {
      sprite.ready.then(() => {
        if (this.index === index && this.sprite === sprite) this._draw();
      });
    }
  }

  _draw() {
    if (!this.sprite.draw(this.canvas, this.index)) return false;
    this.canvas.dataset.index = String(this.index);
    this.canvas.hidden = false;
    return true;
  }

  clear() {
    this.index = null;
    this.sprite = null;
    delete this.element.dataset.index;
  }
}
