// The multifaceted view of one unit: the 2-D embedding of the images that
// drive it, coloured by facet, beside each facet's AM image and mean image.
// The slider moves the points from one step's layout to the next.
import {seriesColor} from "./colors.js";
import {given} from "./deep_link.js";
import {clear, el} from "./dom.js";
import {FacetCards} from "./facets.js";
import {formatStep} from "./format.js";
import {HoverCard} from "./hover_card.js";
import {TILE_SIZES, displaySize} from "./images.js";
import {legend} from "./legend.js";
import {Scatter, unionExtent} from "./scatter.js";
import {SpriteSheet} from "./sprite.js";

const MISSING_COLOR = "#9e9e9e";
const HINT = "Each point is one image that drives the unit, placed by t-SNE of its " +
    "features and coloured by its facet (k-means cluster). Each facet is visualized by " +
    "activation maximization started from the mean of its images. Hover a point to see " +
    "its image.";

/** The number of facets of a step entry (from `k`, else from its images). */
export function facetCount(entry) {
  if (entry && Number.isInteger(entry.k) && entry.k > 0) return entry.k;
  return Math.floor(((entry && entry.images) || []).length / 2);
}

/** The blob key of a step's sprite (the last of 2k+1 images), or null. */
export function spriteKey(entry) {
  const images = (entry && entry.images) || [];
  const k = facetCount(entry);
  return k > 0 && images.length === 2 * k + 1 ? images[2 * k] : null;
}

function colorOf(facet) {
  return Number.isInteger(facet) && facet >= 0 ? seriesColor(facet) : MISSING_COLOR;
}

export class MfvView {
  /** A deep link's unit must be the tag's own (one unit per MFV tag). */
  static fromLink({unit}, info) {
    const units = info && Array.isArray(info.units) ? info.units.map(String) : [];
    if (!given(unit) || units.includes(unit)) return {state: null, notes: []};
    const shown = units.join(", ") || "?";
    return {state: null, notes: [
      `unit “${unit}” is not the unit of this layer (showing unit ${shown})`]};
  }

  /** ctx: {run, tag, info, data, sizeName, pickStep(index), state}. */
  constructor({info, data, sizeName}) {
    this.info = info || {};
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    this.sizeName = sizeName;
    this.index = this.steps.length - 1;
    this.shownIndex = null;
    this.sprites = new Map();  // blob key -> SpriteSheet

    this.hoverCard = new HoverCard();
    this.scatter = new Scatter({
      extent: unionExtent(this.steps.map((entry) => entry.embedding)),
      overlay: this.hoverCard.element, onHover: (index) => this._hover(index),
      label: "Embedding of the images",
    });
    this.facets = new FacetCards((facet) => this.scatter.focusFacet(facet));
    this.legendSlot = el("div", {class: "fv-legend-slot"});
    this.caption = el("figcaption", {id: "fv-scatter-caption", class: "fv-muted"});
    this.element = el("div", {id: "fv-mfv", class: "fv-view"}, [
      el("p", {class: "fv-muted fv-hint", text: HINT}),
      el("div", {class: "fv-mfv-layout"}, [
        el("figure", {class: "fv-scatter-figure"}, [
          this.scatter.element, this.legendSlot, this.caption]),
        this.facets.element,
      ]),
    ]);
  }

  get size() {
    return displaySize(this.info.display_shape, TILE_SIZES[this.sizeName]);
  }

  get thumbSize() {
    return displaySize(this.info.display_shape, Math.max(64, TILE_SIZES[this.sizeName]));
  }

  /** The SpriteSheet of a step entry (cached by key), or null without one. */
  _sprite(entry) {
    const key = spriteKey(entry);
    const shape = this.info.display_shape;
    if (!key || !Array.isArray(shape) || shape.length < 2) return null;
    if (!this.sprites.has(key)) {
      this.sprites.set(key, new SpriteSheet(key, (entry.embedding || []).length, shape));
    }
    return this.sprites.get(key);
  }

  showStep(index) {
    const entry = this.steps[index];
    if (!entry) return;
    const animate = this.shownIndex !== null && this.shownIndex !== index;
    this.index = index;
    this.shownIndex = index;
    const k = facetCount(entry);
    const labels = entry.labels || [];
    const points = entry.embedding || [];
    const counts = new Array(k).fill(0);
    points.forEach((p, i) => {
      if (Array.isArray(p) && Number.isInteger(labels[i]) && labels[i] < k) counts[labels[i]]++;
    });
    this.scatter.setPoints(points, labels, colorOf, {animate, step: entry.step});
    this.facets.show(entry, k, colorOf, counts, this.size);
    clear(this.legendSlot).appendChild(legend(
        counts.map((n, facet) => ({
          label: `facet ${facet}`, color: colorOf(facet), title: `${n} images`,
          dataset: {facet: String(facet)}})),
        {id: "fv-mfv-legend", label: "Facets"}));
    const n = this.scatter.svg.dataset.points;
    this.caption.textContent = `t-SNE embedding of ${n} image${n === "1" ? "" : "s"} at ` +
        `step ${formatStep(entry.step)}, coloured by facet (k = ${k})` +
        (spriteKey(entry) ? "" : " · no thumbnails logged");
    this._hover(this.scatter.hovered);
  }

  _hover(index) {
    if (index === null) {
      this.hoverCard.clear();
      return;
    }
    const entry = this.steps[this.index];
    const facet = (entry.labels || [])[index];
    this.hoverCard.show({index, facet, color: colorOf(facet), sprite: this._sprite(entry),
                         size: this.thumbSize});
  }

  /** New steps of the same tag: the axes take in their points. */
  update({info, data}, {changed}) {
    if (!changed) return;
    this.info = info || {};
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    this.scatter.setExtent(unionExtent(this.steps.map((entry) => entry.embedding)));
  }

  keysOf(index) {
    const entry = this.steps[index];
    if (entry) this._sprite(entry);  // starts loading the next step's thumbnails
    return ((entry && entry.images) || []).filter((key) => key !== spriteKey(entry));
  }

  setSizeName(name) {
    this.sizeName = name;
    this.shownIndex = null;
    this.showStep(this.index);
  }

  state() {
    return {};
  }

  linkParams() {
    return {};
  }

  onEscape() {
    if (this.scatter.hovered === null) return false;
    this.scatter.hover(null);
    return true;
  }

  dispose() {
    this.scatter.dispose();
  }
}
