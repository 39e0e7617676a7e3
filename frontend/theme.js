// Light or dark, as TensorBoard is. TensorBoard sends no message about its
// theme: it puts the class "dark-mode" on its own <body> (having resolved its
// "browser default" setting itself). The panel's iframe has the same origin,
// so it reads that class and watches it. Opened on its own (or framed by
// another origin) the panel follows the browser's prefers-color-scheme.
//
// The theme is set as data-theme="light" | "dark" on the panel's <html>;
// panel.css does the rest with CSS variables.
import {sameOriginParent} from "./host.js";

const DARK_CLASS = "dark-mode";

/** The body of TensorBoard's page, or null when it cannot be read. */
function parentBody(win) {
  const parent = sameOriginParent(win);
  if (!parent) return null;
  try {
    return parent.document.body || null;
  } catch (error) {
    return null;
  }
}

/**
 * Keeps `root`'s data-theme in step with TensorBoard's theme (or the
 * browser's) and calls onChange(theme) when it changes. Returns a function
 * that stops following.
 */
export function followTheme({root = document.documentElement, win = window,
                             onChange = null} = {}) {
  const body = parentBody(win);
  const media = typeof win.matchMedia === "function"
      ? win.matchMedia("(prefers-color-scheme: dark)") : null;
  const isDark = () => {
    if (body) {
      try {
        return body.classList.contains(DARK_CLASS);
      } catch (error) {
        return false;
      }
    }
    return Boolean(media && media.matches);
  };
  const apply = () => {
    const theme = isDark() ? "dark" : "light";
    if (root.dataset.theme === theme) return;
    root.dataset.theme = theme;
    if (onChange) onChange(theme);
  };
  apply();
  if (body) {
    const observer = new MutationObserver(apply);
    observer.observe(body, {attributes: true, attributeFilter: ["class"]});
    return () => observer.disconnect();
  }
  if (media) {
    media.addEventListener("change", apply);
    return () => media.removeEventListener("change", apply);
  }
  return () => {};
}
