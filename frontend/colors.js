// Categorical colours for series and clusters: the same index always gets the
// same colour, so a facet's points, its legend entry and its card match.

// Okabe–Ito-like palette, distinct for colour-blind readers, visible on the
// white of the light theme and the #303030 of the dark one (hence a mid grey).
const PALETTE = [
  "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00",
  "#56b4e9", "#8c6d1f", "#7b4fa0", "#7f7f7f", "#b8a800",
];

/** The colour of series/cluster `index` (beyond the palette: golden-angle hues). */
export function seriesColor(index) {
  const i = Math.max(0, Math.floor(Number(index) || 0));
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${Math.round((i * 137.508) % 360)}, 62%, 42%)`;
}
