// The step slider with play/pause: moves through the logged training steps.
import {el} from "./dom.js";
import {formatStep} from "./format.js";

/** Milliseconds each step stays on screen while playing. */
export const PLAY_INTERVAL_MS = 700;

export class Player {
  /** `onStep(index)` is called whenever the shown step changes. */
  constructor(onStep) {
    this.onStep = onStep;
    this.steps = [];
    this.index = 0;
    this.timer = null;
    this.slider = el("input", {
      id: "fv-step-slider", class: "fv-slider", type: "range", min: 0, max: 0,
      step: 1, value: 0, "aria-label": "Training step",
      oninput: () => { this.pause(); this.show(Number(this.slider.value)); },
    });
    this.playButton = el("button", {
      id: "fv-play", class: "fv-button fv-play", type: "button",
      "aria-pressed": "false", onclick: () => this.toggle(),
    });
    this.prevButton = el("button", {
      id: "fv-prev", class: "fv-button fv-icon", type: "button", title: "Previous step",
      "aria-label": "Previous step", text: "‹",
      onclick: () => { this.pause(); this.show(this.index - 1); },
    });
    this.nextButton = el("button", {
      id: "fv-next", class: "fv-button fv-icon", type: "button", title: "Next step",
      "aria-label": "Next step", text: "›",
      onclick: () => { this.pause(); this.show(this.index + 1); },
    });
    this.label = el("span", {id: "fv-step-label", class: "fv-step-label", "aria-live": "polite"});
    this.position = el("span", {id: "fv-step-position", class: "fv-muted"});
    this.element = el("div", {class: "fv-player"}, [
      this.playButton, this.prevButton, this.slider, this.nextButton,
      el("span", {class: "fv-step-text"}, [this.label, this.position]),
    ]);
    this._updatePlayButton();
  }

  /** Sets the step numbers (oldest first) and shows `index` (default: the latest). */
  setSteps(steps, index) {
    this.pause();
    this._setSteps(steps, index);
  }

  /**
   * New step numbers of the same series (a reload): shows `index` without
   * telling the owner, and goes on playing if it was.
   */
  update(steps, index) {
    this._setSteps(steps, index);
    if (steps.length <= 1) this.pause();
  }

  _setSteps(steps, index) {
    this.steps = steps.slice();
    this.slider.max = String(Math.max(0, steps.length - 1));
    const disabled = steps.length <= 1;
    for (const control of [this.slider, this.playButton, this.prevButton, this.nextButton]) {
      control.disabled = disabled;
    }
    this.show(index === undefined ? steps.length - 1 : index, {silent: true});
  }

  get step() {
    return this.steps[this.index];
  }

  /** Shows step number `index` (clamped) and tells the owner unless `silent`. */
  show(index, {silent = false} = {}) {
    if (!this.steps.length) {
      this.index = 0;
      this.label.textContent = "No steps";
      this.label.removeAttribute("data-step");
      this.position.textContent = "";
      return;
    }
    const clamped = Math.min(Math.max(0, Math.round(index)), this.steps.length - 1);
    this.index = clamped;
    this.slider.value = String(clamped);
    const step = this.steps[clamped];
    this.label.textContent = `Step ${formatStep(step)}`;
    this.label.dataset.step = String(step);
    this.position.textContent = `${clamped + 1} of ${this.steps.length}`;
    this.prevButton.disabled = clamped === 0;
    this.nextButton.disabled = clamped === this.steps.length - 1;
    if (!silent) this.onStep(clamped);
  }

  get playing() {
    return this.timer !== null;
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  /** Plays from the current step (from the first one when at the end). */
  play() {
    if (this.steps.length <= 1 || this.playing) return;
    if (this.index >= this.steps.length - 1) this.show(0);
    this.timer = setInterval(() => this._tick(), PLAY_INTERVAL_MS);
    this._updatePlayButton();
  }

  pause() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this._updatePlayButton();
  }

  _tick() {
    if (this.index >= this.steps.length - 1) {
      this.pause();
      return;
    }
    this.show(this.index + 1);
    if (this.index >= this.steps.length - 1) this.pause();
  }

  _updatePlayButton() {
    const playing = this.playing;
    this.playButton.textContent = playing ? "❚❚ Pause" : "▶ Play";
    this.playButton.setAttribute("aria-pressed", String(playing));
    this.playButton.title = playing ? "Pause" : "Play through the training steps";
  }
}
