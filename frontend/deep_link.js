// Deep links: TensorBoard's URL hash carries a plugin's state as keys
// p.<plugin>.<key>, e.g.
//   #featviz&p.featviz.run=train&p.featviz.tag=featviz%2Fam%2Fconv2
//     &p.featviz.step=5&p.featviz.unit=3   (one line in the URL)
// TensorBoard reads the hash by splitting it at "&" and "=" and decoding each
// side with decodeURIComponent (so "+" stays "+": the values are written with
// encodeURIComponent, as TensorBoard writes its own, not URLSearchParams).
//
// The keys are read with the experimental.GetURLPluginData message and, when
// the page can be read (same origin), from the hash itself: TensorBoard 2.21
// answers that message from a copy of the hash that it only refreshes on a
// hashchange, so on a freshly opened link it answers {}.
import {MessageType, sameOriginParent} from "./host.js";

export const PLUGIN_NAME = "featviz";
const PREFIX = `p.${PLUGIN_NAME}.`;

/** A link value that is a whole number ("12", "-3"). */
export const INTEGER = /^-?\d+$/;

/** Whether a link's key was given (present and not empty). */
export function given(value) {
  return value !== undefined && value !== null && value !== "";
}

/** An integer link value that is one of `allowed`, or null. */
export function integerIn(value, allowed) {
  if (!given(value) || !INTEGER.test(value)) return null;
  const n = Number(value);
  return allowed.includes(n) ? n : null;
}

/** The unit ids of a tag: its metadata's and any its steps list. */
function unitsOfTag(info, steps) {
  const units = new Set(Array.isArray(info.units) ? info.units : []);
  for (const entry of steps) for (const unit of entry.units || []) units.add(unit);
  return [...units];
}

/**
 * A view's fromLink for a deep link's unit: {state: {unit}} opens its history
 * if the tag has that unit; otherwise a note says so.
 */
export function unitFromLink({unit}, info, steps) {
  if (!given(unit)) return {state: null, notes: []};
  const found = integerIn(unit, unitsOfTag(info || {}, steps || []));
  if (found !== null) return {state: {unit: found}, notes: []};
  const layer = (info && info.layer) || "this layer";
  return {state: null, notes: [`no unit “${unit}” in ${layer} (no history opened)`]};
}

/** {key: value} of a URL hash, parsed as TensorBoard does (undecodable pairs left out). */
export function parseHash(hash) {
  const dict = {};
  for (const pair of String(hash || "").replace(/^#/, "").split("&")) {
    const parts = pair.split("=");
    if (parts.length !== 2) continue;
    try {
      dict[decodeURIComponent(parts[0])] = decodeURIComponent(parts[1]);
    } catch (error) {
      // a malformed %-escape: not a key TensorBoard would read either
    }
  }
  return dict;
}

/** The featviz keys of a parsed hash, without their "p.featviz." prefix. */
export function pluginParams(dict) {
  const params = {};
  for (const [key, value] of Object.entries(dict || {})) {
    if (key.startsWith(PREFIX) && typeof value === "string") {
      params[key.slice(PREFIX.length)] = value;
    }
  }
  return params;
}

/** The window whose URL holds the link: TensorBoard's page, or the panel's own. */
function linkWindow(win) {
  return sameOriginParent(win) || win;
}

/** The featviz keys of the current URL hash ({} if it cannot be read). */
export function hashParams(win = window) {
  try {
    return pluginParams(parseHash(linkWindow(win).location.hash));
  } catch (error) {
    return {};
  }
}

/**
 * The deep link the panel was opened with: {run, tag, step, unit, ...} as
 * strings, each only if present. Asks TensorBoard (`host`, see host.js) and
 * reads the hash; the hash wins where both have a key (see above).
 */
export async function readLink(host, win = window) {
  const answer = await host.request(MessageType.GET_URL_DATA);
  const asked = {};
  if (answer && typeof answer === "object") {
    for (const [key, value] of Object.entries(answer)) {
      if (typeof value === "string") asked[key] = value;
    }
  }
  return {...asked, ...hashParams(win)};
}

/**
 * The URL of a view: TensorBoard's page (origin, path and query, or the
 * panel's own when opened directly) with a hash of `params` ({key: value};
 * null, undefined and "" values are left out).
 */
export function linkUrl(params, win = window) {
  const location = linkWindow(win).location;
  const pairs = Object.entries(params)
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([key, value]) =>
        `${encodeURIComponent(PREFIX + key)}=${encodeURIComponent(String(value))}`);
  return `${location.origin}${location.pathname}${location.search}` +
      `#${[PLUGIN_NAME, ...pairs].join("&")}`;
}

/**
 * Calls onLink(params) when the URL's hash changes to other featviz keys (a
 * link pasted into the same tab). Hashes without featviz keys (TensorBoard
 * switching tabs) are ignored. Returns a function that stops watching.
 */
export function watchLink(onLink, win = window) {
  let last = JSON.stringify(hashParams(win));
  const listener = () => {
    const params = hashParams(win);
    const key = JSON.stringify(params);
    if (key === last || !Object.keys(params).length) return;
    last = key;
    onLink(params);
  };
  let target;
  try {
    target = linkWindow(win);
    target.addEventListener("hashchange", listener);
  } catch (error) {
    return () => {};
  }
  return () => target.removeEventListener("hashchange", listener);
}
