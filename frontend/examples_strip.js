// A unit's pictures at one step, in a line: its AM picture, then its k
// dataset examples best first, each labelled with its activation. Used for a
// unit's row at the step shown and for every step of its history.
import {receptiveBox, exampleLayout} from "./crops.js";
import {el} from "./dom.js";
import {formatStep, formatValue} from "./format.js";
import {PictureTile} from "./examples_tile.js";

/** What the AM slot says when there is no picture, by the AM data's state. */
const AM_MISSING = {
  none: "no AM of this layer", absent: "no AM of this unit", later: "no AM yet",
  loading: "loading…", failed: "could not load",
};

function valueNode(value) {
  return el("span", {class: "fv-activation", text: formatValue(value),
                     title: typeof value === "number" ? String(value) : "not recorded"});
}

export class ExampleStrip {
  /** unit: the unit id, for the pictures' text alternatives. */
  constructor(unit) {
    this.unit = unit;
    this.am = new PictureTile("fv-am-tile", `AM of unit ${unit}`);
    this.am.img.classList.add("fv-am-img");
    this.tiles = [];
    this.examples = el("span", {class: "fv-example-list"});
    this.element = el("span", {class: "fv-example-strip"}, [this.am.element, this.examples]);
  }

  /**
   * Shows one step. step: its number; am: {key, step, activation} or null;
   * amState: what the AM slot says without a picture: "none" (no AM tag),
   * "absent" (no AM of the unit), "later" (none by this step), "loading",
   * "failed";
   * examples: unitExamples(); originals: the probe images' blob keys; info,
   * amInfo: the /tags entries of the examples and AM tags; mode: "crop" or
   * "whole"; target: picture size in CSS pixels.
   */
  show({step, am, amState, examples, originals, info, amInfo, mode, target}) {
    this._showAm(step, am, amState, amInfo || info, target);
    if (examples.length !== this.tiles.length) this._build(examples.length);
    examples.forEach((example, i) => {
      const tile = this.tiles[i];
      const box = receptiveBox(info, example.position);
      const layout = exampleLayout(info, box, mode, target);
      const key = (originals || [])[example.index];
      const where = example.position ? ` · strongest at row ${example.position[0]}, ` +
                                       `column ${example.position[1]}` : "";
      tile.show({
        key, layout, caption: [valueNode(example.activation)],
        title: `Probe image ${example.index} · activation ${
          example.activation === undefined ? "not recorded" : example.activation}${where}`,
        missingText: originals && originals.length ? "missing" : "not logged",
      });
      const data = tile.element.dataset;
      data.rank = String(example.rank);
      data.index = String(example.index);
      data.activation = example.activation === undefined ? "" : String(example.activation);
      data.position = example.position ? example.position.join(",") : "";
      data.box = box ? [box.top, box.left, box.bottom, box.right]
          .map((v) => Math.round(v * 100) / 100).join(",") : "";
      tile.img.alt = `probe image ${example.index}`;
    });
  }

  _showAm(step, am, amState, amInfo, target) {
    const layout = exampleLayout(amInfo, null, "whole", target);
    const earlier = am && am.step !== step;
    const caption = [el("span", {class: "fv-am-label"}, [
      el("span", {class: "fv-muted", text: "AM "}), valueNode(am ? am.activation : undefined)])];
    if (earlier) {
      caption.push(el("span", {class: "fv-muted fv-am-step", text: `step ${formatStep(am.step)}`}));
    }
    this.am.show({
      key: am ? am.key : "", layout, caption,
      title: am ? `Activation maximization of unit ${this.unit} at step ${formatStep(am.step)}` +
                  `${earlier ? " (the latest logged by then)" : ""}`
                : "No activation-maximization picture of this unit at this step",
      missingText: AM_MISSING[amState] || AM_MISSING.none,
    });
    const data = this.am.element.dataset;
    data.step = am ? String(am.step) : "";
    data.state = am ? "shown" : amState;
  }

  _build(count) {
    this.examples.replaceChildren();
    this.tiles = [];
    for (let i = 0; i < count; i++) {
      const tile = new PictureTile("fv-example-tile", `example ${i + 1}`);
      this.tiles.push(tile);
      this.examples.appendChild(tile.element);
    }
  }
}
