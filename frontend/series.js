// Helpers over /steps answers: finding a step, averaging, ordering tags.

/** The last entry of `steps` (oldest first) whose step is <= `step`, or null. */
export function entryAtOrBefore(steps, step) {
  let found = null;
  for (const entry of steps || []) {
    if (entry.step <= step) found = entry;
    else break;
  }
  return found;
}

/** The index in `steps` of the last entry with step <= `step` (0 if none). */
export function indexAtOrBefore(steps, step) {
  let found = 0;
  (steps || []).forEach((entry, i) => { if (entry.step <= step) found = i; });
  return found;
}

/** The mean of the finite numbers in `values`, or undefined if there are none. */
export function finiteMean(values) {
  const finite = (values || []).filter((v) => typeof v === "number" && Number.isFinite(v));
  return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : undefined;
}

/** Compares strings with numbers in numeric order ("conv2" < "conv10"). */
export function naturalCompare(a, b) {
  return String(a).localeCompare(String(b), "en", {numeric: true});
}

/**
 * The index in `numbers` (ascending step numbers) of the one nearest to
 * `value`, the earlier of two equally near; -1 for an empty list.
 */
export function nearestIndex(numbers, value) {
  let best = -1;
  let bestDistance = Infinity;
  (numbers || []).forEach((n, i) => {
    const distance = Math.abs(n - value);
    if (distance < bestDistance) {
      best = i;
      bestDistance = distance;
    }
  });
  return best;
}
