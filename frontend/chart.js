// A small SVG line chart (createElementNS only): values per training step, one
// line per series.
import {svg} from "./dom.js";
import {formatStep, formatValue} from "./format.js";

const WIDTH = 560;
const HEIGHT = 190;
const MARGIN = {top: 14, right: 18, bottom: 34, left: 58};

/** About `count` round numbers covering [low, high]. */
export function niceTicks(low, high, count = 4) {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return [];
  if (low === high) return [low];
  const rough = (high - low) / count;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) || 10 * power;
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

function finitePoints(points) {
  return (points || []).filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x));
}

export class LineChart {
  /**
   * One series: points [{x, y, index}] (x: step, y: value; points without a
   * finite y are left out). onPick(index) is called when a point is clicked.
   * For several series use LineChart.multi.
   */
  constructor(points, options = {}) {
    this._init([{name: null, color: null, points}], options);
  }

  /**
   * Several series: [{name, color, points}], each drawn in its colour and
   * tagged with data-series=name; onPick(point.index, series) on a click.
   */
  static multi(series, options = {}) {
    const chart = Object.create(LineChart.prototype);
    chart._init(series, options);
    return chart;
  }

  _init(series, {yLabel = "value", xLabel = "step", onPick = null, id = null} = {}) {
    this.series = series.map((s) => ({...s, points: finitePoints(s.points)}));
    this.points = this.series.flatMap((s) => s.points);
    this.onPick = onPick;
    this.dots = [];  // [{x, dot}]
    this.element = svg("svg", {
      id, class: "fv-chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
      preserveAspectRatio: "xMinYMin meet",
      "aria-label": `${yLabel} by ${xLabel}`,
    });
    this._draw(xLabel, yLabel);
  }

  _draw(xLabel, yLabel) {
    const root = this.element;
    const plotW = WIDTH - MARGIN.left - MARGIN.right;
    const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    if (!this.points.length) {
      root.appendChild(svg("text", {
        class: "fv-chart-empty", x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle",
        text: `No ${yLabel} recorded`}));
      return;
    }
    const xs = this.points.map((p) => p.x);
    const ys = this.points.map((p) => p.y);
    let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) {
      const pad = Math.abs(y0) * 0.1 || 1;
      y0 -= pad; y1 += pad;
    } else {
      const pad = (y1 - y0) * 0.08;
      y0 -= pad; y1 += pad;
    }
    const sx = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
    const sy = (y) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * plotH;
    this.sx = sx;

    const grid = svg("g", {class: "fv-chart-grid"});
    const axes = svg("g", {class: "fv-chart-axes"});
    for (const t of niceTicks(y0, y1, 4)) {
      grid.appendChild(svg("line", {
        x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: sy(t), y2: sy(t)}));
      axes.appendChild(svg("text", {
        x: MARGIN.left - 6, y: sy(t), "text-anchor": "end", "dominant-baseline": "middle",
        text: formatValue(t)}));
    }
    const distinctX = new Set(xs).size;
    const xTicks = niceTicks(x0, x1, Math.min(6, distinctX)).filter(
        (t) => Number.isInteger(t));
    for (const t of xTicks) {
      axes.appendChild(svg("line", {
        class: "fv-chart-tick", x1: sx(t), x2: sx(t), y1: HEIGHT - MARGIN.bottom,
        y2: HEIGHT - MARGIN.bottom + 4}));
      axes.appendChild(svg("text", {
        x: sx(t), y: HEIGHT - MARGIN.bottom + 16, "text-anchor": "middle",
        text: formatStep(t)}));
    }
    axes.appendChild(svg("line", {
      class: "fv-chart-axis", x1: MARGIN.left, x2: WIDTH - MARGIN.right,
      y1: HEIGHT - MARGIN.bottom, y2: HEIGHT - MARGIN.bottom}));
    axes.appendChild(svg("line", {
      class: "fv-chart-axis", x1: MARGIN.left, x2: MARGIN.left,
      y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom}));
    axes.appendChild(svg("text", {
      class: "fv-chart-axis-label", x: WIDTH - MARGIN.right, y: HEIGHT - 4,
      "text-anchor": "end", text: xLabel}));
    axes.appendChild(svg("text", {
      class: "fv-chart-axis-label", x: 12, y: MARGIN.top + plotH / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${MARGIN.top + plotH / 2})`, text: yLabel}));

    this.cursor = svg("line", {
      class: "fv-chart-cursor", y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom,
      x1: MARGIN.left, x2: MARGIN.left, visibility: "hidden"});
    root.append(grid, axes, this.cursor);

    for (const series of this.series) {
      if (!series.points.length) continue;
      const named = series.name !== null && series.name !== undefined;
      const group = svg("g", {class: "fv-chart-series",
                              "data-series": named ? String(series.name) : null});
      if (series.color) group.style.setProperty("--fv-series", series.color);
      const line = svg("polyline", {
        class: "fv-chart-line",
        "data-series": named ? String(series.name) : null,
        points: series.points.map((p) => `${sx(p.x).toFixed(2)},${sy(p.y).toFixed(2)}`)
            .join(" "),
      });
      const dots = svg("g", {class: "fv-chart-points"});
      for (const p of series.points) {
        const label = `${named ? `${series.name}, ` : ""}step ${formatStep(p.x)}: ` +
            formatValue(p.y);
        const dot = svg("circle", {
          class: "fv-chart-point", cx: sx(p.x).toFixed(2), cy: sy(p.y).toFixed(2), r: 3.5,
          "data-step": String(p.x), "data-value": String(p.y),
          "data-series": named ? String(series.name) : null,
        }, [svg("title", {text: label})]);
        if (this.onPick) dot.addEventListener("click", () => this.onPick(p.index, series));
        dots.appendChild(dot);
        this.dots.push({x: p.x, dot});
      }
      group.append(line, dots);
      root.appendChild(group);
    }
  }

  /** Marks the step being shown by the slider. */
  setCurrent(step) {
    if (!this.cursor) return;
    const visible = step !== undefined && step !== null && this.sx;
    this.cursor.setAttribute("visibility", visible ? "visible" : "hidden");
    if (visible) {
      const x = this.sx(step).toFixed(2);
      this.cursor.setAttribute("x1", x);
      this.cursor.setAttribute("x2", x);
    }
    for (const {x, dot} of this.dots) dot.classList.toggle("fv-current", x === step);
  }
}
