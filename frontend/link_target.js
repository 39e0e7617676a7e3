// What a deep link (see deep_link.js) leads to in the data there is: its run,
// layer and step, or the nearest sensible ones, with a note for each
// fallback. Per-kind keys (the unit of an AM tag, ...) are the views' own
// (static fromLink, see am_view.js).
import {INTEGER, given} from "./deep_link.js";
import {formatStep} from "./format.js";
import {shownRuns, shownTags} from "./pickers.js";
import {nearestIndex} from "./series.js";

/**
 * {run, tag, notes} for a link's run and tag in a /tags answer: an unknown
 * run falls back to the first run that has the tag (else the first run), an
 * unknown tag to the first tag of the run.
 */
export function resolveSeries(tags, {run, tag} = {}) {
  const runs = shownRuns(tags);
  const notes = [];
  const hasTag = (r) => given(tag) && shownTags(tags, r).includes(tag);
  let chosenRun = run;
  if (!given(run) || !runs.includes(run)) {
    chosenRun = runs.find(hasTag) || runs[0];
    if (given(run) && chosenRun !== undefined) {
      notes.push(`run “${run}” not found (showing “${chosenRun}”)`);
    }
  }
  const runTags = chosenRun === undefined ? [] : shownTags(tags, chosenRun);
  let chosenTag = tag;
  if (!given(tag) || !runTags.includes(tag)) {
    chosenTag = runTags[0];
    if (given(tag) && chosenTag !== undefined) {
      notes.push(`layer “${tag}” not found in “${chosenRun}” (showing “${chosenTag}”)`);
    }
  }
  return {run: chosenRun, tag: chosenTag, notes};
}

/**
 * {index, note} for a link's step among the logged step numbers (ascending):
 * a step that was not logged falls back to the nearest logged one, a value
 * that is not a step number to the latest step.
 */
export function resolveStep(numbers, step) {
  const last = numbers.length - 1;
  if (!given(step) || !numbers.length) return {index: Math.max(0, last), note: null};
  if (!INTEGER.test(step)) {
    return {index: last, note: `step “${step}” is not a step number ` +
                               `(showing the latest, ${formatStep(numbers[last])})`};
  }
  const wanted = Number(step);
  const index = nearestIndex(numbers, wanted);
  if (numbers[index] === wanted) return {index, note: null};
  return {index, note: `step ${formatStep(wanted)} was not logged ` +
                       `(showing step ${formatStep(numbers[index])}, the nearest)`};
}

/** The one-line notice for the notes of a link ("" when there are none). */
export function linkNotice(notes) {
  return notes.length ? `Link: ${notes.join("; ")}.` : "";
}
