// The activation-maximization view: the grid of unit images at one step and,
// for a clicked unit, its history.
import {clear, el} from "./dom.js";
import {Grid} from "./grid.js";
import {History} from "./history.js";
import {TILE_SIZES, displaySize} from "./images.js";
import {UnitView} from "./unit_view.js";

/**
 * Every view (see kinds.js) is built from one /steps answer and has: element,
 * showStep(index), update(ctx, {changed}) (a reload of the same tag: new
 * steps, kept selection; the owner then calls showStep), setSizeName(name),
 * keysOf(index) (pictures to prefetch), state() (what a rebuild keeps),
 * linkParams() (its keys of a deep link), onEscape() (true if it closed
 * something) and dispose(); and a static fromLink(params, info, steps) that
 * turns a deep link's keys into {state, notes}.
 */
export class AmView extends UnitView {
  /** ctx: {run, tag, info, data, sizeName, pickStep(index), state}. */
  constructor({run, info, data, sizeName, pickStep, state}) {
    super();
    this.run = run;
    this.info = info || {};
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    this.sizeName = sizeName;
    this.pickStep = pickStep;
    this.index = this.steps.length - 1;
    this.history = null;
    this.grid = new Grid((unit) => this.toggleUnit(unit));
    this.historySlot = el("div", {id: "fv-history-slot"});
    this.element = el("div", {id: "fv-am", class: "fv-view"}, [this.grid.element,
                                                               this.historySlot]);
    this.restoreUnit = state && state.unit !== undefined ? state.unit : null;
  }

  get size() {
    return displaySize(this.info.display_shape, TILE_SIZES[this.sizeName]);
  }

  get historySize() {
    const target = Math.max(48, Math.round(TILE_SIZES[this.sizeName] * 0.75));
    return displaySize(this.info.display_shape, target);
  }

  showStep(index) {
    const entry = this.steps[index];
    if (!entry) return;
    this.index = index;
    this.grid.show(entry, this.size);
    if (this.restoreUnit !== null) {
      const unit = this.restoreUnit;
      this.restoreUnit = null;
      this.openHistory(unit);
    }
    if (this.history) this.history.setCurrent(index, entry.step);
  }

  /** New steps of the same tag: the open history is drawn again with them. */
  update({info, data}, {changed}) {
    if (!changed) return;
    this.info = info || {};
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    if (this.unit !== null) this.openHistory(this.unit);
  }

  keysOf(index) {
    const entry = this.steps[index];
    return (entry && entry.images) || [];
  }

  setSizeName(name) {
    this.sizeName = name;
    this.grid.reset();
    this.showStep(this.index);
    if (this.unit !== null) this.openHistory(this.unit);
  }

  state() {
    return {unit: this.unit};
  }

  openHistory(unit, {scroll = false} = {}) {
    this.unit = unit;
    this.grid.setSelected(unit);
    this.history = new History({
      unit, run: this.run, info: this.info, steps: this.steps, size: this.historySize,
      onPick: (index) => this.pickStep(index),
      onClose: () => this.closeHistory(),
    });
    clear(this.historySlot).appendChild(this.history.element);
    const entry = this.steps[this.index];
    this.history.setCurrent(this.index, entry && entry.step);
    if (scroll && this.history.element.scrollIntoView) {
      this.history.element.scrollIntoView({block: "nearest", behavior: "smooth"});
    }
  }

  closeHistory() {
    this.unit = null;
    this.history = null;
    this.grid.setSelected(null);
    clear(this.historySlot);
  }

  dispose() {}
}
