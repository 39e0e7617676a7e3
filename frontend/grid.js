// The grid of unit images at one step: a tile per unit, labelled with the
// unit id and the activation it reached.
import {clear, el} from "./dom.js";
import {formatValue} from "./format.js";
import {setImage, watchForErrors} from "./images.js";

export class Grid {
  /** `onSelect(unit)` is called when a tile is clicked. */
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.tiles = new Map();  // unit -> {tile, img, activation}
    this.unitsKey = "";
    this.selected = null;
    this.element = el("div", {id: "fv-grid", class: "fv-grid"});
  }

  /**
   * Shows one step's entry ({units, activations, images}) of a tag whose
   * pictures have `size` ({width, height, pixelated}).
   */
  show(entry, size) {
    const units = entry.units || [];
    const key = `${units.join(",")}|${size.width}x${size.height}`;
    if (key !== this.unitsKey) this._build(units, size);
    this.unitsKey = key;
    units.forEach((unit, i) => {
      const parts = this.tiles.get(unit);
      const activation = (entry.activations || [])[i];
      setImage(parts.img, entry.images[i], size);
      parts.activation.textContent = formatValue(activation);
      parts.activation.title = activation === undefined ? "not recorded" : String(activation);
      parts.tile.dataset.activation = activation === undefined ? "" : String(activation);
    });
    this.setSelected(this.selected);
  }

  _build(units, size) {
    clear(this.element);
    this.tiles.clear();
    for (const unit of units) {
      const img = watchForErrors(el("img", {
        class: "fv-img fv-tile-img", alt: `unit ${unit}`, draggable: "false",
        width: size.width, height: size.height}));
      const activation = el("span", {class: "fv-activation"});
      const tile = el("button", {
        class: "fv-tile", type: "button",
        title: `Unit ${unit}: show its history`,
        dataset: {unit: String(unit)},
        onclick: () => this.onSelect(unit),
      }, [
        el("span", {class: "fv-tile-frame"}, [img]),
        el("span", {class: "fv-tile-label"}, [
          el("span", {class: "fv-unit", text: `unit ${unit}`}), activation]),
      ]);
      this.tiles.set(unit, {tile, img, activation});
      this.element.appendChild(tile);
    }
  }

  /** Highlights `unit`'s tile (null: none). */
  setSelected(unit) {
    this.selected = unit;
    for (const [u, parts] of this.tiles) {
      const on = u === unit;
      parts.tile.classList.toggle("fv-selected", on);
      parts.tile.setAttribute("aria-pressed", String(on));
    }
  }

  reset() {
    clear(this.element);
    this.tiles.clear();
    this.unitsKey = "";
    this.selected = null;
  }
}
