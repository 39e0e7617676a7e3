"""The featviz panel in Chromium against a real TensorBoard process: the AM
grid, the step slider and player, layers and runs, a unit's history, the
empty state, and --path_prefix. The logdir is panel_logs.write_am_logdir's;
console errors fail a test (browser.Console).
"""

import math
import re

import pytest

from tests.e2e import tensorboard_server
from tests.e2e.browser import format3
from tests.e2e.browser import open_panel
from tests.e2e.browser import wait_for_images
from tests.e2e.panel_logs import SIZE
from tests.e2e.panel_logs import STEPS
from tests.e2e.panel_logs import activation
from tests.e2e.panel_logs import write_am_logdir


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  return write_am_logdir(tmp_path_factory.mktemp("browser") / "logs")


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
