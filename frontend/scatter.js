// An SVG scatter plot of a 2-D embedding: one circle per point, coloured by
// cluster, moving smoothly between steps (points keep their identity by
// index), the nearest point to the pointer (or picked with the arrow keys)
// highlighted and reported to the owner.
import {el, svg} from "./dom.js";

const SIZE = 400;         // viewBox edge
const PAD = 14;           // viewBox units around the points
const RADIUS = 4.5;
const HIT_PX = 16;        // how close (CSS px) the pointer must be to a point
export const MOVE_MS = 300;

/** {x0, x1, y0, y1}: the extent of every finite point of every step's embedding. */
export function unionExtent(embeddings) {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const points of embeddings) {
    for (const p of points || []) {
      if (!Array.isArray(p) || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) continue;
      x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]);
      y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]);
    }
  }
  if (!Number.isFinite(x0)) return {x0: -1, x1: 1, y0: -1, y1: 1};
  return {x0, x1, y0, y1};
}

function ease(t) {
  return t < 0.5 ? 4 * t * t * t : 1 - Math.pow(-2 * t + 2, 3) / 2;
}

function reducedMotion() {
  return typeof matchMedia === "function" &&
      matchMedia("(prefers-reduced-motion: reduce)").matches;
}

export class Scatter {
  /**
   * extent: from unionExtent (fixed, so the view does not jump between steps);
   * overlay: an element shown beside the highlighted point; onHover(index or
   * null) is called when the highlighted point changes; label: for screen readers.
   */
  constructor({extent, overlay, onHover, label = "Embedding"}) {
    this.onHover = onHover;
    this.overlay = overlay;
    this.circles = [];
    this.shown = [];       // [x, y] in viewBox units, as drawn now
    this.visible = [];     // whether point i has finite coordinates
    this.hovered = null;
    this.frame = null;
    this.focusedFacet = null;
    this._setExtent(extent);

    this.points = svg("g", {class: "fv-scatter-points"});
    this.ring = svg("circle", {class: "fv-point-ring", r: RADIUS + 4, visibility: "hidden"});
    this.svg = svg("svg", {
      id: "fv-scatter", class: "fv-scatter", viewBox: `0 0 ${SIZE} ${SIZE}`,
      tabindex: "0", role: "group", "aria-label": `${label}: use the arrow keys to go ` +
          "through the points", "data-points": "0", "data-animating": "false",
    }, [svg("rect", {class: "fv-scatter-frame", x: 0.5, y: 0.5, width: SIZE - 1,
                     height: SIZE - 1}), this.points, this.ring]);
    this.svg.addEventListener("pointermove", (event) => {
      this.hover(this._nearest(event.clientX, event.clientY));
    });
    this.svg.addEventListener("pointerleave", () => this.hover(null));
    this.svg.addEventListener("keydown", (event) => this._onKey(event));
    this.element = el("div", {class: "fv-scatter-wrap"}, [this.svg, overlay]);
    overlay.hidden = true;
  }

  /** Changes the data extent (new steps): points move there on the next setPoints. */
  setExtent(extent) {
    this._setExtent(extent);
  }

  _setExtent({x0, x1, y0, y1}) {
    const span = Math.max(x1 - x0, y1 - y0) || 1;
    this.scale = (SIZE - 2 * PAD) / span;
    this.cx = (x0 + x1) / 2;
    this.cy = (y0 + y1) / 2;
  }

  /** viewBox coordinates of data point [x, y] (y upwards, equal scales). */
  project(point) {
    return [SIZE / 2 + (point[0] - this.cx) * this.scale,
            SIZE / 2 - (point[1] - this.cy) * this.scale];
  }

  /**
   * Shows `points` ([[x, y] or null]) coloured by colorOf(labels[i]); moves
   * from the previous positions over MOVE_MS when `animate` (same count).
   */
  setPoints(points, labels, colorOf, {animate = false, step = null} = {}) {
    const n = points.length;
    if (n !== this.circles.length) {
      this._build(n);
      animate = false;
    }
    const target = points.map((p, i) => {
      const ok = Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]);
      this.visible[i] = ok;
      return ok ? this.project(p) : this.shown[i];
    });
    this.circles.forEach((circle, i) => {
      const label = labels[i];
      circle.setAttribute("fill", colorOf(label));
      circle.dataset.facet = label === undefined ? "" : String(label);
      circle.classList.toggle("fv-point-missing", !this.visible[i]);
      circle.classList.toggle("fv-in-focus", this.focusedFacet !== null &&
                              label === this.focusedFacet);
    });
    this.svg.dataset.points = String(this.visible.filter(Boolean).length);
    this.svg.dataset.step = step === null ? "" : String(step);
    if (this.hovered !== null && !this.visible[this.hovered]) this.hover(null);
    this._moveTo(target, animate && !reducedMotion());
  }

  _build(n) {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    while (this.points.firstChild) this.points.removeChild(this.points.firstChild);
    this.circles = [];
    this.shown = [];
    this.visible = [];
    for (let i = 0; i < n; i++) {
      const circle = svg("circle", {class: "fv-point", r: RADIUS, cx: SIZE / 2, cy: SIZE / 2,
                                    "data-index": String(i)});
      this.circles.push(circle);
      this.shown.push([SIZE / 2, SIZE / 2]);
      this.visible.push(false);
      this.points.appendChild(circle);
    }
    this.hover(null);
  }

  _moveTo(target, animate) {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    if (!animate) {
      this._draw(target);
      this.svg.dataset.animating = "false";
      return;
    }
    const from = this.shown.map((p) => p.slice());
    const start = performance.now();
    this.svg.dataset.animating = "true";
    const tick = (now) => {
      const t = Math.min(1, (now - start) / MOVE_MS);
      const e = ease(t);
      this._draw(target.map((p, i) => [from[i][0] + (p[0] - from[i][0]) * e,
                                       from[i][1] + (p[1] - from[i][1]) * e]));
      if (t < 1) {
        this.frame = requestAnimationFrame(tick);
      } else {
        this.frame = null;
        this.svg.dataset.animating = "false";
      }
    };
    this.frame = requestAnimationFrame(tick);
  }

  _draw(positions) {
    positions.forEach((p, i) => {
      this.shown[i] = p;
      this.circles[i].setAttribute("cx", p[0].toFixed(2));
      this.circles[i].setAttribute("cy", p[1].toFixed(2));
    });
    if (this.hovered !== null) this._placeHover();
  }

  /** The visible point nearest to a client position, within HIT_PX, or null. */
  _nearest(clientX, clientY) {
    const rect = this.svg.getBoundingClientRect();
    if (!rect.width) return null;
    const unit = rect.width / SIZE;
    const x = (clientX - rect.left) / unit;
    const y = (clientY - rect.top) / unit;
    let best = null;
    let bestDistance = (HIT_PX / unit) ** 2;
    this.shown.forEach((p, i) => {
      if (!this.visible[i]) return;
      const d = (p[0] - x) ** 2 + (p[1] - y) ** 2;
      if (d <= bestDistance) { best = i; bestDistance = d; }
    });
    return best;
  }

  /** Highlights point `index` (null: none) and tells the owner. */
  hover(index) {
    if (index === this.hovered) return;
    if (this.hovered !== null && this.circles[this.hovered]) {
      this.circles[this.hovered].classList.remove("fv-hovered");
    }
    this.hovered = index;
    if (index === null) {
      this.ring.setAttribute("visibility", "hidden");
      this.overlay.hidden = true;
      delete this.svg.dataset.hovered;
    } else {
      this.circles[index].classList.add("fv-hovered");
      this.ring.setAttribute("visibility", "visible");
      this.svg.dataset.hovered = String(index);
    }
    this.onHover(index);
    if (index !== null) {
      this.overlay.hidden = false;
      this._placeHover();
    }
  }

  /** Puts the ring on the hovered point and the overlay beside it. */
  _placeHover() {
    const [x, y] = this.shown[this.hovered];
    this.ring.setAttribute("cx", x.toFixed(2));
    this.ring.setAttribute("cy", y.toFixed(2));
    this.ring.setAttribute("stroke", this.circles[this.hovered].getAttribute("fill"));
    const unit = (this.svg.getBoundingClientRect().width || SIZE) / SIZE;
    const gap = 14;
    const left = x > SIZE / 2 ? x * unit - gap - this.overlay.offsetWidth : x * unit + gap;
    const top = Math.max(0, Math.min(y * unit + gap,
                                     SIZE * unit - this.overlay.offsetHeight));
    this.overlay.style.left = `${Math.round(left)}px`;
    this.overlay.style.top = `${Math.round(top)}px`;
  }

  /** Fades every point that is not in facet `facet` (null: none faded). */
  focusFacet(facet) {
    this.focusedFacet = facet;
    this.svg.classList.toggle("fv-has-focus", facet !== null);
    for (const circle of this.circles) {
      circle.classList.toggle("fv-in-focus",
                              facet !== null && circle.dataset.facet === String(facet));
    }
  }

  _onKey(event) {
    const visible = this.visible.map((v, i) => (v ? i : -1)).filter((i) => i >= 0);
    if (!visible.length) return;
    let next;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") {
      next = visible.find((i) => this.hovered === null || i > this.hovered) ?? visible[0];
    } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      const before = visible.filter((i) => this.hovered === null || i < this.hovered);
      next = before.length ? before[before.length - 1] : visible[visible.length - 1];
    } else if (event.key === "Escape" && this.hovered !== null) {
      next = null;
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    this.hover(next);
  }

  dispose() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
  }
}
