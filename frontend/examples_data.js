// Reading the dataset examples out of /steps answers: a unit's k examples at
// one step, its AM picture at (or before) a step from the AM tag of the same
// layer, and the pictures a step needs (to fetch no more than those).
import {entryAtOrBefore} from "./series.js";

/** The number of examples per unit of a step entry: its `k`, else from its indices. */
export function examplesPerUnit(entry) {
  if (entry && Number.isInteger(entry.k) && entry.k > 0) return entry.k;
  const units = (entry && entry.units) || [];
  const indices = (entry && entry.indices) || [];
  return units.length ? Math.floor(indices.length / units.length) : 0;
}

/**
 * The examples of `unit` in a step entry, best first: [{rank, index,
 * activation, position}] (activation undefined when not recorded, position
 * null for a Dense layer); [] when the step has no row for the unit.
 */
export function unitExamples(entry, unit) {
  const row = ((entry && entry.units) || []).indexOf(unit);
  const k = examplesPerUnit(entry);
  if (row < 0 || k <= 0) return [];
  const indices = entry.indices || [];
  const activations = entry.activations || [];
  const positions = Array.isArray(entry.positions) ? entry.positions : [];
  const examples = [];
  for (let rank = 0; rank < k; rank++) {
    const at = row * k + rank;
    if (!Number.isInteger(indices[at])) break;
    const value = activations[at];
    examples.push({
      rank, index: indices[at],
      activation: typeof value === "number" ? value : undefined,
      position: Array.isArray(positions[at]) ? positions[at] : null,
    });
  }
  return examples;
}

/**
 * Whether `examples` say nothing about what drives the unit: every one has
 * the same activation (a dead unit scores 0 on every image), so their order
 * and positions are those of the ties.
 */
export function allTied(examples) {
  return examples.length > 1 && examples.every((e) =>
    e.activation !== undefined && e.activation === examples[0].activation);
}

/** The tag of `layer`'s activation maximization in one run's /tags entry, or null. */
export function amTagOf(runTags, layer) {
  const tags = Object.keys(runTags || {}).filter((tag) => {
    const info = runTags[tag];
    return info && info.kind === "am" && info.layer === layer;
  });
  return tags.sort()[0] || null;
}

/**
 * The AM picture of `unit` shown with step `step`: {key, step, activation} of
 * the latest AM step not after `step` that has the unit, or null.
 */
export function amPicture(amSteps, step, unit) {
  const latest = entryAtOrBefore(amSteps, step);
  if (!latest) return null;
  for (let i = amSteps.indexOf(latest); i >= 0; i--) {
    const entry = amSteps[i];
    const at = (entry.units || []).indexOf(unit);
    const key = at >= 0 ? (entry.images || [])[at] : undefined;
    if (typeof key === "string" && key) {
      const value = (entry.activations || [])[at];
      return {key, step: entry.step, activation: typeof value === "number" ? value : undefined};
    }
  }
  return null;
}

/**
 * The blob keys of the pictures step `entry` shows: the probe images among
 * `originals` that are some unit's examples, and the units' AM pictures.
 */
export function stepKeys(entry, originals, amSteps) {
  if (!entry) return [];
  const keys = new Set();
  for (const index of entry.indices || []) {
    const key = (originals || [])[index];
    if (key) keys.add(key);
  }
  for (const unit of entry.units || []) {
    const am = amPicture(amSteps || [], entry.step, unit);
    if (am) keys.add(am.key);
  }
  return [...keys];
}
