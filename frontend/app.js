// The featviz panel: holds the state (run, tag, steps, step shown) and wires
// the pickers and the player to the view of the chosen tag's kind (kinds.js).
import {fetchSteps, fetchTags, imageUrl} from "./api.js";
import {clear, el} from "./dom.js";
import {formatSeconds, plural} from "./format.js";
import {TILE_SIZES} from "./images.js";
import {createView, headerCounts, headerTitle, isShownKind, kindLabel} from "./kinds.js";
import {Pickers} from "./pickers.js";
import {Player} from "./player.js";

const EMPTY_MESSAGE =
    "No featviz data: add tb_featviz.FeatureVizCallback to model.fit (or write " +
    "tb_featviz.summary.am inside a tf.summary writer), then press Reload.";
const EMPTY_EXAMPLE = [
  "import tb_featviz",
  "",
  "model.fit(x, y, epochs=10, callbacks=[",
  "    tb_featviz.FeatureVizCallback(log_dir=\"logs/run1\", am={\"conv2\": 16})])",
].join("\n");

export class App {
  constructor(root) {
    this.root = root;
    this.tags = {};
    this.run = null;
    this.tag = null;
    this.steps = [];
    this.view = null;
    this.sizeName = "medium";
    this.request = 0;  // ignores answers to requests that were overtaken

    this.pickers = new Pickers((run, tag) => this.select(run, tag));
    this.player = new Player((index) => this.showStep(index));
    this.sizeSelect = el("select", {
      id: "fv-size-select", class: "fv-select",
      onchange: () => {
        this.sizeName = this.sizeSelect.value;
        if (this.view) this.view.setSizeName(this.sizeName);
      },
    }, Object.keys(TILE_SIZES).map((name) => el("option", {
      value: name, text: name, selected: name === this.sizeName})));
    this.reloadButton = el("button", {
      id: "fv-reload", class: "fv-button", type: "button", text: "Reload",
      title: "Read new steps from the logdir", onclick: () => this.load()});
    this.status = el("span", {id: "fv-status", class: "fv-muted", "aria-live": "polite"});

    this.error = el("div", {id: "fv-error", class: "fv-error", role: "alert", hidden: true});
    this.empty = el("div", {id: "fv-empty", class: "fv-empty", hidden: true}, [
      el("p", {class: "fv-empty-title", text: EMPTY_MESSAGE}),
      el("pre", {class: "fv-code", text: EMPTY_EXAMPLE}),
    ]);
    this.title = el("h1", {id: "fv-title", class: "fv-title"});
    this.meta = el("p", {id: "fv-meta", class: "fv-muted fv-meta"});
    this.description = el("p", {id: "fv-description", class: "fv-description", hidden: true});
    this.stepMeta = el("span", {id: "fv-step-meta", class: "fv-muted"});
    this.viewSlot = el("div", {id: "fv-view-slot"});
    this.main = el("main", {id: "fv-main", class: "fv-main", hidden: true}, [
      el("div", {class: "fv-layer-head"}, [this.title, this.meta, this.description]),
      el("div", {class: "fv-player-row"}, [this.player.element, this.stepMeta]),
      this.viewSlot,
    ]);
    const toolbar = el("header", {class: "fv-toolbar"}, [
      this.pickers.element,
      el("label", {class: "fv-field", for: "fv-size-select"}, [
        el("span", {class: "fv-field-name", text: "Size"}), this.sizeSelect]),
      el("span", {class: "fv-spacer"}),
      this.status,
      this.reloadButton,
    ]);
    root.append(toolbar, this.error, this.empty, this.main);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.view && this.view.onEscape()) event.preventDefault();
    });
  }

  start() {
    return this.load();
  }

  /** (Re)reads the tags, keeping the current run, tag, step and selection where possible. */
  async load() {
    this.setStatus("Loading…");
    this.showError(null);
    let tags;
    try {
      tags = await fetchTags();
    } catch (error) {
      this.setStatus("");
      this.showError(`Could not load the featviz tags. ${error.message}`);
      return;
    }
    this.tags = tags || {};
    this.pickers.setTags(this.tags, {run: this.run, tag: this.tag});
    if (!this.pickers.runs().length) {
      this.setStatus("");
      this.main.hidden = true;
      this.player.pause();
      this._setView(null);
      this.showEmpty(this._unsupportedKinds());
      return;
    }
    this.empty.hidden = true;
    await this.select(this.pickers.run, this.pickers.tag, {keep: true});
  }

  /** Kinds present in the logdir that this panel does not show. */
  _unsupportedKinds() {
    const kinds = new Set();
    for (const byTag of Object.values(this.tags)) {
      for (const info of Object.values(byTag || {})) {
        if (info && info.kind && !isShownKind(info.kind)) kinds.add(info.kind);
      }
    }
    return [...kinds].sort();
  }

  showEmpty(unsupported) {
    const title = this.empty.querySelector(".fv-empty-title");
    title.textContent = unsupported.length
        ? `This logdir has featviz data of kinds this panel does not show ` +
          `(${unsupported.map(kindLabel).join(", ")}). ${EMPTY_MESSAGE}`
        : EMPTY_MESSAGE;
    this.empty.hidden = false;
  }

  _setView(view) {
    if (this.view) this.view.dispose();
    this.view = view;
    clear(this.viewSlot);
    if (view) this.viewSlot.appendChild(view.element);
  }

  /** Shows `tag` of `run`. With keep, stays on the same step and selection (a reload). */
  async select(run, tag, {keep = false} = {}) {
    const sameSeries = keep && run === this.run && tag === this.tag;
    const previousStep = sameSeries ? this.player.step : undefined;
    const wasLatest = sameSeries && this.player.index === this.steps.length - 1;
    const state = sameSeries && this.view ? this.view.state() : null;
    if (!sameSeries) this._setView(null);
    this.run = run;
    this.tag = tag;
    const request = ++this.request;
    this.setStatus("Loading steps…");
    let data;
    try {
      data = await fetchSteps(run, tag);
    } catch (error) {
      if (request !== this.request) return;
      this.setStatus("");
      this.steps = [];
      this._setView(null);
      this.player.setSteps([]);
      this.main.hidden = true;
      this.showError(`Could not load the steps of ${tag} in ${run}. ${error.message}`);
      return;
    }
    if (request !== this.request) return;
    this.setStatus("");
    this.showError(null);
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    this.info = this.pickers.info(run, tag) || {kind: data.kind};
    this._showHeader();
    this.main.hidden = false;
    const stepNumbers = this.steps.map((s) => s.step);
    let index = this.steps.length - 1;  // the latest step by default
    if (previousStep !== undefined && !wasLatest && stepNumbers.includes(previousStep)) {
      index = stepNumbers.indexOf(previousStep);
    }
    this.player.setSteps(stepNumbers, index);
    this._setView(createView(this.info.kind || data.kind, {
      run, tag, info: this.info, data: {...data, steps: this.steps},
      runTags: this.tags[run] || {}, sizeName: this.sizeName, state,
      pickStep: (i) => { this.player.pause(); this.player.show(i); },
    }));
    if (!this.steps.length) {
      this.stepMeta.textContent = "";
      this.showError(`No steps logged yet for ${tag} in ${run}.`);
      return;
    }
    this.showStep(this.player.index);
  }

  _showHeader() {
    const info = this.info || {};
    const last = this.steps[this.steps.length - 1];
    this.title.textContent = headerTitle(info, this.tag);
    const parts = [kindLabel(info.kind || "?"), ...headerCounts(info, last)];
    if (Array.isArray(info.display_shape) && info.display_shape.length) {
      parts.push(info.display_shape.join("×"));
    }
    if (Array.isArray(info.value_range) && info.value_range.length === 2) {
      parts.push(`values in [${info.value_range[0]}, ${info.value_range[1]}]`);
    }
    parts.push(`${plural(this.steps.length, "step")} logged`);
    this.meta.textContent = parts.join(" · ");
    this.meta.title = this.tag;
    this.description.textContent = info.description || "";
    this.description.hidden = !info.description;
  }

  /** Shows step `index` of the current series in the view. */
  showStep(index) {
    const entry = this.steps[index];
    if (!entry) return;
    if (this.view) this.view.showStep(index);
    const seconds = formatSeconds(entry.seconds);
    const when = entry.wall_time ? new Date(entry.wall_time * 1000).toLocaleString() : "";
    this.stepMeta.textContent = [seconds && `computed in ${seconds}`, when]
        .filter(Boolean).join(" · ");
    if (this.player.playing && this.view) this._prefetch(this.view.keysOf(index + 1));
  }

  /** Starts loading the next step's pictures while playing, so frames do not lag. */
  _prefetch(keys) {
    for (const key of keys || []) {
      const img = new Image();
      img.src = imageUrl(key);
    }
  }

  setStatus(text) {
    this.status.textContent = text;
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }
}
