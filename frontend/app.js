// The featviz panel: holds the state (run, tag, steps, step shown) and wires
// the pickers and the player to the view of the chosen tag's kind (kinds.js).
// It reads the data again whenever TensorBoard reloads (host.js), keeps up
// with new steps (follow.js), opens the view a deep link names and gives the
// link of the view shown (deep_link.js, link_target.js).
import {fetchSteps, fetchTags, imageUrl} from "./api.js";
import {linkUrl, readLink, watchLink} from "./deep_link.js";
import {clear, el} from "./dom.js";
import {NewStepsButton, followLatest} from "./follow.js";
import {formatSeconds, plural} from "./format.js";
import {Host, MessageType} from "./host.js";
import {TILE_SIZES} from "./images.js";
import {
  createView, headerCounts, headerTitle, isShownKind, kindEntry, kindLabel,
} from "./kinds.js";
import {LinkControl} from "./link_control.js";
import {linkNotice, resolveSeries, resolveStep} from "./link_target.js";
import {Notice} from "./notice.js";
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

/** {state, notes} of a deep link's per-kind keys, from the kind's view. */
function viewLinkState(kind, link, info, steps) {
  const entry = kindEntry(kind);
  if (!link || !entry || typeof entry.View.fromLink !== "function") {
    return {state: null, notes: []};
  }
  return entry.View.fromLink(link, info || {}, steps);
}

export class App {
  /** host: TensorBoard's messaging (host.js); win: the panel's window. */
  constructor(root, {host = null, win = window} = {}) {
    this.root = root;
    this.win = win;
    this.host = host || new Host(win);
    this.tags = {};
    this.run = null;
    this.tag = null;
    this.steps = [];
    this.info = null;
    this.view = null;
    this.dataKey = null;   // the /steps answer shown, to tell a reload that brings nothing
    this.baseline = null;  // the latest step the user has seen as the latest (follow.js)
    this.sizeName = "medium";
    this.request = 0;  // ignores answers to requests that were overtaken
    this.started = false;
    this.refreshing = null;  // the refresh under way, and the one asked for meanwhile
    this.queued = null;

    this.pickers = new Pickers((run, tag) => {
      this.notice.show(null);
      this.select(run, tag);
    });
    this.player = new Player((index) => this.showStep(index));
    this.newSteps = new NewStepsButton(() => {
      this.player.pause();
      this.player.show(this.steps.length - 1);
    });
    this.notice = new Notice();
    this.link = new LinkControl(() => this.linkUrl());
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
      title: "Read new steps from the logdir (the panel also reloads with TensorBoard)",
      onclick: () => this.refresh()});
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
      el("div", {class: "fv-player-row"}, [
        this.player.element, this.newSteps.element, this.stepMeta]),
      this.viewSlot,
    ]);
    const toolbar = el("header", {class: "fv-toolbar"}, [
      this.pickers.element,
      el("label", {class: "fv-field", for: "fv-size-select"}, [
        el("span", {class: "fv-field-name", text: "Size"}), this.sizeSelect]),
      el("span", {class: "fv-actions"}, [this.status, this.link.button, this.reloadButton]),
    ]);
    root.append(toolbar, this.link.box, this.notice.element, this.error, this.empty,
                this.main);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.view && this.view.onEscape()) event.preventDefault();
    });
    // A unit opened or closed in a view changes the link too.
    root.addEventListener("click", () => this.link.update());
    root.addEventListener("keyup", () => this.link.update());
  }

  /**
   * Joins TensorBoard's messaging, reads the deep link and shows its view.
   * TensorBoard's reloads (auto-reload, its reload button) and new runs then
   * read the data again.
   */
  async start() {
    const reload = () => {
      if (this.started) this.refresh();
    };
    this.host.listen(MessageType.DATA_RELOADED, reload);
    this.host.listen(MessageType.RUNS_CHANGED, reload);
    watchLink((link) => this.refresh({link}), this.win);
    let link = {};
    try {
      link = await readLink(this.host, this.win);
    } catch (error) {
      link = {};  // no link: the first run and layer
    }
    this.started = true;
    return this.refresh({link: Object.keys(link).length ? link : null});
  }

  /**
   * Reads the tags and the steps shown again (or, with `link`, opens the view
   * it names). One refresh runs at a time; asked for meanwhile, one more runs
   * after it.
   */
  refresh({link = null} = {}) {
    if (this.refreshing) {
      this.queued = {link: link || (this.queued && this.queued.link) || null};
      return this.refreshing;
    }
    this.refreshing = this._refresh(link).finally(() => {
      this.refreshing = null;
      const queued = this.queued;
      this.queued = null;
      if (queued) this.refresh(queued);
    });
    return this.refreshing;
  }

  async _refresh(link) {
    this.setStatus("Loading…");
    let tags;
    try {
      tags = await fetchTags();
    } catch (error) {
      this.setStatus("");
      this.showError(`Could not load the featviz tags. ${error.message}`);
      return;
    }
    this.tags = tags || {};
    let want = {run: this.run, tag: this.tag};
    let notes = [];
    if (link) {
      ({notes, ...want} = resolveSeries(this.tags, link));
    }
    this.pickers.setTags(this.tags, want);
    if (!this.pickers.runs().length) {
      this.setStatus("");
      this.showError(null);
      this.main.hidden = true;
      this.player.pause();
      this._setView(null);
      this.run = this.tag = null;
      this.steps = [];
      this.dataKey = null;
      this.showEmpty(this._unsupportedKinds());
      return;
    }
    this.empty.hidden = true;
    const {run, tag} = this.pickers;
    if (!link && this.view && run === this.run && tag === this.tag) {
      await this._update();
    } else {
      await this.select(run, tag, {link, notes});
    }
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

  /**
   * Shows `tag` of `run` from its latest step, or as `link` says (its step,
   * unit...; `notes` says what of it was not found).
   */
  async select(run, tag, {link = null, notes = []} = {}) {
    this._setView(null);
    this.run = run;
    this.tag = tag;
    const data = await this._fetchSteps(run, tag, (message) => {
      this.steps = [];
      this.dataKey = null;
      this.player.setSteps([]);
      this.main.hidden = true;
      if (link) this.notice.show(linkNotice(notes));
      this.showError(message);
    });
    if (!data) return;
    this.showError(null);
    this._show(data, {link, notes});
  }

  /**
   * The /steps answer of `tag` of `run`, with the status line saying it is
   * loading; null when a later request overtook this one, or when it failed
   * (then `onError(message)` was called).
   */
  async _fetchSteps(run, tag, onError) {
    const request = ++this.request;
    this.setStatus("Loading steps…");
    let data;
    try {
      data = await fetchSteps(run, tag);
    } catch (error) {
      if (request === this.request) {
        this.setStatus("");
        onError(`Could not load the steps of ${tag} in ${run}. ${error.message}`);
      }
      return null;
    }
    if (request !== this.request) return null;
    this.setStatus("");
    return data;
  }

  /**
   * Builds the view of a /steps answer: at the latest step, or at the link's
   * step and with its unit (then the notice tells what was not found), or
   * with `state` (a rebuild).
   */
  _show(data, {link = null, notes = [], state = null} = {}) {
    const run = this.run;
    this.steps = Array.isArray(data.steps) ? data.steps : [];
    this.info = this.pickers.info(run, this.tag) || {kind: data.kind};
    this.dataKey = JSON.stringify(data);
    this._showHeader();
    this.main.hidden = false;
    const numbers = this.steps.map((s) => s.step);
    const kind = this.info.kind || data.kind;
    let index = numbers.length - 1;
    if (link) {
      const step = resolveStep(numbers, link.step);
      const fromView = viewLinkState(kind, link, this.info, this.steps);
      index = step.index;
      state = fromView.state;
      notes = [...notes, ...(step.note ? [step.note] : []), ...fromView.notes];
      this.notice.show(linkNotice(notes));
    }
    this.baseline = numbers.length ? numbers[numbers.length - 1] : null;
    this.newSteps.show(0);
    this.player.setSteps(numbers, index);
    this._setView(createView(kind, {
      run, tag: this.tag, info: this.info, data: {...data, steps: this.steps},
      runTags: this.tags[run] || {}, sizeName: this.sizeName, state,
      pickStep: (i) => { this.player.pause(); this.player.show(i); },
    }));
    this.link.update();
    if (!this.steps.length) {
      this.stepMeta.textContent = "";
      this.showError(`No steps logged yet for ${this.tag} in ${run}.`);
      return;
    }
    this.showStep(this.player.index);
  }

  /**
   * Reads the steps of the series shown again and updates the view in place:
   * follow-latest (follow.js), the open unit or probe kept. A failure keeps
   * what is shown, with the error above it.
   */
  async _update() {
    const {run, tag} = this;
    const data = await this._fetchSteps(run, tag, (message) => this.showError(message));
    if (!data) return;
    const info = this.pickers.info(run, tag) || {kind: data.kind};
    const steps = Array.isArray(data.steps) ? data.steps : [];
    if (!this.steps.length || (info.kind || data.kind) !== (this.info.kind || data.kind)) {
      // The first steps of the series: build its view, keeping what was open.
      this.showError(null);
      this._show(data, {state: this.view ? this.view.state() : null});
      return;
    }
    this.showError(null);
    const key = JSON.stringify(data);
    const changed = key !== this.dataKey || JSON.stringify(info) !== JSON.stringify(this.info);
    this.view.update({info, data: {...data, steps}, runTags: this.tags[run] || {}},
                     {changed});
    if (!changed) return;
    const numbers = steps.map((s) => s.step);
    const next = followLatest({previous: this.player.steps, index: this.player.index,
                               steps: numbers, baseline: this.baseline});
    this.steps = steps;
    this.info = info;
    this.dataKey = key;
    this.baseline = next.baseline;
    this._showHeader();
    this.player.update(numbers, next.index);
    this.newSteps.show(next.unseen);
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
    if (index === this.steps.length - 1) {  // the latest step: nothing unseen
      this.baseline = entry.step;
      this.newSteps.show(0);
    }
    const seconds = formatSeconds(entry.seconds);
    const when = entry.wall_time ? new Date(entry.wall_time * 1000).toLocaleString() : "";
    this.stepMeta.textContent = [seconds && `computed in ${seconds}`, when]
        .filter(Boolean).join(" · ");
    this.link.update();
    if (this.player.playing && this.view) this._prefetch(this.view.keysOf(index + 1));
  }

  /** The deep link of the view shown (see deep_link.js). */
  linkUrl() {
    const params = {run: this.run, tag: this.tag};
    if (this.steps.length) params.step = String(this.player.step);
    return linkUrl({...params, ...(this.view ? this.view.linkParams() : {})}, this.win);
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
