// The inversion view: each probe image beside its reconstruction from the
// chosen layer at the step shown; for a clicked image, its reconstruction from
// every inverted layer; and the mean error of every layer over the steps.
import {fetchSteps} from "./api.js";
import {LineChart} from "./chart.js";
import {seriesColor} from "./colors.js";
import {given, integerIn} from "./deep_link.js";
import {clear, el} from "./dom.js";
import {TILE_SIZES, displaySize} from "./images.js";
import {LayerComparison} from "./inversion_compare.js";
import {InversionPairs} from "./inversion_pairs.js";
import {legend} from "./legend.js";
import {entryAtOrBefore, finiteMean, indexAtOrBefore, naturalCompare} from "./series.js";

const HINT = "Each probe image beside its reconstruction from this layer's features, " +
    "with the normalised feature error ‖φ(x) − φ₀‖² / ‖φ₀‖² (lower is closer). " +
    "Click an image to compare the reconstructions of every layer.";

/** The inversion tags of one run's /tags entry, in layer-name order. */
export function inversionLayers(runTags) {
  return Object.keys(runTags || {})
      .filter((tag) => runTags[tag] && runTags[tag].kind === "inversion")
      .map((tag) => ({tag, layer: runTags[tag].layer || tag}))
      .sort((a, b) => naturalCompare(a.layer, b.layer) ||
                      naturalCompare(a.tag, b.tag))
      .map((layer, i) => ({...layer, color: seriesColor(i)}));
}

/** The inversion layers of `runTags`, with `tag` (the one shown) among them. */
function layersWith(runTags, tag, info) {
  const layers = inversionLayers(runTags);
  if (!layers.some((l) => l.tag === tag)) {
    layers.push({tag, layer: (info && info.layer) || tag, color: seriesColor(layers.length)});
  }
  return layers;
}

export class InversionView {
  /**
   * A deep link's probe (the index of a probe image): its comparison across
   * layers is opened. An inversion has no units.
   */
  static fromLink({probe, unit}, info, steps) {
    const notes = [];
    if (given(unit)) notes.push(`an inversion has no units (unit “${unit}” left out)`);
    if (!given(probe)) return {state: null, notes};
    const latest = (steps || [])[(steps || []).length - 1];
    const count = ((latest && latest.images) || []).length;
    const found = integerIn(probe, [...Array(count).keys()]);
    if (found === null) notes.push(`no probe image “${probe}” (none compared)`);
    return {state: found === null ? null : {probe: found}, notes};
  }

  /** ctx: {run, tag, info, data, runTags, sizeName, pickStep(index), state}. */
  constructor({run, tag, info, data, runTags, sizeName, pickStep, state}) {
    this.run = run;
    this.tag = tag;
    this.info = info || {};
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    this.originals = Array.isArray(data.originals) ? data.originals : [];
    this.sizeName = sizeName;
    this.pickStep = pickStep;
    this.index = this.steps.length - 1;
    this.probe = state && Number.isInteger(state.probe) ? state.probe : null;
    this.disposed = false;
    this.generation = 0;  // of _loadLayers: answers of an older one are dropped
    this.chartKey = null;  // what the chart shows, to redraw it only when it changes

    this.layers = layersWith(runTags, tag, this.info);
    // tag -> {state: "loading" | "ready" | "failed", steps}
    this.layerData = new Map(this.layers.map((l) => [l.tag, {state: "loading", steps: []}]));
    this.layerData.set(tag, {state: "ready", steps: this.steps});

    this.pairs = new InversionPairs((index) => this.toggleProbe(index));
    this.compare = new LayerComparison(() => this.closeCompare());
    this.compareHint = el("p", {id: "fv-compare-hint", class: "fv-muted fv-hint",
                                text: "Click an image to see it reconstructed from every layer."});
    this.chartSlot = el("div", {class: "fv-chart-slot"}, [
      el("p", {class: "fv-muted", text: "Loading the errors of every layer…"})]);
    this.element = el("div", {id: "fv-inversion", class: "fv-view"}, [
      el("p", {class: "fv-muted fv-hint", text: HINT}),
      this.pairs.element,
      this.compareHint,
      this.compare.element,
      el("figure", {id: "fv-inversion-errors", class: "fv-chart-figure"}, [
        this.chartSlot,
        el("figcaption", {class: "fv-muted",
                          text: "Mean normalised feature error of each layer's reconstructions " +
                                "over the training steps (click a point to show that step)"}),
      ]),
    ]);
    this._loadLayers();
  }

  get size() {
    return displaySize(this.info.display_shape, TILE_SIZES[this.sizeName]);
  }

  get compareSize() {
    const target = Math.max(48, Math.round(TILE_SIZES[this.sizeName] * 0.75));
    return displaySize(this.info.display_shape, target);
  }

  /**
   * Fetches the steps of the other inversion layers of the run. On a reload
   * a layer that fails keeps the steps it had.
   */
  async _loadLayers() {
    const generation = ++this.generation;
    await Promise.all(this.layers.filter((l) => l.tag !== this.tag).map(async (layer) => {
      let result;
      try {
        const data = await fetchSteps(this.run, layer.tag);
        result = {state: "ready", steps: Array.isArray(data.steps) ? data.steps : []};
      } catch (error) {
        result = {state: "failed", steps: [], error: error.message};
      }
      if (this.disposed || generation !== this.generation) return;
      const before = this.layerData.get(layer.tag);
      if (result.state === "failed" && before && before.state === "ready") return;
      this.layerData.set(layer.tag, result);
      this._showCompare();
    }));
    if (this.disposed || generation !== this.generation) return;
    this._buildChart();
  }

  /**
   * A reload of the same tag: its new steps and the run's inversion layers
   * (new ones too) are read again; the compared probe stays open.
   */
  update({info, data, runTags}, {changed}) {
    if (changed) {
      this.info = info || {};
      this.steps = Array.isArray(data.steps) ? data.steps : [];
      this.originals = Array.isArray(data.originals) ? data.originals : [];
      this.layerData.set(this.tag, {state: "ready", steps: this.steps});
    }
    const layers = layersWith(runTags, this.tag, this.info);
    for (const layer of layers) {
      if (!this.layerData.has(layer.tag)) {
        this.layerData.set(layer.tag, {state: "loading", steps: []});
      }
    }
    this.layers = layers;
    this._loadLayers();
  }

  _buildChart() {
    const series = this.layers.map((layer) => ({
      name: layer.layer, color: layer.color,
      points: this.layerData.get(layer.tag).steps.map((entry) => ({
        x: entry.step, y: finiteMean(entry.errors), index: entry.step})),
    }));
    const failed = this.layers.filter((l) => this.layerData.get(l.tag).state === "failed");
    const key = JSON.stringify([series, failed.map((l) => l.tag)]);
    if (key === this.chartKey) return;
    this.chartKey = key;
    this.chart = LineChart.multi(series, {
      id: "fv-inversion-chart", yLabel: "mean error", xLabel: "step",
      onPick: (step) => this.pickStep(indexAtOrBefore(this.steps, step)),
    });
    clear(this.chartSlot).append(
        this.chart.element,
        legend(this.layers.map((layer) => ({
          label: layer.layer, color: layer.color, title: layer.tag,
          dataset: {layer: layer.layer}})), {id: "fv-inversion-legend", label: "Layers"}));
    if (failed.length) {
      this.chartSlot.appendChild(el("p", {
        class: "fv-error", role: "alert",
        text: `Could not load ${failed.map((l) => l.layer).join(", ")}.`}));
    }
    const entry = this.steps[this.index];
    this.chart.setCurrent(entry && entry.step);
  }

  showStep(index) {
    const entry = this.steps[index];
    if (!entry) return;
    this.index = index;
    if (this.probe !== null && this.probe >= (entry.images || []).length) this.probe = null;
    this.pairs.show(entry, this.originals, this.size);
    this.pairs.setSelected(this.probe);
    this._showCompare();
    if (this.chart) this.chart.setCurrent(entry.step);
  }

  _showCompare() {
    const entry = this.steps[this.index];
    this.compareHint.hidden = this.probe !== null;
    if (this.probe === null || !entry) {
      this.compare.hide();
      return;
    }
    this.compare.show({
      probe: this.probe, original: this.originals[this.probe], step: entry.step,
      size: this.compareSize,
      layers: this.layers.map((layer) => {
        const data = this.layerData.get(layer.tag);
        return {...layer, current: layer.tag === this.tag, state: data.state,
                entry: entryAtOrBefore(data.steps, entry.step)};
      }),
    });
  }

  toggleProbe(index) {
    this.probe = this.probe === index ? null : index;
    this.pairs.setSelected(this.probe);
    this._showCompare();
    if (this.probe !== null && this.compare.element.scrollIntoView) {
      this.compare.element.scrollIntoView({block: "nearest", behavior: "smooth"});
    }
  }

  closeCompare() {
    this.probe = null;
    this.pairs.setSelected(null);
    this._showCompare();
  }

  keysOf(index) {
    const entry = this.steps[index];
    return (entry && entry.images) || [];
  }

  setSizeName(name) {
    this.sizeName = name;
    this.showStep(this.index);
  }

  state() {
    return {probe: this.probe};
  }

  linkParams() {
    return {probe: this.probe === null ? null : String(this.probe)};
  }

  onEscape() {
    if (this.probe === null) return false;
    this.closeCompare();
    return true;
  }

  dispose() {
    this.disposed = true;
  }
}
