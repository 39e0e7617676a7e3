// Entry point of the featviz panel. TensorBoard loads this module inside an
// iframe whose <base> is /data/plugin/featviz/ and calls render() once.
//
// This file is served as <base>/index.js; the other modules are served as
// <base>/static/<name>, hence the "./static/" prefix of the imports below.
import {App} from "./static/app.js";
import {followTheme} from "./static/theme.js";

/** Adds the panel's stylesheet (served from the package, never a CDN). */
function addStylesheet() {
  if (document.getElementById("fv-stylesheet")) return;
  const link = document.createElement("link");
  link.id = "fv-stylesheet";
  link.rel = "stylesheet";
  link.href = new URL("./static/panel.css", import.meta.url).href;
  document.head.appendChild(link);
}

/** Builds the panel in the iframe's document, in TensorBoard's theme. */
export function render() {
  followTheme();
  addStylesheet();
  document.title = "featviz";
  const root = document.createElement("div");
  root.id = "fv-root";
  document.body.appendChild(root);
  const app = new App(root);
  app.start();
  return app;
}
