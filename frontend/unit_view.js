// What the views of a layer's units (AM, dataset examples) share: at most one
// unit's history open, toggled by clicking the unit, kept in a deep link's
// `unit` and closed by Escape. A subclass sets `this.unit` (null when none is
// open) and implements openHistory(unit, {scroll}) and closeHistory().
import {unitFromLink} from "./deep_link.js";

export class UnitView {
  /** A deep link's unit: its history is opened, if the tag has that unit. */
  static fromLink(params, info, steps) {
    return unitFromLink(params, info, steps);
  }

  constructor() {
    this.unit = null;
  }

  linkParams() {
    return {unit: this.unit === null ? null : String(this.unit)};
  }

  /** Opens the history of `unit`, or closes it if it is the one open. */
  toggleUnit(unit) {
    if (this.unit === unit) this.closeHistory();
    else this.openHistory(unit, {scroll: true});
  }

  onEscape() {
    if (this.unit === null) return false;
    this.closeHistory();
    return true;
  }
}
