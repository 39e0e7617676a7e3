// The inversion grid: each probe image beside its reconstruction at one step,
// labelled with the normalised feature error.
import {clear, el} from "./dom.js";
import {formatValue} from "./format.js";
import {setImage, watchForErrors} from "./images.js";

const ERROR_TITLE = "Normalised feature error ‖φ(x) − φ₀‖² / ‖φ₀‖²";

function cell(kind, caption, size) {
  const img = watchForErrors(el("img", {
    class: `fv-img fv-${kind}-img`, alt: caption, draggable: "false",
    width: size.width, height: size.height}));
  const missing = el("span", {class: "fv-missing", text: "not logged", hidden: true});
  missing.style.width = `${size.width}px`;
  missing.style.height = `${size.height}px`;
  const element = el("span", {class: `fv-pair-cell fv-${kind}`}, [
    el("span", {class: "fv-tile-frame"}, [img, missing]),
    el("span", {class: "fv-cell-caption", text: caption}),
  ]);
  return {element, img, missing};
}

/** Shows `key` in a cell, or its "not logged" placeholder when there is none. */
function fill(part, key, size) {
  const has = typeof key === "string" && key.length > 0;
  part.img.hidden = !has;
  part.missing.hidden = has;
  if (has) setImage(part.img, key, size);
}

export class InversionPairs {
  /** `onPick(index)` is called when a pair is clicked. */
  constructor(onPick) {
    this.onPick = onPick;
    this.pairs = [];
    this.key = "";
    this.selected = null;
    this.element = el("div", {id: "fv-inv-pairs", class: "fv-grid fv-pairs"});
  }

  /** Shows one step's entry ({images, errors}) beside `originals` (blob keys). */
  show(entry, originals, size) {
    const count = (entry.images || []).length;
    const key = `${count}|${size.width}x${size.height}`;
    if (key !== this.key) this._build(count, size);
    this.key = key;
    this.pairs.forEach((pair, i) => {
      fill(pair.original, (originals || [])[i], size);
      fill(pair.reconstruction, entry.images[i], size);
      const error = (entry.errors || [])[i];
      pair.error.textContent = formatValue(error);
      pair.error.title = typeof error === "number" ? `${ERROR_TITLE}: ${error}` : "not recorded";
      pair.element.dataset.error = typeof error === "number" ? String(error) : "";
    });
    this.setSelected(this.selected);
  }

  _build(count, size) {
    clear(this.element);
    this.pairs = [];
    for (let i = 0; i < count; i++) {
      const original = cell("original", "original", size);
      const reconstruction = cell("reconstruction", "reconstruction", size);
      const error = el("span", {class: "fv-error-value"});
      const element = el("button", {
        class: "fv-tile fv-pair", type: "button", dataset: {index: String(i)},
        title: `Image ${i}: compare its reconstructions from every layer`,
        onclick: () => this.onPick(i),
      }, [
        el("span", {class: "fv-pair-images"}, [original.element, reconstruction.element]),
        el("span", {class: "fv-tile-label"}, [
          el("span", {class: "fv-unit", text: `image ${i}`}),
          el("span", {class: "fv-error-label"}, [
            el("span", {class: "fv-muted", text: "error "}), error]),
        ]),
      ]);
      this.pairs.push({element, original, reconstruction, error});
      this.element.appendChild(element);
    }
  }

  /** Highlights pair `index` (null: none). */
  setSelected(index) {
    this.selected = index;
    this.pairs.forEach((pair, i) => {
      const on = i === index;
      pair.element.classList.toggle("fv-selected", on);
      pair.element.setAttribute("aria-pressed", String(on));
    });
  }
}
