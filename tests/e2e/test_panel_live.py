"""The featviz panel as a live TensorBoard dashboard, in Chromium against a
real TensorBoard process: new steps, layers and runs appear after
TensorBoard's own reload (its reload button, which sends the panel
experimental.DataReloaded), the slider follows the latest step or stays put
with an "N new steps" button, the panel follows TensorBoard's dark mode, and
deep links (#featviz&p.featviz.run=...&p.featviz.tag=...&p.featviz.step=...
&p.featviz.unit=...) open their view or fall back with a one-line notice.

New steps are written while the page is open, with `tb_featviz.summary` into
a new events file of a run (a new `tf.summary.create_file_writer`, closed).
Before pressing TensorBoard's reload button a test waits until TensorBoard's
backend (--reload_interval 1) serves them, so that the reload has something
to bring; then it waits for the panel to show them. No sleeps.

The logdir holds, besides the runs of panel_logs.write_am_logdir (train: conv1 8 units
and conv2 5 units at steps 0, 5, ..., 20; eval: conv1 at 0, 10, 20), one run
per test that adds data, so the tests do not depend on each other's writes.
Console errors and page errors fail every test (browser.Console).
"""

import json
import time
import urllib.parse

import numpy as np
import pytest

from tests.e2e import panel_logs
from tests.e2e import tensorboard_server
from tests.e2e.browser import TIMEOUT_MS
from tests.e2e.browser import Console
from tests.e2e.browser import format3
from tests.e2e.browser import plugin_frame
from tests.e2e.browser import wait_for_images
from tests.e2e.panel_logs import SIZE
from tests.e2e.panel_logs import activation
from tests.e2e.panel_logs import write_am_logdir

BACKEND_TIMEOUT_S = 60
AM_TAG = "featviz/am/conv1"
UNITS = 4
# A run whose name needs escaping in a URL hash ("=", "&", "+", "#", "%", " ").
ODD_RUN = "lr=0.1 & bs+32 #2 100%"
# Runs that tests add steps to (each test its own), with their first steps.
LIVE_RUNS = {"follow": [0, 5, 10], "stay": [0, 5, 10], "grow": [0]}
INVERSION_TAG = "featviz/inversion/conv1"
MFV_TAG = "featviz/mfv/logits/3"


def write_am(logdir, run, steps, layer="conv1", units=UNITS):
  """Writes AM steps of `layer` into a new events file of `run`."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from tb_featviz import summary  # pylint: disable=import-outside-toplevel

  writer = tf.summary.create_file_writer(str(logdir / run))
  with writer.as_default():
    for step in steps:
      rng = np.random.default_rng([7, len(run), step, units])
      summary.am(layer, rng.random((units, SIZE, SIZE, 1), dtype=np.float32), step=step,
                 units=list(range(units)),
                 activations=[activation("train", "conv1", step, u) for u in range(units)])
  writer.close()


def write_views(logdir, run, inversion_steps, mfv_steps):
  """Writes inversion (conv1) and MFV (logits unit 3) steps into a new events file."""
  panel_logs.write_views(logdir, run, {"conv1": inversion_steps},
                         {3: (mfv_steps, False)})


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  root = write_am_logdir(tmp_path_factory.mktemp("live") / "logs")
  for run, steps in LIVE_RUNS.items():
    write_am(root, run, steps)
  write_am(root, ODD_RUN, [0, 3])
  write_views(root, "views", [0, 10], [0, 10])
  return root


def open_page(browser, url, color_scheme=None, direct=False):
  """A new page (its own browser context) at `url`; returns (page, console).

  With `direct` (the panel's document opened on its own, as the top page) the
  browser asks for /favicon.ico, which TensorBoard does not serve; that
  request is answered empty here so its 404 does not count as a console error.
  """
  page = browser.new_page(viewport={"width": 1280, "height": 900},
                          color_scheme=color_scheme)
  page.set_default_timeout(TIMEOUT_MS)
  console = Console(page)
  if direct:
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
  page.goto(url)
  return page, console


@pytest.fixture
def pages(browser):
  """Opens pages with open(url) -> (page, frame); fails on any console error."""
  opened = []

  def open_(url, color_scheme=None, direct=False):
    page, console = open_page(browser, url, color_scheme, direct)
    opened.append((page, console))
    frame = page.main_frame if direct else plugin_frame(page)
    return page, frame

  yield open_
  errors = [error for page, console in opened for error in console.errors]
  for page, _ in opened:
    page.close()
  assert not errors, errors


def link(base, **params):
  """TensorBoard's URL of a featviz deep link, escaped as TensorBoard escapes."""
  pairs = [f"{quote(f'p.featviz.{key}')}={quote(str(value))}"
           for key, value in params.items()]
  return f"{base}/#" + "&".join(["featviz", *pairs])


def quote(text):
  """JavaScript's encodeURIComponent."""
  return urllib.parse.quote(text, safe="-_.!~*'()")


def served_steps(base, run, tag):
  """The steps of `tag` in `run` that TensorBoard's backend serves (None: not yet)."""
  status, _, body = tensorboard_server.get(
      f"{base}/data/plugin/featviz/steps?" + urllib.parse.urlencode({"run": run, "tag": tag}))
  if status != 200:
    return None
  return [entry["step"] for entry in json.loads(body)["steps"]]


def wait_until_served(base, run, tag, steps):
  """Waits until TensorBoard's backend serves exactly `steps` of `tag` in `run`."""
  deadline = time.monotonic() + BACKEND_TIMEOUT_S
  while (got := served_steps(base, run, tag)) != steps:
    assert time.monotonic() < deadline, (run, tag, got, steps)
    time.sleep(0.2)


def reload_tensorboard(page):
  """Presses TensorBoard's own reload button (not the panel's)."""
  page.click("app-header-reload button.reload-button")


def count_panel_reloads(frame):
  """Counts clicks on the panel's own Reload button from now on (window.__fvReloads)."""
  frame.evaluate("""() => {
    window.__fvReloads = 0;
    document.querySelector('#fv-reload').addEventListener(
        'click', () => { window.__fvReloads += 1; });
  }""")


def select_run(frame, run):
  frame.wait_for_selector(f"#fv-run-select option[value='{run}']", state="attached")
  frame.select_option("#fv-run-select", run)


def wait_step(frame, step, position):
  frame.wait_for_function(
      "([step, position]) => document.querySelector('#fv-step-label')?.dataset.step === step"
      " && document.querySelector('#fv-step-position').textContent === position && "
      "document.querySelector('#fv-status').textContent === ''",
      arg=[str(step), position])


def history_steps(frame):
  return frame.eval_on_selector_all(
      ".fv-history-item", "(items) => items.map((i) => Number(i.dataset.step))")


def test_new_step_appears_after_tensorboards_reload_and_the_slider_follows(
    pages, server, logdir):
  page, frame = pages(f"{server}/#featviz")
  select_run(frame, "follow")
  wait_step(frame, 10, "3 of 3")
  before = wait_for_images(frame, ".fv-tile img")
  frame.click(".fv-tile[data-unit='2']")
  frame.wait_for_selector("#fv-history[data-unit='2']")
  assert history_steps(frame) == [0, 5, 10]
  count_panel_reloads(frame)

  write_am(logdir, "follow", [15])
  wait_until_served(server, "follow", AM_TAG, [0, 5, 10, 15])
  reload_tensorboard(page)

  # The slider stood on the latest step: it moves to the new one, and the
  # open history takes the new step in.
  wait_step(frame, 15, "4 of 4")
  frame.wait_for_function("() => document.querySelectorAll('.fv-history-item').length === 4")
  assert history_steps(frame) == [0, 5, 10, 15]
  assert frame.get_attribute("#fv-history", "data-unit") == "2"
  assert frame.get_attribute(".fv-history-item.fv-current", "data-step") == "15"
  points = frame.eval_on_selector_all(
      "svg#fv-history-chart circle.fv-chart-point", "(dots) => dots.map((d) => d.dataset.step)")
  assert points == ["0", "5", "10", "15"]
  after = wait_for_images(frame, ".fv-tile img")
  assert len(after) == UNITS and not set(after) & set(before)
  assert frame.is_hidden("#fv-new-steps")
  assert "4 steps logged" in frame.text_content("#fv-meta")
  assert frame.evaluate("() => window.__fvReloads") == 0


def test_slider_left_elsewhere_stays_and_counts_new_steps(pages, server, logdir):
  page, frame = pages(f"{server}/#featviz")
  select_run(frame, "stay")
  wait_step(frame, 10, "3 of 3")
  frame.press("#fv-step-slider", "Home")
  wait_step(frame, 0, "1 of 3")
  frame.click(".fv-tile[data-unit='1']")
  frame.wait_for_selector("#fv-history[data-unit='1']")
  count_panel_reloads(frame)

  write_am(logdir, "stay", [15, 20])
  wait_until_served(server, "stay", AM_TAG, [0, 5, 10, 15, 20])
  reload_tensorboard(page)
  frame.wait_for_selector("#fv-new-steps:not([hidden])")
  assert frame.text_content("#fv-new-steps").startswith("2 new steps")
  wait_step(frame, 0, "1 of 5")
  assert history_steps(frame) == [0, 5, 10, 15, 20]
  assert frame.get_attribute(".fv-history-item.fv-current", "data-step") == "0"

  # More steps: the count grows from the latest step the user saw.
  write_am(logdir, "stay", [25])
  wait_until_served(server, "stay", AM_TAG, [0, 5, 10, 15, 20, 25])
  reload_tensorboard(page)
  frame.wait_for_function(
      "() => document.querySelector('#fv-new-steps').dataset.count === '3'")
  assert frame.text_content("#fv-new-steps").startswith("3 new steps")
  wait_step(frame, 0, "1 of 6")

  # The button jumps to the latest step and goes away.
  frame.click("#fv-new-steps")
  wait_step(frame, 25, "6 of 6")
  assert frame.is_hidden("#fv-new-steps")
  assert frame.get_attribute("#fv-history", "data-unit") == "1"
  assert frame.get_attribute(".fv-history-item.fv-current", "data-step") == "25"
  assert frame.evaluate("() => window.__fvReloads") == 0


def test_new_runs_and_layers_appear_without_a_click(pages, server, logdir):
  page, frame = pages(f"{server}/#featviz")
  select_run(frame, "grow")
  wait_step(frame, 0, "1 of 1")
  tags = "(options) => options.map((o) => o.value)"
  assert frame.eval_on_selector_all("#fv-tag-select option", tags) == [AM_TAG]
  count_panel_reloads(frame)

  write_am(logdir, "grow", [0, 1], layer="conv9", units=2)
  write_am(logdir, "late", [4])
  wait_until_served(server, "grow", "featviz/am/conv9", [0, 1])
  wait_until_served(server, "late", AM_TAG, [4])
  reload_tensorboard(page)
  frame.wait_for_selector("#fv-run-select option[value='late']", state="attached")
  frame.wait_for_selector("#fv-tag-select option[value='featviz/am/conv9']",
                          state="attached")
  # What is shown stays as it was.
  assert frame.input_value("#fv-run-select") == "grow"
  assert frame.input_value("#fv-tag-select") == AM_TAG
  assert frame.eval_on_selector_all("#fv-tag-select option", tags) == [
      AM_TAG, "featviz/am/conv9"]
  assert frame.evaluate("() => window.__fvReloads") == 0
  frame.select_option("#fv-run-select", "late")
  wait_step(frame, 4, "1 of 1")
  assert len(wait_for_images(frame, ".fv-tile img")) == UNITS


def test_inversion_and_mfv_views_follow_new_steps(pages, server, logdir):
  page, frame = pages(f"{server}/#featviz")
  select_run(frame, "views")
  frame.wait_for_selector(f"#fv-tag-select option[value='{INVERSION_TAG}']", state="attached")
  assert frame.input_value("#fv-tag-select") == INVERSION_TAG
  wait_step(frame, 10, "2 of 2")
  frame.click(".fv-pair[data-index='1'] .fv-original")
  frame.wait_for_selector("#fv-compare[data-index='1'][data-step='10']:not([hidden])")
  frame.wait_for_selector("svg#fv-inversion-chart circle.fv-chart-point", state="attached")

  write_views(logdir, "views", [20], [])
  wait_until_served(server, "views", INVERSION_TAG, [0, 10, 20])
  reload_tensorboard(page)
  wait_step(frame, 20, "3 of 3")
  # The compared probe stays open and follows; the chart gains the step.
  frame.wait_for_selector("#fv-compare[data-index='1'][data-step='20']:not([hidden])")
  frame.wait_for_function(
      "() => document.querySelectorAll('svg#fv-inversion-chart circle.fv-chart-point')"
      ".length === 3")
  assert frame.get_attribute(".fv-pair.fv-selected", "data-index") == "1"
  errors = frame.eval_on_selector_all(".fv-pair .fv-error-value",
                                      "(nodes) => nodes.map((n) => n.textContent)")
  assert errors == [format3(panel_logs.inversion_error("conv1", 20, i))
                    for i in range(panel_logs.PROBES)]

  frame.select_option("#fv-tag-select", MFV_TAG)
  frame.wait_for_selector("svg#fv-scatter[data-step='10']")
  write_views(logdir, "views", [], [20])
  wait_until_served(server, "views", MFV_TAG, [0, 10, 20])
  reload_tensorboard(page)
  wait_step(frame, 20, "3 of 3")
  frame.wait_for_selector("svg#fv-scatter[data-step='20'][data-animating='false']",
                          state="attached")
  facets = frame.eval_on_selector_all(
      ".fv-facet .fv-activation:not(.fv-mean-activation)",
      "(nodes) => nodes.map((n) => n.textContent)")
  assert facets == [format3(panel_logs.facet_activation(3, 20, f))
                    for f in range(panel_logs.K)]


COLOURS = """() => {
  const style = (selector) => getComputedStyle(document.querySelector(selector));
  return {
    theme: document.documentElement.dataset.theme,
    background: style('body').backgroundColor,
    text: style('body').color,
    tileBorder: style('.fv-tile').borderTopColor,
    select: style('#fv-run-select').backgroundColor,
    axisText: style('svg#fv-history-chart .fv-chart-axes text').fill,
    gridLine: style('svg#fv-history-chart .fv-chart-grid line').stroke,
    imageFilter: style('.fv-tile img').filter,
  };
}"""


def luminance(css_colour):
  """Mean of the r, g, b of an "rgb(r, g, b)" colour, 0 to 255."""
  values = css_colour[css_colour.index("(") + 1:css_colour.index(")")].split(",")
  return sum(float(v) for v in values[:3]) / 3


def test_dark_mode_follows_tensorboards_theme(pages, server):
  page, frame = pages(f"{server}/#featviz")
  frame.wait_for_selector(".fv-tile")
  frame.click(".fv-tile[data-unit='0']")
  frame.wait_for_selector("svg#fv-history-chart")
  light = frame.evaluate(COLOURS)
  assert light["theme"] == "light" and light["background"] == "rgb(255, 255, 255)"
  assert luminance(light["text"]) < 60

  # TensorBoard's own theme menu: dark.
  page.click("button[aria-label='Menu for changing light or dark theme']")
  page.click("button[title='Force dark TensorBoard theme.']")
  assert page.wait_for_function("() => document.body.classList.contains('dark-mode')")
  frame.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
  dark = frame.evaluate(COLOURS)
  assert dark["background"] == "rgb(48, 48, 48)"  # TensorBoard's dark #303030
  assert luminance(dark["text"]) > 200
  for key in ("tileBorder", "select", "axisText", "gridLine"):
    assert dark[key] != light[key], key
  assert luminance(dark["axisText"]) > luminance(light["axisText"])
  assert light["imageFilter"] == dark["imageFilter"] == "none"  # pictures keep their pixels

  # And back, by TensorBoard's class alone.
  page.evaluate("() => document.body.classList.remove('dark-mode')")
  frame.wait_for_function("() => document.documentElement.dataset.theme === 'light'")
  assert frame.evaluate(COLOURS) == light


def test_deep_link_opens_run_tag_step_and_unit(pages, server):
  url = link(server, run="train", tag="featviz/am/conv2", step=5, unit=3)
  page, frame = pages(url)
  frame.wait_for_selector("#fv-history[data-unit='3']")
  wait_step(frame, 5, "2 of 5")
  assert frame.input_value("#fv-run-select") == "train"
  assert frame.input_value("#fv-tag-select") == "featviz/am/conv2"
  assert frame.get_attribute(".fv-tile.fv-selected", "data-unit") == "3"
  assert frame.get_attribute(".fv-history-item.fv-current", "data-step") == "5"
  assert frame.is_hidden("#fv-notice")

  # The Link button gives the link of the view shown, and it follows the view.
  frame.click("#fv-link")
  assert frame.input_value("#fv-link-url") == url
  frame.press("#fv-step-slider", "ArrowRight")
  wait_step(frame, 10, "3 of 5")
  assert frame.input_value("#fv-link-url") == link(
      server, run="train", tag="featviz/am/conv2", step=10, unit=3)
  frame.click("#fv-history-close")
  assert frame.input_value("#fv-link-url") == link(
      server, run="train", tag="featviz/am/conv2", step=10)
  frame.click("#fv-link-copy")
  frame.wait_for_function("() => document.querySelector('#fv-link-status').textContent !== ''")


def test_deep_link_round_trip_with_a_name_that_needs_escaping(pages, server):
  page, frame = pages(f"{server}/#featviz")
  select_run(frame, ODD_RUN)
  wait_step(frame, 3, "2 of 2")
  frame.press("#fv-step-slider", "Home")
  wait_step(frame, 0, "1 of 2")
  frame.click(".fv-tile[data-unit='2']")
  frame.click("#fv-link")
  url = frame.input_value("#fv-link-url")
  assert url == link(server, run=ODD_RUN, tag=AM_TAG, step=0, unit=2)

  _, other = pages(url)
  other.wait_for_selector("#fv-history[data-unit='2']")
  wait_step(other, 0, "1 of 2")
  assert other.input_value("#fv-run-select") == ODD_RUN
  assert other.is_hidden("#fv-notice")


@pytest.mark.parametrize("params, shown, notice", [
    ({"run": "nope", "tag": "featviz/am/conv2", "step": 10},
     ("train", "featviz/am/conv2", 10, "3 of 5"), "run “nope” not found (showing “train”)"),
    ({"run": "eval", "tag": "featviz/am/nope"},
     ("eval", AM_TAG, 20, "3 of 3"), "layer “featviz/am/nope” not found in “eval”"),
    ({"run": "train", "tag": AM_TAG, "step": 12, "unit": 99},
     ("train", AM_TAG, 10, "3 of 5"), "step 12 was not logged (showing step 10, the nearest); "
                                      "no unit “99” in conv1 (no history opened)"),
    ({"run": "<b>x</b>", "tag": "?", "step": "abc", "unit": "1.5"},
     ("eval", AM_TAG, 20, "3 of 3"), "step “abc” is not a step number"),
], ids=["unknown-run", "unknown-tag", "unlogged-step-unknown-unit", "all-bad"])
def test_bad_deep_link_falls_back_with_a_one_line_notice(pages, server, params, shown, notice):
  page, frame = pages(link(server, **params))
  frame.wait_for_selector("#fv-notice:not([hidden])")
  run, tag, step, position = shown
  wait_step(frame, step, position)
  assert frame.input_value("#fv-run-select") == run
  assert frame.input_value("#fv-tag-select") == tag
  assert len(wait_for_images(frame, ".fv-tile img")) > 0  # never a blank panel
  assert frame.query_selector("#fv-history") is None
  text = frame.text_content("#fv-notice .fv-notice-text")
  assert text.startswith("Link: ") and notice in text and "\n" not in text, text
  assert frame.eval_on_selector("#fv-notice .fv-notice-text", "(e) => e.children.length") == 0
  frame.click("#fv-notice-close")
  assert frame.is_hidden("#fv-notice")


def test_link_pasted_into_the_same_tab_opens_its_view(pages, server):
  page, frame = pages(f"{server}/#featviz")
  frame.wait_for_selector(".fv-tile")
  assert frame.input_value("#fv-run-select") == "eval"
  page.evaluate("(hash) => { window.location.hash = hash; }",
                link("", run="train", tag=AM_TAG, step=15, unit=4)[1:])
  frame.wait_for_selector("#fv-history[data-unit='4']")
  wait_step(frame, 15, "4 of 5")
  assert frame.input_value("#fv-run-select") == "train"


def test_panel_opened_directly_works_without_tensorboards_page(pages, server):
  entry = f"{server}/data/plugin_entry.html?name=featviz"
  page, frame = pages(f"{entry}#featviz&p.featviz.run=train&p.featviz.step=5",
                      color_scheme="dark", direct=True)
  assert frame.evaluate("() => window.parent === window")
  wait_step(frame, 5, "2 of 5")
  assert frame.input_value("#fv-run-select") == "train"
  assert len(wait_for_images(frame, ".fv-tile img")) == 8
  # No TensorBoard page to follow: the browser's colour scheme.
  assert frame.evaluate("() => document.documentElement.dataset.theme") == "dark"
  frame.click("#fv-link")
  assert frame.input_value("#fv-link-url") == (
      f"{entry}#featviz&p.featviz.run=train&p.featviz.tag={quote(AM_TAG)}&p.featviz.step=5")
  frame.click("#fv-reload")
  frame.wait_for_function("() => document.querySelector('#fv-status').textContent === ''")
  wait_step(frame, 5, "2 of 5")
