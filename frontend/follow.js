// Follow-latest: when a reload brings new steps of the series shown, a slider
// that stood on the latest step moves to the new latest one; a slider the user
// put elsewhere stays on its step, and a button says how many steps came since
// the user last saw the latest one ("3 new steps") and jumps there.
import {el} from "./dom.js";
import {plural} from "./format.js";
import {nearestIndex} from "./series.js";

/**
 * Where the slider goes when the series is read again.
 *
 * previous: the step numbers before (ascending); index: where the slider
 * stood in them; steps: the step numbers now; baseline: the latest step the
 * user has seen as the latest (null: previous's last). Returns {index,
 * baseline, unseen}: the slider's new index, the new baseline and how many
 * steps are newer than it.
 */
export function followLatest({previous, index, steps, baseline = null}) {
  if (!steps.length) return {index: 0, baseline: null, unseen: 0};
  const last = steps.length - 1;
  if (!previous.length || index >= previous.length - 1) {
    return {index: last, baseline: steps[last], unseen: 0};
  }
  const seen = baseline === null ? previous[previous.length - 1] : baseline;
  const stay = nearestIndex(steps, previous[Math.max(0, index)]);
  return {index: stay, baseline: seen, unseen: steps.filter((step) => step > seen).length};
}

/** The "N new steps" button; hidden while there are none. */
export class NewStepsButton {
  /** `onJump()` is called when it is clicked. */
  constructor(onJump) {
    this.element = el("button", {
      id: "fv-new-steps", class: "fv-button fv-new-steps", type: "button", hidden: true,
      title: "Show the latest step", onclick: () => onJump(),
    });
    this.count = 0;
  }

  /** Shows `count` new steps (0 hides the button). */
  show(count) {
    this.count = count;
    this.element.hidden = count <= 0;
    this.element.dataset.count = String(count);
    this.element.textContent = count > 0 ? `${plural(count, "new step")} ›` : "";
  }
}
