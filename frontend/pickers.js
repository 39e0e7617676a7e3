// The run and layer (tag) pickers.
import {clear, el} from "./dom.js";
import {isShownKind, kindLabel, kindOrder, tagLabel} from "./kinds.js";
import {naturalCompare} from "./series.js";

/** The runs of a /tags answer that have a tag of a kind the panel shows, sorted. */
export function shownRuns(tags) {
  return Object.keys(tags || {}).filter((run) => shownTags(tags, run).length).sort();
}

/** The tags of `run` of a kind the panel shows, by kind then tag (numbers in order). */
export function shownTags(tags, run) {
  const byTag = (tags || {})[run] || {};
  return Object.keys(byTag)
      .filter((tag) => isShownKind(byTag[tag] && byTag[tag].kind))
      .sort((a, b) => kindOrder(byTag[a].kind) - kindOrder(byTag[b].kind) ||
                      naturalCompare(a, b));
}

/**
 * The two <select>s. `onChange(run, tag)` is called when the user picks.
 */
export class Pickers {
  constructor(onChange) {
    this.onChange = onChange;
    this.tags = {};
    this.runsKey = null;  // the options shown, to rebuild them only when they change
    this.tagsKey = null;
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

  /** Runs that have at least one tag of a kind the panel shows, sorted. */
  runs() {
    return shownRuns(this.tags);
  }

  /** Tags of `run` of a kind the panel shows, in picker order. */
  tagsOf(run) {
    return shownTags(this.tags, run);
  }

  info(run, tag) {
    return (this.tags[run] || {})[tag];
  }

  /**
   * Fills the pickers from /tags, choosing preferred.run and preferred.tag
   * where they exist (else the first run, and the first tag of the run). The
   * options are rebuilt only when they change, so a reload that brings nothing
   * new leaves an open picker alone.
   */
  setTags(tags, preferred) {
    this.tags = tags || {};
    const runs = this.runs();
    const wantRun = preferred && runs.includes(preferred.run) ? preferred.run : runs[0];
    const key = JSON.stringify(runs);
    if (key !== this.runsKey) {
      this.runsKey = key;
      clear(this.runSelect);
      for (const run of runs) {
        this.runSelect.appendChild(el("option", {value: run, text: run}));
      }
    }
    if (wantRun !== undefined) this.runSelect.value = wantRun;
    this._fillTags(preferred && preferred.tag);
  }

  get run() { return this.runSelect.value || null; }
  get tag() { return this.tagSelect.value || null; }

  _fillTags(preferredTag) {
    const run = this.run;
    const tags = run ? this.tagsOf(run) : [];
    const options = tags.map((tag) => {
      const info = this.info(run, tag);
      return {tag, kind: info.kind, text: tagLabel(tag, info)};
    });
    const key = JSON.stringify(options);
    if (key !== this.tagsKey) {
      this.tagsKey = key;
      clear(this.tagSelect);
      const groups = new Map();  // kind -> <optgroup>
      for (const {tag, kind, text} of options) {
        if (!groups.has(kind)) {
          groups.set(kind, el("optgroup", {label: kindLabel(kind)}));
          this.tagSelect.appendChild(groups.get(kind));
        }
        groups.get(kind).appendChild(el("option", {value: tag, text, title: tag}));
      }
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
