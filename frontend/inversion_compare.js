// "All layers": one probe image and its reconstruction from every inverted
// layer, each at the latest logged step not after the step being shown.
import {clear, el} from "./dom.js";
import {formatStep, formatValue} from "./format.js";
import {setImage, watchForErrors} from "./images.js";

/** A picture slot: an <img> and a text placeholder of the same size. */
function slot(size, alt) {
  const img = watchForErrors(el("img", {
    class: "fv-img fv-compare-img", alt, draggable: "false", hidden: true}));
  const placeholder = el("span", {class: "fv-missing"});
  placeholder.style.width = `${size.width}px`;
  placeholder.style.height = `${size.height}px`;
  return {img, placeholder, frame: el("span", {class: "fv-tile-frame"}, [img, placeholder])};
}

/** Shows blob `key` in `part`, or `text` in its placeholder when key is empty. */
function fill(part, key, size, text) {
  const has = typeof key === "string" && key.length > 0;
  part.img.hidden = !has;
  part.placeholder.hidden = has;
  part.placeholder.textContent = has ? "" : text;
  if (has) setImage(part.img, key, size);
  else part.img.removeAttribute("src");
}

export class LayerComparison {
  /** `onClose()` is called by the Close button. */
  constructor(onClose) {
    this.key = "";
    this.items = [];
    this.title = el("h2", {class: "fv-history-title"});
    this.note = el("span", {class: "fv-muted fv-history-count"});
    this.strip = el("div", {id: "fv-compare-strip", class: "fv-history-strip"});
    this.element = el("section", {
      id: "fv-compare", class: "fv-history fv-compare", hidden: true,
      "aria-label": "Reconstructions from every layer",
    }, [
      el("div", {class: "fv-history-head"}, [
        this.title, this.note,
        el("button", {id: "fv-compare-close", class: "fv-button", type: "button",
                      text: "Close", onclick: onClose}),
      ]),
      this.strip,
    ]);
  }

  /**
   * probe: the image index; original: its blob key (or undefined); step: the
   * step shown; layers: [{tag, layer, color, current, entry (or null), state}]
   * where state is "loading", "failed" or "ready"; size: picture size.
   */
  show({probe, original, step, layers, size}) {
    const key = `${probe}|${layers.map((l) => l.tag).join(",")}|${size.width}x${size.height}`;
    if (key !== this.key) this._build(probe, layers, size);
    this.key = key;
    this.element.hidden = false;
    this.element.dataset.index = String(probe);
    this.element.dataset.step = String(step);
    this.title.textContent = `Image ${probe} from every layer`;
    this.note.textContent = `at step ${formatStep(step)} (or the latest step before it)`;
    fill(this.original, original, size, "not logged");
    layers.forEach((layer, i) => {
      const item = this.items[i];
      const entry = layer.entry;
      const picture = entry && (entry.images || [])[probe];
      let text = "not logged yet";
      let detail = "";
      if (layer.state === "loading") text = "loading…";
      else if (layer.state === "failed") text = "could not load";
      else if (!entry) detail = `no step ≤ ${formatStep(step)}`;
      else if (picture) {
        detail = `step ${formatStep(entry.step)} · error ${
          formatValue((entry.errors || [])[probe])}`;
      }
      fill(item.part, layer.state === "ready" ? picture : "", size, text);
      item.part.img.alt = `image ${probe} from ${layer.layer}`;
      item.detail.textContent = detail;
      item.element.dataset.step = entry ? String(entry.step) : "";
      item.element.classList.toggle("fv-current", Boolean(layer.current));
      if (layer.current) item.element.setAttribute("aria-current", "true");
      else item.element.removeAttribute("aria-current");
    });
  }

  _build(probe, layers, size) {
    clear(this.strip);
    this.original = slot(size, `image ${probe}`);
    this.strip.appendChild(el("figure", {class: "fv-compare-item fv-compare-original"}, [
      this.original.frame,
      el("figcaption", {}, [
        el("span", {class: "fv-compare-name", text: "original"}),
        el("span", {class: "fv-history-step", text: "probe image"}),
      ]),
    ]));
    this.items = layers.map((layer) => {
      const part = slot(size, `image ${probe} from ${layer.layer}`);
      part.img.classList.add("fv-reconstruction-img");
      const detail = el("span", {class: "fv-history-step"});
      const element = el("figure", {
        class: "fv-compare-item fv-compare-layer",
        dataset: {layer: layer.layer, tag: layer.tag},
      }, [
        part.frame,
        el("figcaption", {}, [
          el("span", {class: "fv-compare-name"}, [
            el("span", {class: "fv-swatch", "aria-hidden": "true"}), layer.layer]),
          detail,
        ]),
      ]);
      element.style.setProperty("--fv-series", layer.color);
      this.strip.appendChild(element);
      return {element, part, detail};
    });
  }

  hide() {
    this.element.hidden = true;
    delete this.element.dataset.index;
    this.key = "";
    this.items = [];
    clear(this.strip);
  }
}
