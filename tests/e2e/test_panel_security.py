"""The featviz panel with hostile names, under TensorBoard's CSP, in Chromium.

The logdir is written with `tb_featviz.summary` as a user would, except that
every name a user controls is hostile: run directories named like HTML
(`<img src=x onerror=...>`, Linux allows < > " = in names), layer names
holding `<script>` (`summary.am(name, ...)` takes any string; a Keras layer
name cannot hold "/", a summary name can) and a description with HTML and a
`javascript:` link. Every view (AM, inversion, MFV) is opened with them.

What must hold: no injected code runs (`window.__xss` stays undefined in the
panel's iframe and in TensorBoard's page), the names are shown as text
(textContent holds the literal strings), the iframe document has a
Content-Security-Policy and the panel runs under it without a single
violation (no inline script; a planted inline script is the positive control
that shows violations are seen), every featviz response carries
`X-Content-Type-Options: nosniff`, and the console shows no errors.
"""

import base64
import json
import os
import re
import types
import urllib.parse

import numpy as np
import pytest

from tests.e2e import tensorboard_server
from tests.e2e.browser import TIMEOUT_MS

# Each sets window.__xss to its number if it ever runs.
RUN = '<img src=x onerror="window.__xss=1">'
RUN_URL = "q&tag=x#frag?%2e%2e javascript:window.__xss=8 <b>"  # breaks careless URLs
AM_LAYER = "<script>window.__xss=2</script>"
AM_LAYER_2 = '"><svg onload="window.__xss=3"><b>bold'
DESCRIPTION = ('<img src=x onerror="window.__xss=4"> **bold** '
               '<a href="javascript:window.__xss=5">link</a> '
               '<script>window.__xss=9</script>')
INV_LAYERS = ['<iframe srcdoc="<script>parent.__xss=6</script>">',
              "<style>*{display:none}</style>conv1"]
MFV_LAYER = '<math><mi xlink:href="javascript:window.__xss=7">x</mi></math>'
MFV_UNIT = 3
SIZE = 8

# Collects CSP violations in every frame, from before any script of it runs.
_INIT_SCRIPT = """
(() => {
  window.__fvViolations = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__fvViolations.push(`${e.violatedDirective} blocked ` +
        `${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
  });
})();
"""

# Whatever injected markup could leave behind in the panel's document.
_INJECTED = """() => {
  const all = [...document.querySelectorAll("*")];
  return {
    handlers: all.filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name)))
        .map((e) => e.outerHTML.slice(0, 120)),
    scripts: [...document.scripts].map((s) => s.src || s.textContent.slice(0, 80)),
    frames: document.querySelectorAll("iframe, frame, object, embed").length,
    foreign: document.querySelectorAll(
        "math, style, svg script, a[href^='javascript' i], img[src='x']").length,
    xss: window.__xss,
    parentXss: window.parent.__xss,
  };
}"""


def write_logdir(root):
  """The hostile logdir; returns it."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from tb_featviz import summary  # pylint: disable=import-outside-toplevel

  rng = np.random.default_rng(0)
  writer = tf.summary.create_file_writer(str(root / RUN))
  with writer.as_default():
    for step in range(2):
      summary.am(AM_LAYER, rng.random((3, SIZE, SIZE, 1), dtype=np.float32), step=step,
                 activations=[1.0, 2.0, 3.0], description=DESCRIPTION)
      summary.am(AM_LAYER_2, rng.random((2, SIZE, SIZE, 3), dtype=np.float32),
                 step=step, activations=[4.0, 5.0])
      originals = rng.random((2, SIZE, SIZE, 1), dtype=np.float32)
      for layer in INV_LAYERS:
        summary.inversion(layer, rng.random((2, SIZE, SIZE, 1)), step=step,
                          originals=originals if step == 0 else None,
                          errors=[0.5, 0.25], description=DESCRIPTION)
      n, k = 6, 2
      images = rng.random((n, SIZE, SIZE, 1), dtype=np.float32)
      result = types.SimpleNamespace(
          facets=rng.random((k, SIZE, SIZE, 1), dtype=np.float32),
          mean_images=rng.random((k, SIZE, SIZE, 1), dtype=np.float32),
          embedding=rng.normal(size=(n, 2)), labels=[0, 0, 0, 1, 1, 1],
          activations=[1.5, 2.5], mean_activations=[0.5, 0.75], unit=MFV_UNIT,
          value_range=(0.0, 1.0), display_shape=None)
      summary.mfv(MFV_LAYER, result, step=step, images=images, description=DESCRIPTION)
  writer.close()
  writer = tf.summary.create_file_writer(str(root / RUN_URL))
  with writer.as_default():
    summary.am("conv1", rng.random((2, SIZE, SIZE, 1), dtype=np.float32), step=0,
               activations=[1.0, 2.0])
  writer.close()
  return root


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  root = write_logdir(tmp_path_factory.mktemp("browser_security") / "logs")
  assert sorted(os.listdir(root)) == sorted([RUN, RUN_URL])
  return root


@pytest.fixture(scope="module", params=["--load_fast=false", "default"])
def server(request, logdir):
  """(base URL, loader) of a TensorBoard over the hostile logdir."""
  flags = () if request.param == "default" else (request.param,)
  with tensorboard_server.running(logdir, *flags) as base:
    yield base, request.param


def _needs_escapes(*names):
  """Whether JSON must escape a character of one of `names` (", \\, controls)."""
  return any(re.search(r'["\\\x00-\x1f]', name) for name in names)


def fast_loader_cannot_read(loader, run, tag):
  """Whether TensorBoard's fast loader (tensorboard-data-server 0.7.2) fails
  to read the images of `tag` in `run`: its blob keys are JSON that it decodes
  into borrowed strings, so it refuses (400, "BadJson ... expected a borrowed
  string") every key whose run or tag JSON has to escape. Not the plugin's
  doing: it passes the provider's keys through unchanged, and TensorBoard's own
  Images tab has the same problem. See test_serving_reliability."""
  return loader == "default" and _needs_escapes(run, tag)


def _refused_blob_key(url):
  """Whether `url` is a featviz image the fast loader cannot read (see above)."""
  parsed = urllib.parse.urlparse(url or "")
  if not parsed.path.endswith("/data/plugin/featviz/image"):
    return False
  (key,) = urllib.parse.parse_qs(parsed.query).get("key", [""])
  try:
    fields = json.loads(base64.urlsafe_b64decode(key + "=="))
  except ValueError:
    return False
  return _needs_escapes(*[f for f in fields if isinstance(f, str)])


class Watch:
  """Console errors, page errors and the responses of one page.

  Under the fast loader, the browser's reports of the 400s it gives for blob
  keys it cannot parse (see fast_loader_cannot_read) are left out.
  """

  def __init__(self, page, loader):
    self.errors = []
    self.responses = []
    self.refused = []

    def on_console(message):
      if message.type != "error":
        return
      url = message.location.get("url")
      if (loader == "default" and message.text.startswith("Failed to load resource") and
          " 400 " in message.text and _refused_blob_key(url)):
        self.refused.append(url)
        return
      self.errors.append(f"console.error: {message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
    page.on("response", lambda response: self.responses.append(response))

  def csp_console_errors(self):
    return [e for e in self.errors if "Content Security Policy" in e]


@pytest.fixture
def panel(browser, server):
  """(page, frame, watch, loader) of the featviz tab."""
  base, loader = server
  page = browser.new_page(viewport={"width": 1280, "height": 900})
  page.set_default_timeout(TIMEOUT_MS)
  page.add_init_script(_INIT_SCRIPT)
  watch = Watch(page, loader)
  page.goto(f"{base}/#featviz")
  iframe = page.wait_for_selector('iframe[src*="name=featviz"]', state="attached")
  frame = iframe.content_frame()
  frame.wait_for_selector("#fv-run-select option", state="attached")
  yield page, frame, watch, loader
  page.close()


def _assert_nothing_ran(page, frame, where):
  found = frame.evaluate(_INJECTED)
  assert found["xss"] is None and found["parentXss"] is None, (where, found)
  assert page.evaluate("() => window.__xss") is None, where
  assert not found["handlers"], (where, found["handlers"])
  assert found["frames"] == 0 and found["foreign"] == 0, (where, found)
  # Only TensorBoard's module loader, which has no src.
  assert len(found["scripts"]) == 1 and "import(" in found["scripts"][0], found["scripts"]


def _select(frame, run, tag):
  frame.select_option("#fv-run-select", run)
  frame.wait_for_function(
      "(tag) => [...document.querySelectorAll('#fv-tag-select option')]"
      ".some((o) => o.value === tag)", arg=tag)
  frame.select_option("#fv-tag-select", tag)


def _wait_for_title(frame, title):
  frame.wait_for_function(
      "(title) => document.querySelector('#fv-title').textContent === title && "
      "document.querySelector('#fv-status').textContent === ''", arg=title)


def _wait_for_images(frame, selector, loaded=True):
  """Waits until the images of `selector` loaded (or, loaded=False, failed)."""
  frame.wait_for_function(
      """([selector, loaded]) => {
        const images = [...document.querySelectorAll(selector)];
        return images.length > 0 && images.every((img) => img.complete &&
            (img.naturalWidth > 0) === loaded);
      }""", arg=[selector, loaded])


def _text(frame):
  return frame.evaluate("() => document.body.textContent")


def test_hostile_names_are_shown_as_text_and_never_run(panel):
  page, frame, watch, loader = panel

  def loads(run, tag):
    return not fast_loader_cannot_read(loader, run, tag)

  runs = frame.eval_on_selector_all("#fv-run-select option",
                                    "(options) => options.map((o) => o.textContent)")
  assert sorted(runs) == sorted([RUN, RUN_URL])
  _assert_nothing_ran(page, frame, "first paint")

  # AM with a <script> layer name and an HTML description.
  tag = f"featviz/am/{AM_LAYER}"
  _select(frame, RUN, tag)
  _wait_for_title(frame, AM_LAYER)
  _wait_for_images(frame, ".fv-tile img", loads(RUN, tag))
  assert frame.text_content("#fv-description") == DESCRIPTION
  assert frame.eval_on_selector("#fv-description", "(e) => e.children.length") == 0
  assert frame.input_value("#fv-run-select") == RUN
  assert AM_LAYER in frame.text_content("#fv-tag-select option:checked")
  text = _text(frame)
  assert RUN in text and AM_LAYER in text and DESCRIPTION in text
  frame.click(".fv-tile[data-unit='1']")  # its history
  frame.wait_for_selector("#fv-history[data-unit='1']")
  _wait_for_images(frame, ".fv-history img", loads(RUN, tag))
  _assert_nothing_ran(page, frame, "am")

  tag = f"featviz/am/{AM_LAYER_2}"
  _select(frame, RUN, tag)
  _wait_for_title(frame, AM_LAYER_2)
  _wait_for_images(frame, ".fv-tile img", loads(RUN, tag))
  assert frame.is_hidden("#fv-description")
  _assert_nothing_ran(page, frame, "am 2")

  # Inversion: both hostile layers, in the picker, the chart legend and the
  # comparison of one image across layers.
  for layer in INV_LAYERS:
    tag = f"featviz/inversion/{layer}"
    _select(frame, RUN, tag)
    _wait_for_title(frame, layer)
    _wait_for_images(frame, "#fv-inversion img:not([hidden])", loads(RUN, tag))
    assert frame.text_content("#fv-description") == DESCRIPTION
    _assert_nothing_ran(page, frame, f"inversion {layer}")
  frame.wait_for_function(
      "(names) => names.every((n) => document.body.textContent.includes(n)) && "
      "document.querySelector('#fv-inversion-legend') !== null", arg=INV_LAYERS)
  legend = frame.text_content("#fv-inversion-legend")
  assert all(layer in legend for layer in INV_LAYERS), legend
  pair = frame.query_selector("#fv-inversion .fv-pair")
  if pair is not None:  # the comparison across layers, where there is one
    pair.click()
    frame.wait_for_function(
        "(names) => { const c = document.querySelector('#fv-compare');"
        " return c && !c.hidden && names.every((n) => c.textContent.includes(n)); }",
        arg=INV_LAYERS)
  _assert_nothing_ran(page, frame, "inversion compare")

  # MFV: the layer name in the title, with its unit.
  tag = f"featviz/mfv/{MFV_LAYER}/{MFV_UNIT}"
  _select(frame, RUN, tag)
  _wait_for_title(frame, f"{MFV_LAYER} · unit {MFV_UNIT}")
  _wait_for_images(frame, "#fv-mfv img", loads(RUN, tag))
  assert frame.text_content("#fv-description") == DESCRIPTION
  point = frame.query_selector("#fv-mfv svg circle")
  if point is not None:
    point.hover()
  _assert_nothing_ran(page, frame, "mfv")

  # A run whose name breaks URLs unless they are built with URLSearchParams.
  _select(frame, RUN_URL, "featviz/am/conv1")
  _wait_for_title(frame, "conv1")
  _wait_for_images(frame, ".fv-tile img")  # loads with either loader
  assert frame.input_value("#fv-run-select") == RUN_URL
  assert RUN_URL in _text(frame)
  frame.click("#fv-reload")
  _wait_for_title(frame, "conv1")
  _assert_nothing_ran(page, frame, "url run")

  violations = frame.evaluate("() => window.__fvViolations")
  assert violations == [], violations
  assert page.evaluate("() => window.__fvViolations") == []
  assert not watch.errors, watch.errors
  assert bool(watch.refused) == (loader == "default"), watch.refused


def test_panel_runs_under_tensorboards_csp(panel):
  page, frame, watch, loader = panel
  tag = f"featviz/am/{AM_LAYER}"
  _select(frame, RUN, tag)
  _wait_for_title(frame, AM_LAYER)
  _wait_for_images(frame, ".fv-tile img", not fast_loader_cannot_read(loader, RUN, tag))
  frame.click(".fv-tile[data-unit='0']")
  frame.wait_for_selector("#fv-history[data-unit='0']")
  tag = f"featviz/mfv/{MFV_LAYER}/{MFV_UNIT}"
  _select(frame, RUN, tag)
  _wait_for_title(frame, f"{MFV_LAYER} · unit {MFV_UNIT}")
  _wait_for_images(frame, "#fv-mfv img", not fast_loader_cannot_read(loader, RUN, tag))
  _select(frame, RUN_URL, "featviz/am/conv1")
  _wait_for_title(frame, "conv1")
  _wait_for_images(frame, ".fv-tile img")

  # The iframe document: TensorBoard's CSP, scripts only from itself.
  (entry,) = [r for r in watch.responses if "/data/plugin_entry.html" in r.url]
  assert "name=featviz" in entry.url and entry.status == 200
  csp = {d.split()[0]: d.split()[1:] for d in
         entry.headers["content-security-policy"].split(";") if d.strip()}
  assert "'unsafe-inline'" not in csp["script-src"]
  assert csp["default-src"] == ["'self'"] and csp["connect-src"] == ["'self'"]
  assert entry.headers["x-content-type-options"] == "nosniff"

  # Every featviz response: nosniff, and only same-origin requests were made.
  origin = re.match(r"https?://[^/]+", frame.url).group(0)
  featviz = [r for r in watch.responses if "/data/plugin/featviz/" in r.url]
  kinds = set()
  for response in featviz:
    assert response.url.startswith(origin), response.url
    assert response.headers.get("x-content-type-options") == "nosniff", response.url
    kinds.add(response.headers["content-type"].split(";")[0])
  assert {"application/json", "image/png", "text/javascript", "text/css"} <= kinds, kinds
  assert all(r.url.startswith(origin) for r in watch.responses), [
      r.url for r in watch.responses if not r.url.startswith(origin)]

  # No violation, no CSP message in the console...
  assert frame.evaluate("() => window.__fvViolations") == []
  assert page.evaluate("() => window.__fvViolations") == []
  assert not watch.csp_console_errors(), watch.errors
  assert not watch.errors, watch.errors
  # ...and the policy is enforced and its violations are seen: an inline
  # script planted in the panel's document does not run and is reported.
  frame.evaluate("""() => {
    const script = document.createElement("script");
    script.textContent = "window.__planted = 1;";
    document.body.appendChild(script);
  }""")
  frame.wait_for_function("() => window.__fvViolations.length > 0")
  assert frame.evaluate("() => window.__planted") is None
  (violation,) = frame.evaluate("() => window.__fvViolations")
  assert violation.startswith("script-src") and "inline" in violation, violation
  # The same for the checks of test_hostile_names...: a run name put in as
  # HTML is blocked by the CSP, reported, and found by _INJECTED.
  frame.evaluate("(html) => { document.body.insertAdjacentHTML('beforeend', html); }", RUN)
  frame.wait_for_function("() => window.__fvViolations.length > 1")
  assert frame.evaluate("() => window.__fvViolations")[1].startswith("script-src")
  found = frame.evaluate(_INJECTED)
  assert found["handlers"] and found["foreign"] == 1 and found["xss"] is None, found
