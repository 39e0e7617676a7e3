"""The featviz panel in a real browser: real event files, a real TensorBoard
process and Debian's Chromium driven by Playwright.

The logdir holds two runs written with `tb_featviz.summary.am`:
  train: conv1 (8 units) and conv2 (5 units) at steps 0, 5, 10, 15, 20;
  eval:  conv1 (8 units) at steps 0, 10, 20.
Every picture is different (random pixels seeded by run, layer and step) and
every activation is known, so the test can check what the panel shows.

Console errors and uncaught exceptions of the page and of the plugin's iframe
fail a test. Only errors are collected: TensorBoard 2.21's own page also logs a
*warning* ("Multiple instances of Three.js being imported."), which is not one.
`_TENSORBOARD_NOISE` lists the error messages that are ignored because they come
from TensorBoard itself and have nothing to do with the plugin:

- Under --path_prefix, TensorBoard's own font stylesheet (font-roboto/roboto.html
  in its webfiles.zip) asks for `url(/font-roboto/....woff2)`, an absolute path
  that misses the prefix, so the outer page logs "Failed to load resource: ...
  404" for `http://host:port/font-roboto/...`. The panel loads no fonts.
"""

import math
import os
import re

import numpy as np
import pytest

sync_api = pytest.importorskip("playwright.sync_api")

from tests import tensorboard_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
           "(`make chromium` installs it; Playwright's own download does not work here)")

RUNS = {
    "train": {"conv1": 8, "conv2": 5},
    "eval": {"conv1": 8},
}
STEPS = {"train": [0, 5, 10, 15, 20], "eval": [0, 10, 20]}
SIZE = 28
TIMEOUT_MS = 15_000

# Error-level console messages that TensorBoard's own page (not the plugin)
# prints: (regex on the text, regex on the URL it is about). Explained above.
_TENSORBOARD_NOISE = [
    (r"^Failed to load resource: .* 404", r"^http://127\.0\.0\.1:\d+/font-roboto/"),
]


def activation(run, layer, step, unit):
  """The activation logged for one unit: distinct, with more than 3 digits."""
  scale = 1.2345 if layer == "conv1" else -0.04321
  return (1.0 + unit) * (1.0 + step / 10.0) * scale + (0.5 if run == "eval" else 0.0)


def format3(value):
  """What the panel should show for `value` (stored as float32): 3 significant digits."""
  return str(float(f"{float(np.float32(value)):.3g}")).removesuffix(".0")


def write_logdir(root):
  """Writes the runs above as real event files; returns the logdir."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from tb_featviz import summary  # pylint: disable=import-outside-toplevel

  for run_index, (run, layers) in enumerate(RUNS.items()):
    writer = tf.summary.create_file_writer(str(root / run))
    with writer.as_default():
      for step in STEPS[run]:
        for layer_index, (layer, n_units) in enumerate(layers.items()):
          rng = np.random.default_rng([run_index, layer_index, step])
          images = rng.random((n_units, SIZE, SIZE, 1), dtype=np.float32)
          summary.am(layer, images, step=step, units=list(range(n_units)),
                     activations=[activation(run, layer, step, u)
                                  for u in range(n_units)],
                     seconds=0.25)
    writer.close()
  return root


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  return write_logdir(tmp_path_factory.mktemp("browser") / "logs")


@pytest.fixture(scope="module")
def server(logdir):
  with tensorboard_server.running(logdir) as base:
    yield base


@pytest.fixture(scope="module")
def browser():
  with sync_api.sync_playwright() as playwright:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


class Console:
  """Collects console errors and uncaught exceptions of a page and its frames."""

  def __init__(self, page):
    self.errors = []
    page.on("console", self._on_console)
    page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

  def _on_console(self, message):
    if message.type != "error":
      return
    text, url = message.text, message.location.get("url") or ""
    if any(re.search(text_re, text) and re.search(url_re, url)
           for text_re, url_re in _TENSORBOARD_NOISE):
      return
    self.errors.append(f"console.error: {text} ({url})")


def plugin_frame(page):
  """The featviz iframe's Frame, once it exists."""
  iframe = page.wait_for_selector('iframe[src*="name=featviz"]', state="attached",
                                  timeout=TIMEOUT_MS)
  frame = iframe.content_frame()
  assert frame is not None
  return frame


def open_panel(browser, base, routes=()):
  """Opens the featviz tab; returns (page, frame, console)."""
  page = browser.new_page(viewport={"width": 1280, "height": 900})
  page.set_default_timeout(TIMEOUT_MS)
  console = Console(page)
  for pattern, handler in routes:
    page.route(pattern, handler)
  page.goto(f"{base}/#featviz")
  return page, plugin_frame(page), console


@pytest.fixture
def panel(browser, server):
  page, frame, console = open_panel(browser, server)
  yield page, frame
  page.close()
  assert not console.errors, console.errors


def wait_for_images(frame, selector):
  """Waits until every image matching `selector` loaded; returns their srcs."""
  frame.wait_for_function(
      """(selector) => {
        const images = [...document.querySelectorAll(selector)];
        return images.length > 0 &&
            images.every((img) => img.complete && img.naturalWidth > 0);
      }""", arg=selector)
  return frame.eval_on_selector_all(
      selector, "(images) => images.map((img) => img.src)")


def tile_units(frame):
  return [int(u) for u in frame.eval_on_selector_all(
      ".fv-tile", "(tiles) => tiles.map((t) => t.dataset.unit)")]


def shown_step(frame):
  return int(frame.get_attribute("#fv-step-label", "data-step"))


def test_grid_shows_one_loaded_image_per_unit(panel):
  _, frame = panel
  frame.wait_for_selector(".fv-tile")
  assert frame.input_value("#fv-run-select") == "eval"  # runs sorted: eval, train
  frame.select_option("#fv-run-select", "train")
  frame.wait_for_function(
      "() => document.querySelector('#fv-step-label').dataset.step === '20' && "
      "document.querySelectorAll('.fv-tile').length === 8 && "
      "document.querySelector('#fv-step-position').textContent === '5 of 5'")
  assert frame.input_value("#fv-tag-select") == "featviz/am/conv1"
  assert "am" in frame.text_content("#fv-tag-select option:checked")
  srcs = wait_for_images(frame, ".fv-tile img")
  assert len(srcs) == 8 == len(set(srcs))
  assert tile_units(frame) == list(range(8))
  # The latest step is shown first, each tile labelled with unit and activation.
  assert frame.text_content("#fv-step-label").strip() == "Step 20"
  labels = frame.eval_on_selector_all(
      ".fv-tile", "(tiles) => tiles.map((t) => [t.querySelector('.fv-unit').textContent,"
      " t.querySelector('.fv-activation').textContent])")
  assert labels == [[f"unit {u}", format3(activation("train", "conv1", 20, u))]
                    for u in range(8)]
  # Small pictures are upscaled with crisp pixels.
  size = frame.eval_on_selector(
      ".fv-tile img", "(img) => [img.clientWidth, img.naturalWidth,"
      " getComputedStyle(img).imageRendering]")
  assert size[1] == SIZE and size[0] >= 3 * SIZE and size[2] == "pixelated"


def test_slider_changes_step_and_images(panel):
  _, frame = panel
  frame.select_option("#fv-run-select", "train")
  frame.wait_for_function("() => document.querySelectorAll('.fv-tile').length === 8")
  latest = wait_for_images(frame, ".fv-tile img")
  frame.press("#fv-step-slider", "Home")
  frame.wait_for_function(
      "() => document.querySelector('#fv-step-label').textContent === 'Step 0'")
  first = wait_for_images(frame, ".fv-tile img")
  assert len(first) == 8 and not set(first) & set(latest)
  frame.press("#fv-step-slider", "ArrowRight")
  frame.wait_for_function(
      "() => document.querySelector('#fv-step-label').textContent === 'Step 5'")
  second = wait_for_images(frame, ".fv-tile img")
  assert not set(second) & (set(first) | set(latest))
  assert frame.text_content(".fv-tile[data-unit='2'] .fv-activation") == format3(
      activation("train", "conv1", 5, 2))


def test_switching_layer_and_run_changes_grid(panel):
  _, frame = panel
  frame.select_option("#fv-run-select", "train")
  frame.wait_for_function("() => document.querySelectorAll('.fv-tile').length === 8")
  conv1 = wait_for_images(frame, ".fv-tile img")
  frame.select_option("#fv-tag-select", "featviz/am/conv2")
  frame.wait_for_function("() => document.querySelectorAll('.fv-tile').length === 5")
  conv2 = wait_for_images(frame, ".fv-tile img")
  assert len(set(conv2)) == 5 and not set(conv2) & set(conv1)
  assert frame.text_content("#fv-title") == "conv2"
  assert frame.text_content(".fv-tile[data-unit='4'] .fv-activation") == format3(
      activation("train", "conv2", 20, 4))
  # The other run has conv1 only, at three steps.
  frame.select_option("#fv-run-select", "eval")
  frame.wait_for_function(
      "() => document.querySelectorAll('.fv-tile').length === 8 && "
      "document.querySelector('#fv-step-position').textContent === '3 of 3'")
  assert frame.input_value("#fv-tag-select") == "featviz/am/conv1"
  assert len(wait_for_images(frame, ".fv-tile img")) == 8


def test_clicking_a_unit_shows_its_history(panel):
  _, frame = panel
  frame.select_option("#fv-run-select", "train")
  frame.wait_for_function("() => document.querySelectorAll('.fv-tile').length === 8")
  frame.click(".fv-tile[data-unit='3']")
  frame.wait_for_selector("#fv-history[data-unit='3']")
  srcs = wait_for_images(frame, ".fv-history img")
  assert len(srcs) == len(STEPS["train"]) == len(set(srcs))
  captions = frame.eval_on_selector_all(
      ".fv-history-item", "(items) => items.map((i) => [i.dataset.step,"
      " i.querySelector('.fv-history-step').textContent,"
      " i.querySelector('.fv-activation').textContent])")
  assert captions == [[str(s), f"step {s}", format3(activation("train", "conv1", s, 3))]
                      for s in STEPS["train"]]
  # The latest step is the one shown, and its image is the grid's.
  assert frame.get_attribute(".fv-history-item.fv-current", "data-step") == "20"
  assert srcs[-1] == frame.eval_on_selector(
      ".fv-tile[data-unit='3'] img", "(img) => img.src")
  # The chart: an SVG with one point per logged step, values as logged.
  points = frame.eval_on_selector_all(
      "svg#fv-history-chart circle.fv-chart-point",
      "(dots) => dots.map((d) => [Number(d.dataset.step), Number(d.dataset.value)])")
  assert [p[0] for p in points] == STEPS["train"]
  for (_, value), step in zip(points, STEPS["train"]):
    assert math.isclose(value, activation("train", "conv1", step, 3), rel_tol=1e-5)
  assert frame.get_attribute("svg#fv-history-chart polyline.fv-chart-line", "points")
  # Clicking a step of the history moves the slider there.
  frame.click(".fv-history-item[data-step='10']")
  frame.wait_for_function(
      "() => document.querySelector('#fv-step-label').dataset.step === '10'")
  assert frame.get_attribute(".fv-history-item.fv-current", "data-step") == "10"
  # Reload keeps the run, layer, step and unit.
  frame.click("#fv-reload")
  frame.wait_for_function(
      "() => document.querySelector('#fv-status').textContent === ''")
  assert frame.get_attribute("#fv-step-label", "data-step") == "10"
  assert frame.get_attribute("#fv-history", "data-unit") == "3"
  assert frame.input_value("#fv-run-select") == "train"
  # Switching the layer closes the history (unit ids mean other units there).
  frame.select_option("#fv-tag-select", "featviz/am/conv2")
  frame.wait_for_function("() => document.querySelectorAll('.fv-tile').length === 5")
  assert frame.query_selector("#fv-history") is None


def test_play_advances_through_the_steps(panel):
  _, frame = panel
  frame.select_option("#fv-run-select", "train")
  frame.wait_for_function("() => document.querySelectorAll('.fv-tile').length === 8")
  frame.press("#fv-step-slider", "Home")
  frame.wait_for_function(
      "() => document.querySelector('#fv-step-label').dataset.step === '0'")
  frame.evaluate("""() => {
    window.fvSeen = [];
    new MutationObserver(() => window.fvSeen.push(
        Number(document.querySelector('#fv-step-label').dataset.step)))
        .observe(document.querySelector('#fv-step-label'), {attributes: true});
  }""")
  frame.click("#fv-play")
  assert frame.get_attribute("#fv-play", "aria-pressed") == "true"
  frame.wait_for_function(
      "() => document.querySelector('#fv-step-label').dataset.step === '20'",
      timeout=10_000)
  seen = frame.evaluate("() => [...new Set(window.fvSeen)]")
  assert seen == STEPS["train"][1:]
  # Playing stops at the last step.
  frame.wait_for_function(
      "() => document.querySelector('#fv-play').getAttribute('aria-pressed') === 'false'")
  assert len(wait_for_images(frame, ".fv-tile img")) == 8


def test_works_under_path_prefix(browser, logdir):
  with tensorboard_server.running(logdir, path_prefix="/tb") as base:
    assert base.endswith("/tb")
    page, frame, console = open_panel(browser, base)
    try:
      frame.wait_for_selector(".fv-tile")
      assert "/tb/data/plugin_entry.html" in frame.url
      srcs = wait_for_images(frame, ".fv-tile img")
      assert len(srcs) == 8
      assert all(src.startswith(f"{base}/data/plugin/featviz/image?key=") for src in srcs)
      frame.click(".fv-tile[data-unit='1']")
      assert len(wait_for_images(frame, ".fv-history img")) == len(STEPS["eval"])
    finally:
      page.close()
    assert not console.errors, console.errors


def test_empty_state_and_error_messages(browser, server):
  def no_tags(route):
    route.fulfill(status=200, content_type="application/json", body="{}")

  def broken_steps(route):
    route.fulfill(status=404, content_type="text/plain",
                  body="No featviz visualization for run 'eval'")

  page, frame, console = open_panel(browser, server, [("**/featviz/tags", no_tags)])
  try:
    frame.wait_for_selector("#fv-empty:not([hidden])")
    assert frame.text_content("#fv-empty").startswith(
        "No featviz data: add tb_featviz.FeatureVizCallback to model.fit")
    assert frame.is_hidden("#fv-main") and frame.is_hidden("#fv-error")
    assert not console.errors, console.errors
    # Now the tags are there but the steps answer 404: the message is shown.
    page.unroute("**/featviz/tags")
    page.route(re.compile(r"/featviz/steps\?"), broken_steps)
    frame.click("#fv-reload")
    frame.wait_for_selector("#fv-error:not([hidden])")
    text = frame.text_content("#fv-error")
    assert "404" in text and "No featviz visualization for run 'eval'" in text
    assert frame.is_hidden("#fv-empty")
  finally:
    page.close()
  # The only error is the browser's report of the 404 that this test caused.
  assert len(console.errors) == 1 and "404" in console.errors[0], console.errors
