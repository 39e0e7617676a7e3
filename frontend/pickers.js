// The run and layer (tag) pickers.
import {clear, el} from "./dom.js";

/** The kinds of visualization this panel can show (others are listed as such). */
export const SUPPORTED_KINDS = ["am"];

const KIND_LABELS = {am: "activation maximization", inversion: "inversion", mfv: "multifaceted"};

/** "conv2 · am" — the kind is part of the label so other kinds fit in later. */
export function tagLabel(tag, info) {
  const layer = info && info.layer ? info.layer : tag;
  const kind = info && info.kind ? info.kind : "?";
  const units = info && Array.isArray(info.units) ? info.units.length : 0;
  const unitText = units ? ` — ${units} unit${units === 1 ? "" : "s"}` : "";
  return `${layer} · ${kind}${unitText}`;
}

export function kindLabel(kind) {
  return KIND_LABELS[kind] || kind;
}

/**
 * The two <select>s. `onChange(run, tag)` is called when the user picks.
 */
export class Pickers {
  constructor(onChange) {
    this.onChange = onChange;
    this.tags = {};
    this.runSelect = el("select", {id: "fv-run-select", class: "fv-select",
                                   onchange: () => this._runChanged()});
    this.tagSelect = el("select", {id: "fv-tag-select", class: "fv-select",
                                   onchange: () => this._tagChanged()});
    this.element = el("div", {class: "fv-pickers"}, [
      el("label", {class: "fv-field", for: "fv-run-select"}, [
        el("span", {class: "fv-field-name", text: "Run"}), this.runSelect]),
      el("label", {class: "fv-field", for: "fv-tag-select"}, [
        el("span", {class: "fv-field-name", text: "Layer"}), this.tagSelect]),
    ]);
  }

  /** Runs that have at least one tag of a supported kind, sorted. */
  runs() {
    return Object.keys(this.tags).filter((run) => this.tagsOf(run).length).sort();
  }

  /** Tags of `run` with a supported kind, sorted by kind then layer order. */
  tagsOf(run) {
    const byTag = this.tags[run] || {};
    return Object.keys(byTag)
        .filter((tag) => SUPPORTED_KINDS.includes(byTag[tag] && byTag[tag].kind))
        .sort();
  }

  info(run, tag) {
    return (this.tags[run] || {})[tag];
  }

  /** Fills the pickers from /tags, keeping the current choice when it still exists. */
  setTags(tags, preferred) {
    this.tags = tags || {};
    const runs = this.runs();
    const wantRun = preferred && runs.includes(preferred.run) ? preferred.run : runs[0];
    clear(this.runSelect);
    for (const run of runs) {
      this.runSelect.appendChild(el("option", {value: run, text: run}));
    }
    if (wantRun !== undefined) this.runSelect.value = wantRun;
    this._fillTags(preferred && preferred.tag);
  }

  get run() { return this.runSelect.value || null; }
  get tag() { return this.tagSelect.value || null; }

  _fillTags(preferredTag) {
    const run = this.run;
    const tags = run ? this.tagsOf(run) : [];
    clear(this.tagSelect);
    for (const tag of tags) {
      this.tagSelect.appendChild(el("option", {
        value: tag, text: tagLabel(tag, this.info(run, tag)), title: tag}));
    }
    if (tags.length) this.tagSelect.value = tags.includes(preferredTag) ? preferredTag : tags[0];
  }

  _runChanged() {
    // Keep the same layer across runs when the new run has it (the tag names it).
    this._fillTags(this.tag);
    this.onChange(this.run, this.tag);
  }

  _tagChanged() {
    this.onChange(this.run, this.tag);
  }
}
