// One unit's history: its image at every logged step, side by side, and the
// curve of the activation it reached over the steps.
import {LineChart} from "./chart.js";
import {el} from "./dom.js";
import {formatStep, formatValue} from "./format.js";
import {visualizationImage, watchForErrors} from "./images.js";

/** The activation of `unit` at each step entry (undefined where not recorded). */
export function unitSeries(steps, unit) {
  return steps.map((entry, index) => {
    const i = (entry.units || []).indexOf(unit);
    const value = i >= 0 ? (entry.activations || [])[i] : undefined;
    return {
      index, step: entry.step, key: i >= 0 ? entry.images[i] : null,
      activation: typeof value === "number" ? value : undefined,
    };
  });
}

export class History {
  /**
   * unit: the unit id; info: the tag's /tags entry; steps: /steps "steps";
   * size: picture size; onPick(index): show that step; onClose().
   */
  constructor({unit, run, info, steps, size, onPick, onClose}) {
    this.unit = unit;
    this.items = [];
    const series = unitSeries(steps, unit);
    const kindText = info.kind ? ` · ${info.kind}` : "";
    const strip = el("div", {class: "fv-history-strip"});
    for (const point of series) {
      if (point.key === null) continue;
      const img = watchForErrors(visualizationImage(
          point.key, size, `unit ${unit} at step ${point.step}`, "fv-img fv-history-img"));
      const item = el("button", {
        class: "fv-history-item", type: "button",
        title: `Show step ${formatStep(point.step)}`,
        dataset: {step: String(point.step), index: String(point.index)},
        onclick: () => onPick(point.index),
      }, [
        el("span", {class: "fv-tile-frame"}, [img]),
        el("span", {class: "fv-history-step", text: `step ${formatStep(point.step)}`}),
        el("span", {class: "fv-activation", text: formatValue(point.activation)}),
      ]);
      this.items.push({index: point.index, item});
      strip.appendChild(item);
    }
    this.chart = new LineChart(
        series.map((p) => ({x: p.step, y: p.activation, index: p.index})),
        {id: "fv-history-chart", yLabel: "activation", xLabel: "step", onPick});
    const logged = this.items.length;
    this.element = el("section", {
      id: "fv-history", class: "fv-history", dataset: {unit: String(unit)},
      "aria-label": `History of unit ${unit}`,
    }, [
      el("div", {class: "fv-history-head"}, [
        el("h2", {class: "fv-history-title"}, [
          `Unit ${unit}`,
          el("span", {class: "fv-muted", text: ` · ${info.layer || ""}${kindText} · ${run}`}),
        ]),
        el("span", {class: "fv-muted fv-history-count",
                    text: `${logged} step${logged === 1 ? "" : "s"}`}),
        el("button", {id: "fv-history-close", class: "fv-button", type: "button",
                      text: "Close", onclick: onClose}),
      ]),
      strip,
      el("figure", {class: "fv-chart-figure"}, [
        this.chart.element,
        el("figcaption", {
          class: "fv-muted",
          text: `Activation of unit ${unit} reached by the visualization at each step`,
        }),
      ]),
    ]);
  }

  /** Highlights the step shown by the slider. */
  setCurrent(index, step) {
    for (const {index: i, item} of this.items) {
      const on = i === index;
      item.classList.toggle("fv-current", on);
      if (on) item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
    }
    this.chart.setCurrent(step);
  }
}
