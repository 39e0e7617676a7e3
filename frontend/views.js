// Which view shows which kind of visualization.
import {AmView} from "./am_view.js";
import {InversionView} from "./inversion_view.js";
import {MfvView} from "./mfv_view.js";

const VIEWS = {am: AmView, inversion: InversionView, mfv: MfvView};

/** The kinds this panel can show. */
export const VIEW_KINDS = Object.keys(VIEWS);

/** A new view for `kind` (see AmView for what every view offers), or null. */
export function createView(kind, ctx) {
  const View = VIEWS[kind];
  return View ? new View(ctx) : null;
}
