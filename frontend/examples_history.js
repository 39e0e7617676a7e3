// One unit's examples over training: a row per logged step (its number, the
// unit's AM picture then, its k examples), the step shown highlighted; a
// click on a row shows that step. Reading down a column shows when the unit
// settles on what drives it.
import {el} from "./dom.js";
import {ExampleStrip} from "./examples_strip.js";
import {formatStep, plural} from "./format.js";

export class ExamplesHistory {
  /**
   * unit: the unit id; layer, run: for the title; steps: the tag's /steps
   * "steps"; parts(index): what ExampleStrip.show takes for the unit at step
   * `index` (null: the step has no row for the unit); onPick(index): show
   * that step; onClose().
   */
  constructor({unit, layer, run, steps, parts, onPick, onClose}) {
    this.unit = unit;
    this.parts = parts;
    this.items = [];
    this.list = el("div", {id: "fv-example-history-list", class: "fv-example-history-list"});
    steps.forEach((entry, index) => {
      const strip = new ExampleStrip(unit);
      const row = el("button", {
        class: "fv-example-step", type: "button",
        title: `Show step ${formatStep(entry.step)}`,
        dataset: {step: String(entry.step), index: String(index)},
        onclick: () => onPick(index),
      }, [
        el("span", {class: "fv-example-head"}, [
          el("span", {class: "fv-history-step", text: `step ${formatStep(entry.step)}`})]),
        strip.element,
      ]);
      this.items.push({index, row, strip});
      this.list.appendChild(row);
    });
    this.count = el("span", {class: "fv-muted fv-history-count"});
    this.refresh();
    this.element = el("section", {
      id: "fv-example-history", class: "fv-history fv-example-history",
      dataset: {unit: String(unit)}, "aria-label": `Examples of unit ${unit} over training`,
    }, [
      el("div", {class: "fv-history-head"}, [
        el("h2", {class: "fv-history-title"}, [
          `Unit ${unit} over training`,
          el("span", {class: "fv-muted", text: ` · ${layer || ""} · ${run}`}),
        ]),
        this.count,
        el("button", {id: "fv-example-history-close", class: "fv-button", type: "button",
                      text: "Close", onclick: onClose}),
      ]),
      this.list,
    ]);
  }

  /** Draws every step again (new AM data, another crop mode). */
  refresh() {
    let logged = 0;
    for (const {index, row, strip} of this.items) {
      const shown = this.parts(index);
      row.hidden = !shown;
      if (shown) {
        strip.show(shown);
        logged++;
      }
    }
    this.count.textContent = plural(logged, "step");
  }

  /** Highlights the step shown by the slider and brings its row into the list's view. */
  setCurrent(index) {
    let current = null;
    for (const {index: i, row} of this.items) {
      const on = i === index;
      row.classList.toggle("fv-current", on);
      if (on) {
        row.setAttribute("aria-current", "step");
        current = row;
      } else {
        row.removeAttribute("aria-current");
      }
    }
    if (current) this._reveal(current);
  }

  /** Scrolls the list (not the page) so that `row` is in it (the list is its offsetParent). */
  _reveal(row) {
    const list = this.list;
    const top = row.offsetTop;
    const bottom = top + row.offsetHeight;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (bottom > list.scrollTop + list.clientHeight) {
      list.scrollTop = bottom - list.clientHeight;
    }
  }
}
