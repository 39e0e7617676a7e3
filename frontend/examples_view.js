// The dataset-examples view: for each unit of a layer, its AM picture (from
// the AM tag of the same layer and run) beside the probe images that drive it
// most, at the step shown; feature-map examples cropped to the receptive
// field of the strongest position, or whole with that box marked. A clicked
// unit shows its examples at every logged step.
import {fetchSteps} from "./api.js";
import {clear, el} from "./dom.js";
import {amPicture, amTagOf, stepKeys, unitExamples} from "./examples_data.js";
import {ExamplesHistory} from "./examples_history.js";
import {ExampleRows} from "./examples_rows.js";
import {TILE_SIZES} from "./images.js";
import {UnitView} from "./unit_view.js";

/** Whether a tag's examples can be cropped: a 2-D grid and a receptive field. */
export function hasCrops(info) {
  const pair = (v) => Array.isArray(v) && v.length === 2 && v.every((x) => x > 0);
  return Boolean(info) && pair(info.grid_shape) && pair(info.receptive_field) &&
      Array.isArray(info.display_shape) && info.display_shape.length >= 2;
}

function hintText(info) {
  const base = "Each unit's activation-maximization picture (AM), then the probe images " +
      "that drive it most, best first, each with its activation (the objective AM " +
      "maximizes).";
  const click = " Click a unit to see its examples at every logged step.";
  if (!hasCrops(info)) return base + click;
  const [h, w] = info.receptive_field;
  return `${base} Each example is cropped to the ${h}×${w}-pixel receptive field of the ` +
      "position where the unit responds most (hatched: outside the image)." + click;
}

export class ExamplesView extends UnitView {
  /** ctx: {run, tag, info, data, runTags, sizeName, pickStep(index), state}. */
  constructor({run, info, data, runTags, sizeName, pickStep, state}) {
    super();
    this.run = run;
    this.info = info || {};
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    this.originals = Array.isArray(data.originals) ? data.originals : [];
    this.sizeName = sizeName;
    this.pickStep = pickStep;
    this.index = this.steps.length - 1;
    this.mode = state && state.mode === "whole" ? "whole" : "crop";
    this.history = null;
    this.restoreUnit = state && Number.isInteger(state.unit) ? state.unit : null;
    this.disposed = false;
    this.generation = 0;  // of _loadAm: answers of an older one are dropped
    this.am = {tag: null, info: null, state: "none", steps: []};
    this._findAm(runTags);

    this.hint = el("p", {id: "fv-examples-hint", class: "fv-muted fv-hint"});
    this.wholeBox = el("input", {
      id: "fv-example-whole", type: "checkbox", checked: this.mode === "whole",
      onchange: () => this.setMode(this.wholeBox.checked ? "whole" : "crop"),
    });
    this.wholeToggle = el("label", {class: "fv-field fv-check", for: "fv-example-whole"}, [
      this.wholeBox, el("span", {text: "Whole images, receptive field marked"})]);
    this.rows = new ExampleRows((unit) => this.toggleUnit(unit));
    this.spareSlot = el("div", {id: "fv-example-spare-slot"});
    this.element = el("div", {id: "fv-examples", class: "fv-view"}, [
      this.hint, el("div", {class: "fv-example-controls"}, [this.wholeToggle]),
      this.rows.element, this.spareSlot,
    ]);
    this._showControls();
    this._loadAm();
  }

  get target() {
    return TILE_SIZES[this.sizeName];
  }

  get historyTarget() {
    return Math.max(48, Math.round(TILE_SIZES[this.sizeName] * 0.75));
  }

  /**
   * Picks the AM tag of the same layer from the run's tags (keeping its
   * loaded steps); returns whether it is another tag than before.
   */
  _findAm(runTags) {
    const tag = amTagOf(runTags, this.info.layer);
    if (tag === this.am.tag) {
      this.am.info = tag ? runTags[tag] : null;
      return false;
    }
    this.am = {tag, info: tag ? runTags[tag] : null, state: tag ? "loading" : "none",
               steps: []};
    return true;
  }

  /**
   * Fetches the AM tag's steps, then draws again. On a reload a failure keeps
   * the steps it had.
   */
  async _loadAm() {
    const generation = ++this.generation;
    const tag = this.am.tag;
    if (!tag) return;
    let result;
    try {
      const data = await fetchSteps(this.run, tag);
      result = {state: "ready", steps: Array.isArray(data.steps) ? data.steps : []};
    } catch (error) {
      result = {state: "failed", steps: []};
    }
    if (this.disposed || generation !== this.generation || tag !== this.am.tag) return;
    if (result.state === "failed" && this.am.state === "ready") return;
    const changed = JSON.stringify(result.steps) !== JSON.stringify(this.am.steps) ||
        result.state !== this.am.state;
    this.am = {...this.am, ...result};
    if (changed) this._redraw();
  }

  _showControls() {
    this.hint.textContent = hintText(this.info);
    this.wholeToggle.hidden = !hasCrops(this.info);
    this.wholeBox.checked = this.mode === "whole";
  }

  /** What ExampleStrip.show takes for `unit` at step entry `entry`. */
  _parts(entry, unit, target) {
    let amState = this.am.state;
    if (amState === "ready") {
      amState = this.am.steps.some((s) => (s.units || []).includes(unit)) ? "later" : "absent";
    }
    return {
      step: entry.step, am: amPicture(this.am.steps, entry.step, unit), amState,
      examples: unitExamples(entry, unit), originals: this.originals, info: this.info,
      amInfo: this.am.info, mode: hasCrops(this.info) ? this.mode : "whole", target,
    };
  }

  showStep(index) {
    const entry = this.steps[index];
    if (!entry) return;
    this.index = index;
    const target = this.target;
    this.rows.show(entry.units || [], (unit) => this._parts(entry, unit, target));
    if (this.restoreUnit !== null) {
      const unit = this.restoreUnit;
      this.restoreUnit = null;
      this.openHistory(unit);
    } else if (this.history) {
      this._placeHistory();
    }
    if (this.history) this.history.setCurrent(index);
  }

  /** Draws the step shown and the open history again. */
  _redraw() {
    this.showStep(this.index);
    if (this.history) this.history.refresh();
  }

  /**
   * A reload of the same tag: new steps redraw the open history; the AM
   * tag's steps are read again either way (they may have come meanwhile).
   */
  update({info, data, runTags}, {changed}) {
    if (changed) {
      this.info = info || {};
      this.steps = Array.isArray(data.steps) ? data.steps : [];
      this.originals = Array.isArray(data.originals) ? data.originals : [];
      this._showControls();
      if (this.unit !== null) this.openHistory(this.unit);
    }
    if (this._findAm(runTags)) this._redraw();
    this._loadAm();
  }

  keysOf(index) {
    return stepKeys(this.steps[index], this.originals, this.am.steps);
  }

  setSizeName(name) {
    this.sizeName = name;
    this.rows.reset();
    this.showStep(this.index);
    if (this.unit !== null) this.openHistory(this.unit);
  }

  setMode(mode) {
    this.mode = mode;
    this.wholeBox.checked = mode === "whole";
    this._redraw();
  }

  state() {
    return {unit: this.unit, mode: this.mode};
  }

  openHistory(unit, {scroll = false} = {}) {
    if (this.history) this.history.element.remove();
    this.unit = unit;
    this.rows.setSelected(unit);
    const target = this.historyTarget;
    this.history = new ExamplesHistory({
      unit, layer: this.info.layer, run: this.run, steps: this.steps,
      parts: (index) => {
        const entry = this.steps[index];
        return (entry.units || []).includes(unit) ? this._parts(entry, unit, target) : null;
      },
      onPick: (index) => this.pickStep(index),
      onClose: () => this.closeHistory(),
    });
    this._placeHistory();
    this.history.setCurrent(this.index);
    if (scroll && this.history.element.scrollIntoView) {
      this.history.element.scrollIntoView({block: "nearest", behavior: "smooth"});
    }
  }

  /** Puts the open history under its unit's row (after the rows if it has none). */
  _placeHistory() {
    const slot = this.rows.slotOf(this.unit) || this.spareSlot;
    if (this.history.element.parentNode === slot) return;
    this.history.element.remove();
    clear(slot).appendChild(this.history.element);
  }

  closeHistory() {
    if (this.history) this.history.element.remove();
    this.unit = null;
    this.history = null;
    this.rows.setSelected(null);
  }

  dispose() {
    this.disposed = true;
  }
}
