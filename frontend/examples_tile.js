// One picture of the examples view with its caption: a dataset example (a
// probe image, cropped to a box or whole with the box marked) or a unit's AM
// picture. The layout (crops.js) goes in through CSS variables set with
// element.style (CSSOM, which the iframe's CSP allows), never a style attribute.
import {el} from "./dom.js";
import {setImage, watchForErrors} from "./images.js";

const px = (value) => `${Math.round(value * 1000) / 1000}px`;

export class PictureTile {
  /** className: extra class of the tile; alt: the picture's text alternative. */
  constructor(className, alt) {
    this.img = watchForErrors(el("img", {
      class: "fv-img fv-example-img", alt, draggable: "false", decoding: "async",
      loading: "lazy", hidden: true}));
    this.outline = el("span", {class: "fv-crop-box", "aria-hidden": "true", hidden: true});
    this.missing = el("span", {class: "fv-missing fv-crop-missing", hidden: true});
    this.frame = el("span", {class: "fv-crop"}, [this.img, this.outline, this.missing]);
    this.caption = el("span", {class: "fv-example-caption"});
    this.element = el("span", {class: `fv-example ${className}`}, [this.frame, this.caption]);
  }

  /**
   * Shows blob `key` laid out by `layout` (from crops.js exampleLayout),
   * with `caption` (a string or nodes) and `title`; an empty key shows
   * `missingText` instead of a picture.
   */
  show({key, layout, caption, title = "", missingText = "not logged"}) {
    const style = this.frame.style;
    style.setProperty("--fv-frame-w", px(layout.frame.width));
    style.setProperty("--fv-frame-h", px(layout.frame.height));
    style.setProperty("--fv-pic-w", px(layout.picture.width));
    style.setProperty("--fv-pic-h", px(layout.picture.height));
    style.setProperty("--fv-pic-x", px(layout.picture.left));
    style.setProperty("--fv-pic-y", px(layout.picture.top));
    this.frame.dataset.mode = layout.mode;
    const has = typeof key === "string" && key.length > 0;
    this.img.hidden = !has;
    this.missing.hidden = has;
    this.missing.textContent = has ? "" : missingText;
    if (has) {
      setImage(this.img, key, null);
      this.img.width = Math.round(layout.picture.width);
      this.img.height = Math.round(layout.picture.height);
      this.img.classList.toggle("fv-pixelated", layout.pixelated);
    } else {
      this.img.removeAttribute("src");
      delete this.img.dataset.key;
    }
    const box = layout.outline;
    this.outline.hidden = !(has && box);
    if (box) {
      style.setProperty("--fv-box-x", px(box.left));
      style.setProperty("--fv-box-y", px(box.top));
      style.setProperty("--fv-box-w", px(box.width));
      style.setProperty("--fv-box-h", px(box.height));
    }
    this.caption.replaceChildren(...(Array.isArray(caption) ? caption : [caption || ""]));
    this.element.title = title;
  }
}
