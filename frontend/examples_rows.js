// The examples of a layer at one step: a row per unit, its AM picture beside
// its k dataset examples. Clicking a row opens the unit's history, which is
// shown right under that row.
import {clear, el} from "./dom.js";
import {allTied} from "./examples_data.js";
import {ExampleStrip} from "./examples_strip.js";
import {formatValue, plural} from "./format.js";

export class ExampleRows {
  /** `onSelect(unit)` is called when a unit's row is clicked. */
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.rows = new Map();  // unit -> {row, strip, note, slot}
    this.unitsKey = "";
    this.selected = null;
    this.element = el("div", {id: "fv-example-rows", class: "fv-example-rows"});
  }

  /**
   * Shows one step: units: the unit ids (in order); parts(unit): what
   * ExampleStrip.show takes for that unit.
   */
  show(units, parts) {
    const key = units.join(",");
    if (key !== this.unitsKey) this._build(units);
    this.unitsKey = key;
    for (const unit of units) {
      const {row, strip, note} = this.rows.get(unit);
      const shown = parts(unit);
      strip.show(shown);
      const tied = allTied(shown.examples);
      row.dataset.count = String(shown.examples.length);
      row.classList.toggle("fv-tied", tied);
      note.hidden = !(tied || !shown.examples.length);
      note.textContent = !shown.examples.length ? "no examples logged at this step"
          : tied ? `all ${plural(shown.examples.length, "example")} score ` +
                   `${formatValue(shown.examples[0].activation)}: nothing drives this unit ` +
                   "more than any other image (the order and crops are those of ties)"
          : "";
    }
    this.setSelected(this.selected);
  }

  _build(units) {
    const open = this.selected;
    clear(this.element);
    this.rows.clear();
    for (const unit of units) {
      const strip = new ExampleStrip(unit);
      const note = el("span", {class: "fv-muted fv-example-note", hidden: true});
      const row = el("button", {
        class: "fv-example-row", type: "button", dataset: {unit: String(unit)},
        title: `Unit ${unit}: show how its examples changed over training`,
        onclick: () => this.onSelect(unit),
      }, [
        el("span", {class: "fv-example-head"}, [
          el("span", {class: "fv-unit", text: `unit ${unit}`})]),
        el("span", {class: "fv-example-body"}, [strip.element, note]),
      ]);
      const slot = el("div", {class: "fv-example-slot"});
      this.rows.set(unit, {row, strip, note, slot});
      this.element.append(row, slot);
    }
    this.selected = this.rows.has(open) ? open : null;
  }

  /** The element under `unit`'s row where its history goes, or null. */
  slotOf(unit) {
    const parts = this.rows.get(unit);
    return parts ? parts.slot : null;
  }

  /** Highlights `unit`'s row (null: none). */
  setSelected(unit) {
    this.selected = unit;
    for (const [u, {row}] of this.rows) {
      const on = u === unit;
      row.classList.toggle("fv-selected", on);
      row.setAttribute("aria-expanded", String(on));
    }
  }

  reset() {
    clear(this.element);
    this.rows.clear();
    this.unitsKey = "";
  }
}
