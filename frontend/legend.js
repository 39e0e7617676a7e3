// A colour legend: a swatch and a label per entry, built from data as text.
import {el} from "./dom.js";

/**
 * items: [{label, color, title?, dataset?}]. Returns a <ul class="fv-legend">;
 * the swatch colour goes in through a CSS variable (no inline style sheet).
 */
export function legend(items, {id = null, label = "Legend"} = {}) {
  const list = el("ul", {id, class: "fv-legend", "aria-label": label});
  for (const item of items) {
    const swatch = el("span", {class: "fv-swatch", "aria-hidden": "true"});
    swatch.style.setProperty("--fv-series", item.color);
    list.appendChild(el("li", {
      class: "fv-legend-item", title: item.title || null, dataset: item.dataset || null,
    }, [swatch, el("span", {class: "fv-legend-label", text: item.label})]));
  }
  return list;
}
