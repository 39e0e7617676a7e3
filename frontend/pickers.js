// The run and layer (tag) pickers.
import {clear, el} from "./dom.js";
import {naturalCompare} from "./series.js";

/** The kinds of visualization this panel can show, in picker order. */
export const SUPPORTED_KINDS = ["am", "inversion", "mfv"];

const KIND_LABELS = {am: "activation maximization", inversion: "inversion", mfv: "multifaceted"};

/** "conv2 · am — 16 units", "conv1 · inversion", "logits · mfv — unit 3". */
export function tagLabel(tag, info) {
  const layer = info && info.layer ? info.layer : tag;
  const kind = info && info.kind ? info.kind : "?";
  const units = info && Array.isArray(info.units) ? info.units : [];
  let unitText = "";
  if (kind === "mfv" && units.length === 1) unitText = ` — unit ${units[0]}`;
  else if (units.length) unitText = ` — ${units.length} unit${units.length === 1 ? "" : "s"}`;
  return `${layer} · ${kind}${unitText}`;
}

function kindOrder(kind) {
  const i = SUPPORTED_KINDS.indexOf(kind);
  return i < 0 ? SUPPORTED_KINDS.length : i;
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

  /** Tags of `run` with a supported kind, sorted by kind then tag (numbers in order). */
  tagsOf(run) {
    const byTag = this.tags[run] || {};
    return Object.keys(byTag)
        .filter((tag) => SUPPORTED_KINDS.includes(byTag[tag] && byTag[tag].kind))
        .sort((a, b) => kindOrder(byTag[a].kind) - kindOrder(byTag[b].kind) ||
                        naturalCompare(a, b));
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
    const groups = new Map();  // kind -> <optgroup>
    for (const tag of tags) {
      const info = this.info(run, tag);
      if (!groups.has(info.kind)) {
        const group = el("optgroup", {label: kindLabel(info.kind)});
        groups.set(info.kind, group);
        this.tagSelect.appendChild(group);
      }
      groups.get(info.kind).appendChild(el("option", {
        value: tag, text: tagLabel(tag, info), title: tag}));
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
