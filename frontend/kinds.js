// The kinds of visualization the panel shows, in one registry: for each kind
// its view class, its label, its place in the pickers (the order of KINDS)
// and the few words the header and the layer picker say about a tag of it.
//
// Adding a kind means one entry below plus its view (a class with the
// interface documented in am_view.js). Kinds the backend lists that are not
// here are left out of the pickers and named in the empty state.
import {AmView} from "./am_view.js";
import {examplesPerUnit} from "./examples_data.js";
import {ExamplesView} from "./examples_view.js";
import {plural} from "./format.js";
import {InversionView} from "./inversion_view.js";
import {MfvView} from "./mfv_view.js";

/**
 * One entry per kind, in picker order. Besides kind, label and View, an entry
 * may say (defaults in `defineKind`):
 *   title(info, tag): the header's title;
 *   unitsText(units): what the layer picker adds after "layer · kind";
 *   counts(info, latest): what the header counts, from the tag's /tags entry
 *     and its latest /steps entry (undefined before the first step).
 */
const KINDS = [
  {
    kind: "am", label: "activation maximization", View: AmView,
    counts: (info) => [plural(unitsOf(info).length, "unit")],
  },
  {
    kind: "inversion", label: "inversion", View: InversionView,
    counts: (info, latest) => (latest ? [plural((latest.images || []).length,
                                                "probe image")] : []),
  },
  {
    kind: "mfv", label: "multifaceted", View: MfvView,
    // One unit per tag: the unit belongs in the title.
    title: (info, tag) => {
      const units = unitsOf(info);
      return units.length === 1 ? `${info.layer} · unit ${units[0]}` : (info.layer || tag);
    },
    unitsText: (units) => (units.length === 1 ? `unit ${units[0]}` : defaultUnitsText(units)),
    counts: (info, latest) => (latest ? [plural((latest.embedding || []).length,
                                                "embedded image")] : []),
  },
  {
    kind: "examples", label: "dataset examples", View: ExamplesView,
    counts: (info, latest) => {
      const counts = [plural(unitsOf(info).length, "unit")];
      if (latest) counts.push(`${plural(examplesPerUnit(latest), "example")} each`);
      const field = info.receptive_field;
      if (Array.isArray(field) && field.length === 2) {
        counts.push(`receptive field ${field.join("×")}`);
      }
      return counts;
    },
  },
].map(defineKind);

const BY_KIND = new Map(KINDS.map((entry, order) => [entry.kind, {...entry, order}]));

function unitsOf(info) {
  return info && Array.isArray(info.units) ? info.units : [];
}

function defaultUnitsText(units) {
  return units.length ? plural(units.length, "unit") : "";
}

/** An entry with every optional field filled in. */
function defineKind(entry) {
  return {
    title: (info, tag) => (info && info.layer) || tag,
    unitsText: defaultUnitsText,
    counts: () => [],
    ...entry,
  };
}

/** The registry entry of `kind` ({kind, label, View, order, ...}), or null. */
export function kindEntry(kind) {
  return BY_KIND.get(kind) || null;
}

/** Whether the panel has a view for `kind`. */
export function isShownKind(kind) {
  return BY_KIND.has(kind);
}

/** The kinds the panel shows, in picker order. */
export function shownKinds() {
  return KINDS.map((entry) => entry.kind);
}

/** The place of `kind` in the pickers (unknown kinds last). */
export function kindOrder(kind) {
  const entry = BY_KIND.get(kind);
  return entry ? entry.order : KINDS.length;
}

/** "activation maximization" for "am"; an unknown kind as it is. */
export function kindLabel(kind) {
  const entry = BY_KIND.get(kind);
  return entry ? entry.label : String(kind);
}

/** A new view of `kind` (see AmView for what every view offers), or null. */
export function createView(kind, ctx) {
  const entry = BY_KIND.get(kind);
  return entry ? new entry.View(ctx) : null;
}

/** The header's title for `tag` ({kind, layer, units, ...} from /tags). */
export function headerTitle(info, tag) {
  const entry = BY_KIND.get(info && info.kind);
  return entry ? entry.title(info, tag) : ((info && info.layer) || tag);
}

/** What the header counts for a tag of this kind, e.g. ["16 units"]. */
export function headerCounts(info, latest) {
  const entry = BY_KIND.get(info && info.kind);
  return entry ? entry.counts(info || {}, latest) : [];
}

/** "conv2 · am — 16 units", "conv1 · inversion", "logits · mfv — unit 3". */
export function tagLabel(tag, info) {
  const layer = info && info.layer ? info.layer : tag;
  const kind = info && info.kind ? info.kind : "?";
  const entry = BY_KIND.get(kind);
  const units = unitsOf(info);
  const unitText = entry ? entry.unitsText(units) : defaultUnitsText(units);
  return `${layer} · ${kind}${unitText ? ` — ${unitText}` : ""}`;
}
