// The k facets of a unit at one step: each facet's AM image beside the mean
// image it started from, with the unit's value for both, in the facet's colour,
// and how faithful the facet image is to its facet when the record says.
import {clear, el} from "./dom.js";
import {FidelityLines, facetFidelity} from "./fidelity.js";
import {formatValue} from "./format.js";
import {setImage, watchForErrors} from "./images.js";

function picture(className, alt, size) {
  return watchForErrors(el("img", {class: `fv-img ${className}`, alt, draggable: "false",
                                   width: size.width, height: size.height}));
}

function valueText(node, value) {
  node.textContent = formatValue(value);
  node.title = typeof value === "number" ? String(value) : "not recorded";
}

export class FacetCards {
  /** `onFocus(facet or null)` is called when a card is hovered or focused. */
  constructor(onFocus) {
    this.onFocus = onFocus;
    this.cards = [];
    this.key = "";
    this.element = el("div", {id: "fv-facets", class: "fv-facets"});
  }

  /**
   * entry: one /steps entry; k: the number of facets; colorOf(facet);
   * counts[facet]: how many embedded images it has; size: picture size.
   */
  show(entry, k, colorOf, counts, size) {
    const key = `${k}|${size.width}x${size.height}`;
    if (key !== this.key) this._build(k, colorOf, size);
    this.key = key;
    const images = entry.images || [];
    this.cards.forEach((card, i) => {
      if (images[i]) setImage(card.facet, images[i], size);
      if (images[k + i]) setImage(card.mean, images[k + i], size);
      valueText(card.activation, (entry.activations || [])[i]);
      valueText(card.meanActivation, (entry.mean_activations || [])[i]);
      const n = counts[i] || 0;
      card.count.textContent = `${n} image${n === 1 ? "" : "s"}`;
      card.element.dataset.count = String(n);
      card.fidelity.show(i, facetFidelity(entry, i));
    });
  }

  _build(k, colorOf, size) {
    clear(this.element);
    this.cards = [];
    for (let i = 0; i < k; i++) {
      const facet = picture("fv-facet-img", `facet ${i}`, size);
      const mean = picture("fv-mean-img", `mean image of facet ${i}`, size);
      const activation = el("span", {class: "fv-activation"});
      const meanActivation = el("span", {class: "fv-activation fv-mean-activation"});
      const count = el("span", {class: "fv-muted fv-facet-count"});
      const fidelity = new FidelityLines(colorOf);
      const element = el("article", {
        class: "fv-facet", tabindex: "0", dataset: {facet: String(i)},
        "aria-label": `Facet ${i}`,
        onpointerenter: () => this.onFocus(i), onpointerleave: () => this.onFocus(null),
        onfocus: () => this.onFocus(i), onblur: () => this.onFocus(null),
      }, [
        el("header", {class: "fv-facet-head"}, [
          el("span", {class: "fv-swatch", "aria-hidden": "true"}),
          el("span", {class: "fv-facet-name", text: `facet ${i}`}), count]),
        el("div", {class: "fv-facet-images"}, [
          el("figure", {class: "fv-facet-cell"}, [
            el("span", {class: "fv-tile-frame"}, [facet]),
            el("figcaption", {}, [
              el("span", {class: "fv-cell-caption", text: "facet image"}),
              el("span", {class: "fv-value-line"}, [
                el("span", {class: "fv-muted", text: "activation "}), activation]),
            ]),
          ]),
          el("figure", {class: "fv-facet-cell fv-mean-cell"}, [
            el("span", {class: "fv-tile-frame"}, [mean]),
            el("figcaption", {}, [
              el("span", {class: "fv-cell-caption", text: "mean image"}),
              el("span", {class: "fv-value-line"}, [
                el("span", {class: "fv-muted", text: "mean activation "}), meanActivation]),
            ]),
          ]),
        ]),
        fidelity.element,
      ]);
      element.style.setProperty("--fv-series", colorOf(i));
      this.cards.push({element, facet, mean, activation, meanActivation, count, fidelity});
      this.element.appendChild(element);
    }
  }
}
