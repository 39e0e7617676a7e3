// Number formatting shared by the grid, the history and the chart.

/** A value to 3 significant digits ("1.23", "0.000456", "1.23e+5"), "–" if missing. */
export function formatValue(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-4) return value.toExponential(2);
  return String(Number(value.toPrecision(3)));
}

/** A step number with thousands separators: 12000 -> "12,000". */
export function formatStep(step) {
  return Number(step).toLocaleString("en-US");
}

/** Seconds as "0.42 s" / "1 min 3 s". */
export function formatSeconds(seconds) {
  if (!(seconds > 0)) return "";
  if (seconds < 60) return `${Number(seconds.toPrecision(2))} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - 60 * minutes)} s`;
}

/** "1 unit", "3 units". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
