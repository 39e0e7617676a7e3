"""The inversion and MFV views of the featviz panel in Chromium against a real
TensorBoard process, over panel_logs.write_views_logdir's run (inversion of
two layers, the facets of two units); console errors fail a test.
"""

import math

import numpy as np
import pytest

from tests.e2e.browser import format3
from tests.e2e.browser import wait_for_images
from tests.e2e.panel_logs import INVERSION_STEPS
from tests.e2e.panel_logs import N_POINTS
from tests.e2e.panel_logs import PROBES
from tests.e2e.panel_logs import SIZE
from tests.e2e.panel_logs import K
from tests.e2e.panel_logs import embedding
from tests.e2e.panel_logs import facet_activation
from tests.e2e.panel_logs import inversion_error
from tests.e2e.panel_logs import labels
from tests.e2e.panel_logs import mean_activation
from tests.e2e.panel_logs import write_views_logdir


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  return write_views_logdir(tmp_path_factory.mktemp("browser_views") / "logs")


def shown_step(frame):
  return int(frame.get_attribute("#fv-step-label", "data-step"))


def texts(frame, selector):
  return frame.eval_on_selector_all(selector, "(nodes) => nodes.map((n) => n.textContent)")


def attributes(frame, selector, name):
  return frame.eval_on_selector_all(
      selector, "(nodes, name) => nodes.map((n) => n.getAttribute(name))", name)


def select_tag(frame, tag):
  frame.wait_for_selector(f"#fv-tag-select option[value='{tag}']", state="attached")
  frame.select_option("#fv-tag-select", tag)


def circle_positions(frame):
  """[[cx, cy]] of every point, once no animation is running."""
  frame.wait_for_selector("svg#fv-scatter[data-animating='false']", state="attached")
  return frame.eval_on_selector_all(
      "svg#fv-scatter circle.fv-point",
      "(dots) => dots.map((d) => [Number(d.getAttribute('cx')), Number(d.getAttribute('cy'))])")


def test_inversion_shows_originals_reconstructions_and_errors(panel):
  _, frame = panel
  frame.wait_for_function("() => document.querySelectorAll('.fv-pair').length === 4")
  # The layer picker lists every kind, each labelled with it; inversion comes first.
  options = dict(zip(attributes(frame, "#fv-tag-select option", "value"),
                     texts(frame, "#fv-tag-select option")))
  assert options == {
      "featviz/inversion/conv1": "conv1 · inversion",
      "featviz/inversion/conv2": "conv2 · inversion",
      "featviz/mfv/logits/3": "logits · mfv — unit 3",
      "featviz/mfv/logits/5": "logits · mfv — unit 5",
  }
  assert frame.input_value("#fv-tag-select") == "featviz/inversion/conv1"
  assert frame.text_content("#fv-title") == "conv1"
  assert "4 probe images" in frame.text_content("#fv-meta")
  assert shown_step(frame) == 20
  originals = wait_for_images(frame, ".fv-pair .fv-original-img")
  latest = wait_for_images(frame, ".fv-pair .fv-reconstruction-img")
  assert len(originals) == len(set(originals)) == PROBES
  assert len(latest) == len(set(latest)) == PROBES and not set(latest) & set(originals)
  assert texts(frame, ".fv-pair .fv-error-value") == [
      format3(inversion_error("conv1", 20, i)) for i in range(PROBES)]
  size = frame.eval_on_selector(
      ".fv-pair .fv-reconstruction-img",
      "(img) => [img.clientWidth, img.naturalWidth, getComputedStyle(img).imageRendering]")
  assert size[1] == SIZE and size[0] >= 3 * SIZE and size[2] == "pixelated"
  # The slider moves the reconstructions (and errors) through training; the
  # originals stay.
  frame.press("#fv-step-slider", "Home")
  frame.wait_for_function("() => document.querySelector('#fv-step-label').dataset.step === '0'")
  first = wait_for_images(frame, ".fv-pair .fv-reconstruction-img")
  assert len(set(first)) == PROBES and not set(first) & set(latest)
  assert wait_for_images(frame, ".fv-pair .fv-original-img") == originals
  assert texts(frame, ".fv-pair .fv-error-value") == [
      format3(inversion_error("conv1", 0, i)) for i in range(PROBES)]
  frame.press("#fv-step-slider", "ArrowRight")
  frame.wait_for_function("() => document.querySelector('#fv-step-label').dataset.step === '10'")
  middle = wait_for_images(frame, ".fv-pair .fv-reconstruction-img")
  assert not set(middle) & (set(first) | set(latest))
  # The other layer: its own reconstructions and errors, the same originals.
  select_tag(frame, "featviz/inversion/conv2")
  frame.wait_for_function(
      "() => document.querySelector('#fv-title').textContent === 'conv2' && "
      "document.querySelector('#fv-step-label').dataset.step === '20'")
  conv2 = wait_for_images(frame, ".fv-pair .fv-reconstruction-img")
  assert len(set(conv2)) == PROBES and not set(conv2) & set(latest)
  assert texts(frame, ".fv-pair .fv-error-value") == [
      format3(inversion_error("conv2", 20, i)) for i in range(PROBES)]


def test_inversion_compares_layers_and_charts_errors(panel):
  _, frame = panel
  frame.wait_for_function("() => document.querySelectorAll('.fv-pair').length === 4")
  assert frame.is_hidden("#fv-compare")
  frame.press("#fv-step-slider", "Home")
  frame.press("#fv-step-slider", "ArrowRight")
  frame.wait_for_function("() => document.querySelector('#fv-step-label').dataset.step === '10'")
  frame.click(".fv-pair[data-index='2'] .fv-original")
  frame.wait_for_selector("#fv-compare[data-index='2']:not([hidden])")
  # One reconstruction per layer, each at the latest step <= 10: conv2 has 5.
  layers = frame.eval_on_selector_all(
      "#fv-compare .fv-compare-layer",
      "(items) => items.map((i) => [i.dataset.layer, i.dataset.step])")
  assert layers == [["conv1", "10"], ["conv2", "5"]]
  srcs = wait_for_images(frame, "#fv-compare .fv-compare-layer img")
  assert len(srcs) == len(set(srcs)) == 2
  assert srcs[0] == frame.eval_on_selector(
      ".fv-pair[data-index='2'] .fv-reconstruction-img", "(img) => img.src")
  original = wait_for_images(frame, "#fv-compare .fv-compare-original img")
  assert original == [frame.eval_on_selector(
      ".fv-pair[data-index='2'] .fv-original-img", "(img) => img.src")]
  details = texts(frame, "#fv-compare .fv-compare-layer .fv-history-step")
  assert details == [f"step 10 · error {format3(inversion_error('conv1', 10, 2))}",
                     f"step 5 · error {format3(inversion_error('conv2', 5, 2))}"]
  # The comparison follows the slider.
  frame.press("#fv-step-slider", "End")
  frame.wait_for_selector("#fv-compare[data-step='20'] .fv-compare-layer[data-layer='conv2']"
                          "[data-step='20']", state="attached")
  assert len(set(wait_for_images(frame, "#fv-compare img")) - set(srcs) - set(original)) == 2
  # The chart: one line per inversion layer, a point per logged step at the mean error.
  frame.wait_for_selector("svg#fv-inversion-chart polyline.fv-chart-line", state="attached")
  assert attributes(frame, "svg#fv-inversion-chart polyline.fv-chart-line",
                    "data-series") == ["conv1", "conv2"]
  for layer, steps in INVERSION_STEPS.items():
    points = frame.eval_on_selector_all(
        f"svg#fv-inversion-chart circle.fv-chart-point[data-series='{layer}']",
        "(dots) => dots.map((d) => [Number(d.dataset.step), Number(d.dataset.value)])")
    assert [p[0] for p in points] == steps
    for (_, value), step in zip(points, steps):
      expected = np.mean([np.float32(inversion_error(layer, step, i)) for i in range(PROBES)])
      assert math.isclose(value, expected, rel_tol=1e-5)
  assert texts(frame, "#fv-inversion-legend .fv-legend-item") == ["conv1", "conv2"]
  colors = frame.eval_on_selector_all(
      "svg#fv-inversion-chart polyline.fv-chart-line",
      "(lines) => lines.map((l) => getComputedStyle(l).stroke)")
  assert len(set(colors)) == 2
  # Clicking a point of the chart shows that step; Close hides the comparison.
  frame.click("svg#fv-inversion-chart circle[data-series='conv1'][data-step='0']")
  frame.wait_for_function("() => document.querySelector('#fv-step-label').dataset.step === '0'")
  frame.click("#fv-compare-close")
  assert frame.is_hidden("#fv-compare")


def test_mfv_draws_points_facets_and_thumbnails(panel):
  _, frame = panel
  frame.wait_for_selector(".fv-pair")
  select_tag(frame, "featviz/mfv/logits/3")
  frame.wait_for_selector(f"svg#fv-scatter[data-points='{N_POINTS}'][data-step='20']")
  assert frame.text_content("#fv-title") == "logits · unit 3"
  assert len(frame.query_selector_all("svg#fv-scatter circle.fv-point")) == N_POINTS
  # Coloured by facet: k colours, one per label.
  dots = frame.eval_on_selector_all(
      "svg#fv-scatter circle.fv-point",
      "(dots) => dots.map((d) => [Number(d.dataset.index), Number(d.dataset.facet),"
      " getComputedStyle(d).fill])")
  assert [d[0] for d in dots] == list(range(N_POINTS))
  assert [d[1] for d in dots] == labels(20).tolist()
  color_of = {}
  for _, facet, color in dots:
    assert color_of.setdefault(facet, color) == color
  assert len(set(color_of.values())) == K
  assert texts(frame, "#fv-mfv-legend .fv-legend-item") == [f"facet {f}" for f in range(K)]
  # The k facets beside their mean images, with their activations.
  assert attributes(frame, ".fv-facet", "data-facet") == [str(f) for f in range(K)]
  facets = wait_for_images(frame, ".fv-facet .fv-facet-img")
  means = wait_for_images(frame, ".fv-facet .fv-mean-img")
  assert len(set(facets)) == len(set(means)) == K and not set(facets) & set(means)
  assert texts(frame, ".fv-facet .fv-facet-name") == [f"facet {f}" for f in range(K)]
  assert texts(frame, ".fv-facet .fv-activation:not(.fv-mean-activation)") == [
      format3(facet_activation(3, 20, f)) for f in range(K)]
  assert texts(frame, ".fv-facet .fv-mean-activation") == [
      format3(mean_activation(3, 20, f)) for f in range(K)]
  assert attributes(frame, ".fv-facet", "data-count") == [
      str(int(np.sum(labels(20) == f))) for f in range(K)]
  card_colors = frame.eval_on_selector_all(
      ".fv-facet .fv-swatch", "(s) => s.map((x) => getComputedStyle(x).backgroundColor)")
  assert card_colors == [color_of[f] for f in range(K)]
  # Hovering a point shows its thumbnail, cut from the sprite (image i is grey i/29).
  for index in (7, 22):
    frame.hover(f"svg#fv-scatter circle.fv-point[data-index='{index}']")
    frame.wait_for_selector(f"#fv-hover[data-index='{index}']:not([hidden])")
    frame.wait_for_selector(f"canvas#fv-thumb[data-index='{index}']", state="visible")
    assert frame.text_content("#fv-hover .fv-hover-text") == (
        f"image {index} · facet {labels(20)[index]}")
    thumb = frame.eval_on_selector("canvas#fv-thumb", """(canvas) => {
      const data = canvas.getContext('2d').getImageData(
          0, 0, canvas.width, canvas.height).data;
      const greys = new Set();
      for (let i = 0; i < data.length; i += 4) greys.add(data[i]);
      return [canvas.width, canvas.height, [...greys]];
    }""")
    assert thumb[0] >= 2 * SIZE and thumb[0] == thumb[1]
    assert thumb[2] == [round(index / (N_POINTS - 1) * 255)]
  frame.hover("#fv-title")
  frame.wait_for_selector("#fv-hover", state="hidden")


def test_mfv_slider_moves_the_points(panel):
  _, frame = panel
  frame.wait_for_selector(".fv-pair")
  select_tag(frame, "featviz/mfv/logits/3")
  frame.wait_for_selector("svg#fv-scatter[data-step='20']")
  latest = circle_positions(frame)
  # Watch point 0 while the slider goes to step 0: it moves through several
  # positions (an animation), not in one jump.
  frame.evaluate("""() => {
    window.fvSeen = [];
    const dot = document.querySelector("circle.fv-point[data-index='0']");
    new MutationObserver(() => window.fvSeen.push(dot.getAttribute('cx')))
        .observe(dot, {attributes: true, attributeFilter: ['cx']});
  }""")
  frame.press("#fv-step-slider", "Home")
  frame.wait_for_selector("svg#fv-scatter[data-step='0']", state="attached")
  first = circle_positions(frame)
  assert shown_step(frame) == 0
  assert len(set(frame.evaluate("() => window.fvSeen"))) >= 4
  assert first != latest
  # Fixed axes (the union of all steps, equal scales): screen = a + s * data,
  # with the same a and s at every step, y upwards.
  data = np.concatenate([embedding(0), embedding(20)])
  screen = np.array(first + latest)
  scale_x, offset_x = np.polyfit(data[:, 0], screen[:, 0], 1)
  scale_y, offset_y = np.polyfit(data[:, 1], screen[:, 1], 1)
  assert scale_x > 0 and math.isclose(scale_y, -scale_x, rel_tol=1e-3)
  assert np.allclose(screen[:, 0], offset_x + scale_x * data[:, 0], atol=0.02)
  assert np.allclose(screen[:, 1], offset_y + scale_y * data[:, 1], atol=0.02)
  # Colours follow the labels of the step shown.
  assert attributes(frame, "circle.fv-point[data-index='0']", "data-facet") == ["0"]
  assert texts(frame, ".fv-facet .fv-activation:not(.fv-mean-activation)") == [
      format3(facet_activation(3, 0, f)) for f in range(K)]
  # A series without images: the hover card tells the facet and index only.
  select_tag(frame, "featviz/mfv/logits/5")
  frame.wait_for_selector(f"svg#fv-scatter[data-points='{N_POINTS}'][data-step='10']")
  frame.hover("svg#fv-scatter circle.fv-point[data-index='4']")
  frame.wait_for_selector("#fv-hover[data-index='4']:not([hidden])")
  assert frame.text_content("#fv-hover .fv-hover-text") == f"image 4 · facet {labels(10)[4]}"
  assert frame.is_hidden("canvas#fv-thumb")
  assert "no thumbnails" in frame.text_content("#fv-scatter-caption")
