"""The dataset-examples view and MFV facet fidelity of the featviz panel, in
Chromium against a real TensorBoard process; console errors fail a test.

The logdir (written with `tb_featviz.summary`, every number known):

  run "train":
    examples of "conv" (a 4x4 feature map, receptive field 12x12 on probe
    images of 32x32) at steps 0, 5, 10: units 0, 2, 5, k=3. Probe image i is
    a flat grey of value grey(i) with a white 8x8 square on grid cell
    CELLS[i], and each example's strongest position is its image's white
    cell, so a crop must show the white square in its middle;
    AM of "conv" at steps 0 and 10 for units 0 and 2 (unit 5 has none);
    examples of "dense" (no grid: whole images) at steps 0 and 10;
    MFV of logits unit 3 with the fidelity fields (a hand-written record),
    and of unit 4 without them (`summary.mfv`, as older logs are).
  run "live": examples of "conv" at step 0, more written by a test.
"""

import urllib.parse

import numpy as np
import pytest

from tests.e2e import tensorboard_server
from tests.e2e.browser import TIMEOUT_MS
from tests.e2e.browser import Console
from tests.e2e.browser import format3
from tests.e2e.browser import plugin_frame
from tests.e2e.browser import wait_for_images

SIZE = 32
GRID = (4, 4)
FIELD = (12, 12)
N_PROBES = 12
CELLS = [(i // 4, i % 4) for i in range(N_PROBES)]
UNITS = [0, 2, 5]
K = 3
STEPS = [0, 5, 10]
AM_STEPS = [0, 10]
AM_UNITS = [0, 2]
DENSE_STEPS = [0, 10]
DENSE_UNITS = [0, 1]
CONV_TAG = "featviz/examples/conv"
DENSE_TAG = "featviz/examples/dense"
AM_TAG = "featviz/am/conv"
MFV_K = 3
# The MFV fidelity of unit 3: facet 1 drifts to facet 2.
FACET_NEAREST = [0, 2, 2]
FACET_SIMILARITY = [0.91234, 0.45678, 0.78901]
CLUSTER_BEST = [4.0, 10.0, -1.0]
MFV_ACTIVATIONS = [4.6, 5.0, 2.5]


def grey(index):
  """The background value of probe image `index`."""
  return (index + 2) / 40.0


def probe_images():
  """(N, 32, 32, 1): grey(i) everywhere, 1.0 on the 8x8 cell CELLS[i]."""
  images = np.zeros((N_PROBES, SIZE, SIZE, 1), np.float32)
  cell = SIZE // GRID[0]
  for i, (row, col) in enumerate(CELLS):
    images[i] = grey(i)
    images[i, row * cell:(row + 1) * cell, col * cell:(col + 1) * cell] = 1.0
  return images


def indices(step, unit):
  """The k probe images of `unit` at `step`, best first (they change with the step)."""
  start = (UNITS.index(unit) * 4 + step // 5 * 5) % N_PROBES
  return [(start + 3 * j) % N_PROBES for j in range(K)]


def activation(step, unit, rank):
  """Distinct, falling with the rank, with more than 3 digits."""
  return (10.0 - rank) * (1.0 + step / 7.0) + unit * 0.01234


def dense_indices(step, unit):
  return [(unit * 5 + step + j) % N_PROBES for j in range(2)]


def write_examples(writer_dir, layer, steps, units, k, index_of, activation_of,
                   positions=True):
  """Writes the examples of `layer` at `steps` into a new events file of a run."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from tb_featviz import summary  # pylint: disable=import-outside-toplevel
  from tb_featviz.optvis import examples  # pylint: disable=import-outside-toplevel

  probes = probe_images()
  writer = tf.summary.create_file_writer(str(writer_dir))
  with writer.as_default():
    for n, step in enumerate(steps):
      found = np.array([index_of(step, u) for u in units])
      result = examples.ExamplesResult(
          indices=found, units=list(units),
          activations=np.array([[activation_of(step, u, r) for r in range(k)]
                                for u in units], np.float32),
          positions=np.array([[CELLS[i] for i in row] for row in found]) if positions else None,
          layer=layer, grid_shape=GRID if positions else ())
      summary.examples(layer, result, step=step, images=probes if n == 0 else None,
                       display_shape=(SIZE, SIZE, 1),
                       receptive_field=FIELD if positions else None)
  writer.close()


def write_mfv(run_dir):
  """MFV of logits unit 3 with the fidelity fields, and of unit 4 without."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from tb_featviz import metadata  # pylint: disable=import-outside-toplevel
  from tb_featviz import summary  # pylint: disable=import-outside-toplevel
  from tb_featviz.optvis import mfv  # pylint: disable=import-outside-toplevel

  rng = np.random.default_rng(3)
  shape = (8, 8, 1)
  points = rng.random((12, 2)).astype(np.float32)
  labels = np.arange(12) % MFV_K
  writer = tf.summary.create_file_writer(str(run_dir))
  with writer.as_default():
    tag = metadata.image_tag("mfv", "logits", 3)
    pictures = rng.random((2 * MFV_K, *shape), dtype=np.float32)
    meta = metadata.create_summary_metadata(
        "mfv", metadata.IMAGES, layer="logits", units=[3], display_shape=shape,
        companion_tag=metadata.record_tag(tag))
    tf.summary.write(tag, summary.encode_pngs(pictures, (0.0, 1.0), shape), step=0,
                     metadata=meta)
    record = metadata.create_step_record(
        units=[3], embedding=[float(v) for v in points.reshape(-1)],
        labels=[int(v) for v in labels], k=MFV_K, activations=MFV_ACTIVATIONS,
        mean_activations=[1.0, 2.0, 3.0], facet_nearest=FACET_NEAREST,
        facet_similarity=FACET_SIMILARITY, cluster_best=CLUSTER_BEST)
    record_meta = metadata.create_summary_metadata(
        "mfv", metadata.RECORD, layer="logits", companion_tag=tag)
    tf.summary.write(metadata.record_tag(tag), tf.constant(record), step=0,
                     metadata=record_meta)
    summary.mfv("logits", mfv.MFVResult(
        facets=rng.random((MFV_K, *shape), dtype=np.float32),
        mean_images=rng.random((MFV_K, *shape), dtype=np.float32),
        embedding=points, labels=labels.astype(np.int32),
        activations=np.array(MFV_ACTIVATIONS, np.float32),
        mean_activations=np.ones(MFV_K, np.float32),
        nearest=[np.flatnonzero(labels == f) for f in range(MFV_K)],
        layer="logits", unit=4, value_range=(0.0, 1.0)), step=0)
  writer.close()


def write_am(run_dir):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from tb_featviz import summary  # pylint: disable=import-outside-toplevel

  writer = tf.summary.create_file_writer(str(run_dir))
  with writer.as_default():
    for step in AM_STEPS:
      rng = np.random.default_rng([5, step])
      summary.am("conv", rng.random((len(AM_UNITS), SIZE, SIZE, 1), dtype=np.float32),
                 step=step, units=AM_UNITS,
                 activations=[20.0 + step + u * 0.5 for u in AM_UNITS])
  writer.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  root = tmp_path_factory.mktemp("browser_examples") / "logs"
  write_examples(root / "train", "conv", STEPS, UNITS, K, indices, activation)
  write_am(root / "train")
  write_examples(root / "train", "dense", DENSE_STEPS, DENSE_UNITS, 2, dense_indices,
                 activation, positions=False)
  write_mfv(root / "train")
  write_examples(root / "live", "conv", [0], UNITS, K, indices, activation)
  return root


def steps_answer(base, run, tag):
  return tensorboard_server.get_json(
      f"{base}/data/plugin/featviz/steps?" + urllib.parse.urlencode({"run": run, "tag": tag}))


def quote(text):
  """JavaScript's encodeURIComponent."""
  return urllib.parse.quote(str(text), safe="-_.!~*'()")


def link(base, **params):
  """TensorBoard's URL of a featviz deep link, escaped as TensorBoard escapes."""
  return f"{base}/#" + "&".join(
      ["featviz", *(f"{quote('p.featviz.' + k)}={quote(v)}" for k, v in params.items())])


def open_link(browser, url, requests=None):
  """A page at a deep link; returns (page, frame, console).

  With `requests` (a list), the URL of every request the page makes is
  appended to it, from the first one on.
  """
  page = browser.new_page(viewport={"width": 1280, "height": 900})
  page.set_default_timeout(TIMEOUT_MS)
  console = Console(page)
  if requests is not None:
    page.on("request", lambda request: requests.append(request.url))
  page.goto(url)
  return page, plugin_frame(page), console


def show(frame, run, tag, step):
  """Picks `run` and `tag`, then waits until `step` is shown with its rows."""
  frame.wait_for_selector(f"#fv-run-select option[value='{run}']", state="attached")
  frame.select_option("#fv-run-select", run)
  frame.wait_for_selector(f"#fv-tag-select option[value='{tag}']", state="attached")
  frame.select_option("#fv-tag-select", tag)
  wait_step(frame, step)


def wait_step(frame, step):
  frame.wait_for_function(
      "(step) => document.querySelector('#fv-step-label')?.dataset.step === step && "
      "document.querySelector('#fv-status').textContent === '' && "
      "document.querySelector('.fv-example-row')",
      arg=str(step))


def rows(frame, scope=".fv-example-row"):
  """What each row (of `scope`) shows: its AM slot and its examples, in order."""
  return frame.eval_on_selector_all(scope, """(rows) => rows.map((row) => {
    const am = row.querySelector('.fv-am-tile');
    const tiles = [...row.querySelectorAll('.fv-example-tile')];
    return {
      unit: row.dataset.unit, step: row.dataset.step,
      am: {key: am.querySelector('img').hidden ? null : am.querySelector('img').dataset.key,
           step: am.dataset.step, state: am.dataset.state,
           value: am.querySelector('.fv-activation').textContent,
           missing: am.querySelector('.fv-missing').hidden ? null
               : am.querySelector('.fv-missing').textContent},
      indices: tiles.map((t) => Number(t.dataset.index)),
      keys: tiles.map((t) => t.querySelector('img').dataset.key),
      values: tiles.map((t) => t.querySelector('.fv-activation').textContent),
      boxes: tiles.map((t) => t.dataset.box),
    };
  })""")


def am_key(answer, step, unit):
  entry = next(e for e in answer["steps"] if e["step"] == step)
  return entry["images"][entry["units"].index(unit)]


def expected_box(index):
  """[top, left, bottom, right] of probe `index`'s white cell's field, clipped."""
  row, col = CELLS[index]
  cy, cx = (row + 0.5) * SIZE / GRID[0], (col + 0.5) * SIZE / GRID[1]
  return [min(SIZE, max(0.0, v)) for v in (cy - FIELD[0] / 2, cx - FIELD[1] / 2,
                                           cy + FIELD[0] / 2, cx + FIELD[1] / 2)]


def box_text(box):
  return ",".join(f"{v:g}" for v in box)


def pixels(locator):
  """The rendered pixels of a 96x96 element, as a (96, 96) array of reds.

  The element may sit at a fractional position (the text above it has
  fractional line heights), so its screenshot may have a 97th row or column.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  red = tf.io.decode_png(locator.screenshot(), channels=3).numpy()[:, :, 0].astype(int)
  assert red.shape[0] in (96, 97) and red.shape[1] in (96, 97), red.shape
  return red[:96, :96]


def test_each_unit_shows_its_am_picture_beside_its_examples(panel, server):
  _, frame = panel
  show(frame, "train", CONV_TAG, 10)
  meta = frame.text_content("#fv-meta")
  assert "dataset examples · 3 units · 3 examples each · receptive field 12×12" in meta
  assert frame.text_content("#fv-tag-select option:checked") == "conv · examples — 3 units"
  am = steps_answer(server, "train", AM_TAG)
  originals = steps_answer(server, "train", CONV_TAG)["originals"]
  assert len(originals) == N_PROBES
  wait_for_images(frame, ".fv-example-row img:not([hidden])")

  def expected(step, am_step):
    return [{
        "unit": str(u), "step": None,
        "am": ({"key": am_key(am, am_step, u), "step": str(am_step), "state": "shown",
                "value": format3(20.0 + am_step + u * 0.5), "missing": None}
               if u in AM_UNITS else
               {"key": None, "step": "", "state": "absent", "value": "–",
                "missing": "no AM of this unit"}),
        "indices": indices(step, u),
        "keys": [originals[i] for i in indices(step, u)],
        "values": [format3(activation(step, u, r)) for r in range(K)],
        "boxes": [box_text(expected_box(i)) for i in indices(step, u)],
    } for u in UNITS]

  assert rows(frame) == expected(10, 10)
  # Step 0, then step 5: no AM at step 5, so the AM of step 0 is shown, saying so.
  frame.press("#fv-step-slider", "Home")
  wait_step(frame, 0)
  assert rows(frame) == expected(0, 0)
  frame.press("#fv-step-slider", "ArrowRight")
  wait_step(frame, 5)
  assert rows(frame) == expected(5, 0)
  assert frame.text_content(".fv-example-row[data-unit='2'] .fv-am-step") == "step 0"
  assert wait_for_images(frame, ".fv-example-row img:not([hidden])")


def test_crops_show_the_receptive_field_of_the_strongest_position(panel):
  _, frame = panel
  show(frame, "train", CONV_TAG, 10)
  wait_for_images(frame, ".fv-example-row img:not([hidden])")
  tiles = frame.locator(".fv-example-row .fv-example-tile")
  assert tiles.count() == len(UNITS) * K
  scale = 8  # a 12-pixel field at the medium size (96 px): 8 screen pixels per pixel
  for n in range(tiles.count()):
    tile = tiles.nth(n)
    index = int(tile.get_attribute("data-index"))
    row, col = CELLS[index]
    cy, cx = (row + 0.5) * 8, (col + 0.5) * 8
    crop = tile.locator(".fv-crop")
    geometry = crop.evaluate("""(frame) => {
      const img = frame.querySelector('img');
      const f = frame.getBoundingClientRect(), i = img.getBoundingClientRect();
      return [f.width, f.height, i.left - f.left, i.top - f.top, i.width, i.height];
    }""")
    assert geometry == pytest.approx([96, 96, -(cx - 6) * scale, -(cy - 6) * scale,
                                      SIZE * scale, SIZE * scale])
    # The rendered pixels: the white cell in the middle, the image's grey
    # around it, hatching where the field leaves the image (an edge cell).
    red = pixels(crop)
    assert red[48, 48] == 255 and red[20, 20] == 255 and red[75, 75] == 255
    level = round(grey(index) * 255)
    for (y, x), (image_y, image_x) in {
        (8, 48): (cy - 6 + 1, cx), (88, 48): (cy + 5, cx),
        (48, 8): (cy, cx - 6 + 1), (48, 88): (cy, cx + 5)}.items():
      inside = 0 <= image_y < SIZE and 0 <= image_x < SIZE
      if inside:
        assert abs(red[y, x] - level) <= 2, (index, y, x, red[y, x], level)
      else:
        assert 200 <= red[y, x] < 250, (index, y, x, red[y, x])
  # Whole images, the box marked: the picture fills its frame and the outline
  # is the clipped box, 3 screen pixels per image pixel.
  frame.check("#fv-example-whole")
  frame.wait_for_selector(".fv-example-row .fv-crop[data-mode='whole']")
  for n in range(tiles.count()):
    tile = tiles.nth(n)
    index = int(tile.get_attribute("data-index"))
    top, left, bottom, right = expected_box(index)
    geometry = tile.locator(".fv-crop").evaluate("""(frame) => {
      const f = frame.getBoundingClientRect();
      const i = frame.querySelector('img').getBoundingClientRect();
      const b = frame.querySelector('.fv-crop-box').getBoundingClientRect();
      return [f.width, f.height, i.left - f.left, i.top - f.top, i.width, i.height,
              b.left - f.left, b.top - f.top, b.width, b.height];
    }""")
    assert geometry == pytest.approx([96, 96, 0, 0, 96, 96, left * 3, top * 3,
                                      (right - left) * 3, (bottom - top) * 3])
  red = pixels(tiles.nth(0).locator(".fv-crop"))
  row, col = CELLS[int(tiles.nth(0).get_attribute("data-index"))]
  assert red[row * 24 + 12, col * 24 + 12] == 255
  # The choice stays with the view: another step is shown whole too.
  frame.press("#fv-step-slider", "Home")
  wait_step(frame, 0)
  assert frame.is_checked("#fv-example-whole")
  assert frame.locator(".fv-crop[data-mode='crop']").count() == 0


def test_crop_geometry_near_and_past_the_edges(panel):
  """crops.js on its own, loaded by the panel's page: clipped boxes, fields
  larger than the image, big images scaled down, and layers without a grid."""
  _, frame = panel
  frame.wait_for_selector("#fv-tag-select option", state="attached")
  got = frame.evaluate("""async () => {
    const {receptiveBox, exampleLayout} = await import("./static/crops.js");
    const cases = [
      [[28, 28, 1], [7, 7], [18, 18], [0, 0]],
      [[28, 28, 1], [7, 7], [40, 40], [0, 0]],
      [[224, 224, 3], [14, 14], [100, 100], [13, 6]],
      [[28, 28, 1], [], [], null],
    ];
    return cases.map(([display_shape, grid_shape, receptive_field, position]) => {
      const info = {display_shape, grid_shape, receptive_field};
      const box = receptiveBox(info, position);
      const layout = exampleLayout(info, box, "crop", 96);
      return [box && [box.top, box.left, box.bottom, box.right], layout.mode,
              layout.frame.width, layout.frame.height, layout.picture.left,
              layout.picture.top, layout.picture.width, layout.pixelated];
    });
  }""")
  def rounded(value):
    if isinstance(value, list):
      return [rounded(v) for v in value]
    return round(value, 6) if isinstance(value, float) else value

  assert rounded(got) == rounded([
      # Field 18 around (2, 2): clipped to [0, 11]; 5x, the field from -7.
      [[0, 0, 11, 11], "crop", 90, 90, 35, 35, 140, True],
      # A field larger than the image: clipped to [0, 22], shown through a
      # window of the image's size moved to hold it (from -6).
      [[0, 0, 22, 22], "crop", 84, 84, 18, 18, 84, True],
      # 224x224, field 100 around (216, 104): scaled down, 0.96 px per pixel.
      [[166, 54, 224, 154], "crop", 96, 96, -54 * 0.96, -166 * 0.96, 224 * 0.96, False],
      # No grid (Dense): the whole image.
      [None, "whole", 84, 84, 0, 0, 84, True],
  ])


def test_dense_layer_examples_are_whole_images(panel, server):
  _, frame = panel
  show(frame, "train", DENSE_TAG, 10)
  assert frame.is_hidden("#fv-example-whole")
  originals = steps_answer(server, "train", DENSE_TAG)["originals"]
  shown = rows(frame)
  assert [r["unit"] for r in shown] == [str(u) for u in DENSE_UNITS]
  for r, unit in zip(shown, DENSE_UNITS):
    assert r["indices"] == dense_indices(10, unit)
    assert r["keys"] == [originals[i] for i in dense_indices(10, unit)]
    assert r["values"] == [format3(activation(10, unit, rank)) for rank in range(2)]
    assert r["boxes"] == ["", ""]
    assert r["am"]["missing"] == "no AM of this layer"
  wait_for_images(frame, ".fv-example-tile img")
  assert frame.locator(".fv-crop[data-mode='crop']").count() == 0
  assert frame.locator(".fv-crop-box:not([hidden])").count() == 0
  tile = frame.locator(".fv-example-row[data-unit='1'] .fv-example-tile").first
  index = int(tile.get_attribute("data-index"))
  red = pixels(tile.locator(".fv-crop"))
  row, col = CELLS[index]
  assert red[row * 24 + 12, col * 24 + 12] == 255
  far = ((row + 2) % 4 * 24 + 12, (col + 2) % 4 * 24 + 12)
  assert abs(red[far] - round(grey(index) * 255)) <= 2


def test_unit_history_shows_its_examples_at_every_step(panel, server):
  _, frame = panel
  show(frame, "train", CONV_TAG, 10)
  frame.click(".fv-example-row[data-unit='2']")
  frame.wait_for_selector("#fv-example-history[data-unit='2']")
  # Right under the unit's row.
  assert frame.eval_on_selector(
      "#fv-example-history",
      "(h) => h.parentElement.previousElementSibling.dataset.unit") == "2"
  assert frame.get_attribute(".fv-example-row[data-unit='2']", "aria-expanded") == "true"
  am = steps_answer(server, "train", AM_TAG)
  history = rows(frame, "#fv-example-history .fv-example-step")
  assert [h["step"] for h in history] == [str(s) for s in STEPS]
  for h, step in zip(history, STEPS):
    assert h["indices"] == indices(step, 2)
    assert h["values"] == [format3(activation(step, 2, r)) for r in range(K)]
    am_step = max(s for s in AM_STEPS if s <= step)
    assert (h["am"]["key"], h["am"]["step"]) == (am_key(am, am_step, 2), str(am_step))
  assert frame.text_content("#fv-example-history .fv-history-count") == "3 steps"
  assert frame.get_attribute("#fv-example-history .fv-current", "data-step") == "10"
  wait_for_images(frame, "#fv-example-history img:not([hidden])")
  # A click on a row shows its step; the history follows the slider.
  frame.click("#fv-example-history .fv-example-step[data-step='5']")
  wait_step(frame, 5)
  assert frame.get_attribute("#fv-example-history .fv-current", "data-step") == "5"
  assert rows(frame, ".fv-example-row[data-unit='2']")[0]["indices"] == indices(5, 2)
  frame.press("#fv-step-slider", "Home")
  wait_step(frame, 0)
  assert frame.get_attribute("#fv-example-history .fv-current", "data-step") == "0"
  # The panel's Reload keeps the unit and the step; Escape closes the history.
  frame.click("#fv-reload")
  wait_step(frame, 0)
  assert frame.get_attribute("#fv-example-history", "data-unit") == "2"
  frame.press("#fv-step-slider", "Escape")
  frame.wait_for_selector("#fv-example-history", state="detached")
  assert frame.get_attribute(".fv-example-row[data-unit='2']", "aria-expanded") == "false"


def test_only_the_thumbnails_shown_are_fetched(browser, server):
  originals = steps_answer(server, "train", CONV_TAG)["originals"]
  requested = []
  page, frame, console = open_link(
      browser, link(server, run="train", tag=CONV_TAG, step=10), requested)
  try:
    wait_step(frame, 10)
    wait_for_images(frame, ".fv-example-row img:not([hidden])")
    keys = {urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["key"][0]
            for url in requested if "/featviz/image?" in url}
    shown = {originals[i] for u in UNITS for i in indices(10, u)}
    assert len(shown) == 9 < N_PROBES
    assert keys & set(originals) == shown
  finally:
    page.close()
  assert not console.errors, console.errors


def test_deep_link_opens_the_unit_history_at_its_step(browser, server):
  page, frame, console = open_link(
      browser, link(server, run="train", tag=CONV_TAG, step=5, unit=5))
  try:
    wait_step(frame, 5)
    frame.wait_for_selector("#fv-example-history[data-unit='5']")
    assert frame.get_attribute("#fv-example-history .fv-current", "data-step") == "5"
    assert frame.is_hidden("#fv-notice")
    # The Link button gives the link of the view shown: closing the history
    # takes the unit out of it.
    frame.click("#fv-link")
    assert frame.input_value("#fv-link-url") == link(
        server, run="train", tag=CONV_TAG, step=5, unit=5)
    frame.click("#fv-example-history-close")
    assert frame.input_value("#fv-link-url") == link(server, run="train", tag=CONV_TAG, step=5)
    # A unit the layer does not have: the notice says so, no history.
    page.goto(link(server, run="train", tag=CONV_TAG, unit=7))
    frame = plugin_frame(page)
    wait_step(frame, 10)
    frame.wait_for_selector("#fv-notice:not([hidden])")
    assert "no unit “7” in conv" in frame.text_content("#fv-notice")
    assert frame.query_selector("#fv-example-history") is None
  finally:
    page.close()
  assert not console.errors, console.errors


def test_new_steps_follow_and_the_history_grows(browser, server, logdir):
  from tests.e2e.test_panel_live import reload_tensorboard  # pylint: disable=import-outside-toplevel
  from tests.e2e.test_panel_live import wait_until_served  # pylint: disable=import-outside-toplevel

  page, frame, console = open_link(browser, link(server, run="live", tag=CONV_TAG, unit=0))
  try:
    wait_step(frame, 0)
    frame.wait_for_selector("#fv-example-history[data-unit='0']")
    write_examples(logdir / "live", "conv", [5], UNITS, K, indices, activation)
    wait_until_served(server, "live", CONV_TAG, [0, 5])
    reload_tensorboard(page)
    wait_step(frame, 5)
    frame.wait_for_function(
        "() => document.querySelectorAll('#fv-example-history .fv-example-step').length === 2")
    assert frame.get_attribute("#fv-example-history .fv-current", "data-step") == "5"
    assert rows(frame, ".fv-example-row[data-unit='0']")[0]["indices"] == indices(5, 0)
    # The run has no AM: a placeholder, and the probe images of step 0 still serve.
    assert rows(frame)[0]["am"]["missing"] == "no AM of this layer"
    wait_for_images(frame, ".fv-example-row img:not([hidden])")
  finally:
    page.close()
  assert not console.errors, console.errors


def test_mfv_facets_show_fidelity_when_the_record_has_it(panel):
  _, frame = panel

  def show_mfv(unit):
    frame.wait_for_selector("#fv-run-select option[value='train']", state="attached")
    frame.select_option("#fv-run-select", "train")
    tag = f"featviz/mfv/logits/{unit}"
    frame.wait_for_selector(f"#fv-tag-select option[value='{tag}']", state="attached")
    frame.select_option("#fv-tag-select", tag)
    frame.wait_for_function(
        "(unit) => document.querySelector('#fv-title').textContent === "
        "`logits · unit ${unit}` && document.querySelectorAll('.fv-facet').length === 3",
        arg=unit)

  show_mfv(3)
  cards = frame.eval_on_selector_all(".fv-facet .fv-fidelity", """(lines) => lines.map((p) => [
    p.hidden, p.dataset.stays, p.dataset.nearest,
    ...[...p.querySelectorAll('[class^="fv-fidelity-"]')].map(
        (c) => c.hidden ? null : c.textContent.trim())])""")
  assert cards == [
      [False, "true", "0", "stays in its facet",
       f"cosine {format3(FACET_SIMILARITY[0])} to its centroid",
       f"{format3(MFV_ACTIVATIONS[0] / CLUSTER_BEST[0])}× the best image"],
      [False, "false", "2", "drifts to facet 2",
       f"cosine {format3(FACET_SIMILARITY[1])} to its centroid", "0.5× the best image"],
      [False, "true", "2", "stays in its facet",
       f"cosine {format3(FACET_SIMILARITY[2])} to its centroid", "best real image -1"],
  ]
  assert cards[0][5] == "1.15× the best image"
  assert frame.is_visible(".fv-facet[data-facet='1'] .fv-fidelity-stays.fv-drifts .fv-swatch")
  # Written without the fields (as every log before them): nothing extra.
  show_mfv(4)
  assert frame.eval_on_selector_all(
      ".fv-facet .fv-fidelity", "(lines) => lines.map((p) => p.hidden)") == [True] * 3
