// How faithful an MFV facet image is to its facet, from three per-facet
// arrays of the step record (absent in older logs, which show nothing):
// facet_nearest (the cluster whose centroid the facet image is nearest to, by
// cosine, in the embedding layer's features), facet_similarity (its cosine to
// its own cluster's centroid) and cluster_best (the best activation of a real
// image of its cluster).
import {el} from "./dom.js";
import {formatValue} from "./format.js";

const finite = (value) => typeof value === "number" && Number.isFinite(value);

/** Whether a step entry carries any fidelity numbers. */
export function hasFidelity(entry) {
  return ["facet_nearest", "facet_similarity", "cluster_best"].some(
      (name) => Array.isArray(entry && entry[name]) && entry[name].length > 0);
}

/**
 * Facet `facet`'s fidelity in a step entry: {nearest, stays, similarity,
 * best, ratio} (each null when not recorded; ratio = the facet's activation
 * over the best real image's, when that is positive), or null for a record
 * without fidelity numbers.
 */
export function facetFidelity(entry, facet) {
  if (!hasFidelity(entry)) return null;
  const at = (name) => (Array.isArray(entry[name]) ? entry[name][facet] : undefined);
  const nearest = Number.isInteger(at("facet_nearest")) ? at("facet_nearest") : null;
  const similarity = finite(at("facet_similarity")) ? at("facet_similarity") : null;
  const best = finite(at("cluster_best")) ? at("cluster_best") : null;
  const activation = (entry.activations || [])[facet];
  const ratio = best !== null && best > 0 && finite(activation) ? activation / best : null;
  return {nearest, stays: nearest === null ? null : nearest === facet, similarity, best,
          ratio, activation: finite(activation) ? activation : null};
}

/** The fidelity lines of one facet card; `colorOf(facet)` colours a drift's swatch. */
export class FidelityLines {
  constructor(colorOf) {
    this.colorOf = colorOf;
    this.stays = el("span", {class: "fv-fidelity-stays"});
    this.similarity = el("span", {class: "fv-fidelity-similarity"});
    this.ratio = el("span", {class: "fv-fidelity-ratio"});
    this.element = el("p", {class: "fv-fidelity", hidden: true}, [
      el("span", {class: "fv-cell-caption", text: "fidelity of the facet image"}),
      this.stays, this.similarity, this.ratio]);
  }

  /** Shows facet `facet`'s fidelity (null: hides the lines). */
  show(facet, fidelity) {
    this.element.hidden = !fidelity;
    if (!fidelity) return;
    const data = this.element.dataset;
    data.stays = fidelity.stays === null ? "" : String(fidelity.stays);
    data.nearest = fidelity.nearest === null ? "" : String(fidelity.nearest);
    this.stays.classList.toggle("fv-drifts", fidelity.stays === false);
    if (fidelity.stays === null) {
      this.stays.replaceChildren();
    } else if (fidelity.stays) {
      this.stays.replaceChildren("stays in its facet");
      this.stays.title = `Nearest (by cosine, in the embedding layer) to facet ${facet}'s ` +
          "own centroid";
    } else {
      const swatch = el("span", {class: "fv-swatch", "aria-hidden": "true"});
      swatch.style.setProperty("--fv-series", this.colorOf(fidelity.nearest));
      this.stays.replaceChildren(`drifts to facet ${fidelity.nearest} `, swatch);
      this.stays.title = `Nearer (by cosine, in the embedding layer) to facet ` +
          `${fidelity.nearest}'s centroid than to facet ${facet}'s own`;
    }
    this.stays.hidden = fidelity.stays === null;
    this.similarity.hidden = fidelity.similarity === null;
    this.similarity.textContent = fidelity.similarity === null ? ""
        : `cosine ${formatValue(fidelity.similarity)} to its centroid`;
    this.similarity.title = fidelity.similarity === null ? ""
        : `Cosine similarity to facet ${facet}'s centroid: ${fidelity.similarity}`;
    this.ratio.hidden = fidelity.best === null;
    this.ratio.textContent = fidelity.ratio !== null
        ? `${formatValue(fidelity.ratio)}× the best image`
        : fidelity.best !== null ? `best real image ${formatValue(fidelity.best)}` : "";
    this.ratio.title = fidelity.best === null ? ""
        : `Activation ${fidelity.activation === null ? "not recorded" : fidelity.activation}` +
          ` against ${fidelity.best}, the best real image of facet ${facet}`;
  }
}
