"""The featviz TensorBoard backend, over real event files and TensorBoard's WSGI app."""

import base64
import collections
import gzip
import json
import os
import struct
import threading
import urllib.parse

import numpy as np
import pytest
import tensorflow as tf
from tensorboard import errors
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_featviz import metadata
from tb_featviz import plugin
from tb_featviz import plugin_data_pb2
from tb_featviz import summary
from tb_featviz.optvis import examples as examples_lib
from tb_featviz.plugin import featviz_plugin
from tb_featviz.plugin import static_files

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AM_STEPS = 12  # more than the 10 TensorBoard keeps of a plugin by default
SECRET = b"TOP-SECRET-MARKER"


def _write_images_only(tag, layer, images, step, record=None, content=None,
                       kind="am"):
  """Writes a featviz IMAGES series by hand, with an optional raw RECORD."""
  shape = images.shape[1:]
  meta = metadata.create_summary_metadata(
      kind, metadata.IMAGES, layer=layer, units=range(len(images)),
      display_shape=shape, companion_tag=metadata.record_tag(tag))
  if content is not None:
    meta.plugin_data.content = content
  tf.summary.write(tag, summary.encode_pngs(images, (0.0, 1.0), shape),
                   step=step, metadata=meta)
  if record is not None:
    _write_record(tag, layer, record, step, kind=kind)


def _write_record(tag, layer, record, step, kind="am"):
  """Writes the raw RECORD of IMAGES series `tag` at `step` by hand."""
  record_meta = metadata.create_summary_metadata(
      kind, metadata.RECORD, layer=layer, companion_tag=tag)
  tf.summary.write(metadata.record_tag(tag), tf.constant(record), step=step,
                   metadata=record_meta)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  """A logdir of several runs; returns (path, what was written)."""
  root = tmp_path_factory.mktemp("plugin_logs")
  rng = np.random.default_rng(0)
  written = {"conv1": {}, "conv2": {}}
  with tf.summary.create_file_writer(str(root / "mnist")).as_default():
    for step in range(AM_STEPS):
      images = rng.random((4, 28, 28, 1), dtype=np.float32)
      activations = rng.normal(size=4).astype(np.float32)
      summary.am("conv1", images, step=step, activations=activations, seconds=0.5)
      written["conv1"][step] = (images, activations)
    images = rng.random((4, 28, 28, 1), dtype=np.float32)
    # A step with images and no record; one with a record of a newer version;
    # one with a record that is not a StepRecord at all.
    _write_images_only("featviz/am/conv1", "conv1", images, AM_STEPS)
    newer = plugin_data_pb2.StepRecord(version=metadata.PROTO_VERSION + 1,
                                       activations=[1, 2, 3, 4])
    _write_images_only("featviz/am/conv1", "conv1", images, AM_STEPS + 1,
                       record=newer.SerializeToString())
    _write_images_only("featviz/am/conv1", "conv1", images, AM_STEPS + 2,
                       record=b"\xff\xff\xff\xff")
    for step in range(3):  # a vector-input model, without activations (NaN)
      summary.am("logits", rng.random((10, 64)), step=step, display_shape=(8, 8))
  with tf.summary.create_file_writer(str(root / "rgb")).as_default():
    for step in range(5):
      images = rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
      activations = rng.normal(size=3).astype(np.float32)
      summary.am("conv2", images, step=step, units=[2, 5, 7],
                 activations=activations, value_range=(-1.0, 1.0))
      written["conv2"][step] = (images, activations)
  with tf.summary.create_file_writer(str(root / "inv")).as_default():
    originals = rng.random((3, 28, 28, 1), dtype=np.float32)
    written["originals"] = originals
    for step in range(3):  # originals are written once, at the first step
      errors = rng.random(3).astype(np.float32)
      summary.inversion("conv1", rng.random((3, 28, 28, 1)), step=step,
                        originals=originals if step == 0 else None,
                        errors=errors, seconds=1.5)
      written["errors", step] = errors
  with tf.summary.create_file_writer(str(root / "mfv")).as_default():
    # No MFV writer yet: a hand-written series with the record's MFV fields.
    record = metadata.create_step_record(
        activations=[3.0, 4.0], embedding=[0, 1, 2, 3, 4, 5], labels=[0, 1, 1],
        k=2, mean_activations=[1.0, float("inf")], seconds=2.0)
    _write_images_only(metadata.image_tag("mfv", "logits", 3), "logits",
                       rng.random((2, 8, 8, 1), dtype=np.float32), 0,
                       record=record, kind="mfv")
  with tf.summary.create_file_writer(str(root / "examples")).as_default():
    probe = rng.random((6, 8, 8, 1), dtype=np.float32)
    for step in (0, 1):
      found = examples_lib.ExamplesResult(
          indices=np.array([[5, step], [2, 3]]), units=[4, 9],
          activations=np.array([[2.0, 1.5], [0.5, float("nan")]], np.float32),
          positions=np.array([[[0, 1], [2, 3]], [[1, 1], [3, 0]]]),
          layer="conv2", grid_shape=(4, 4))
      summary.examples("conv2", found, step=step, receptive_field=(5, 5),
                       images=probe if step == 0 else None, display_shape=(8, 8, 1))
    written["probe"] = probe
  with tf.summary.create_file_writer(str(root / "future")).as_default():
    images = rng.random((2, 8, 8, 1), dtype=np.float32)
    summary.am("ok", images, step=0, activations=[1.0, 2.0])
    newer = plugin_data_pb2.FeatVizPluginData(
        version=metadata.PROTO_VERSION + 1, kind=metadata.kind_value("am"),
        role=metadata.IMAGES, layer="future")
    _write_images_only("featviz/am/future", "future", images, 0,
                       content=newer.SerializeToString())
    _write_images_only("featviz/am/garbage", "garbage", images, 0,
                       content=b"\xff\xff\xff\xff")
  with tf.summary.create_file_writer(str(root / "other")).as_default():
    tf.summary.image("photo", rng.random((1, 8, 8, 1)), step=0)
    tf.summary.scalar("loss", 1.0, step=0)
  return root, written


def _provider(path, provider_class=data_provider.MultiplexerDataProvider):
  multiplexer = plugin_event_multiplexer.EventMultiplexer(
      tensor_size_guidance={metadata.PLUGIN_NAME: 0})
  multiplexer.AddRunsFromDirectory(str(path))
  multiplexer.Reload()
  return provider_class(multiplexer, str(path))


def _client(path, provider=None, **kwargs):
  context = base_plugin.TBContext(logdir=str(path),
                                  data_provider=provider or _provider(path))
  featviz = plugin.FeatVizLoader().load(context) if not kwargs else (
      plugin.FeatVizPlugin(context, **kwargs))
  return werkzeug_test.Client(application.TensorBoardWSGI([featviz]))


@pytest.fixture(scope="module")
def client(logdir):
  return _client(logdir[0])


def _get(client, route, **params):
  url = "/data/plugin/featviz" + route
  if params:
    url += "?" + urllib.parse.urlencode(params)
  return client.get(url)


def _json(client, route, **params):
  response = _get(client, route, **params)
  assert response.status_code == 200, response.get_data()[:300]
  assert response.headers["Content-Type"] == "application/json"
  return json.loads(response.get_data())


def _png_size(data):
  """(width, height, colour type) from a PNG's IHDR chunk."""
  assert data.startswith(PNG_SIGNATURE)
  width, height, _, colour = struct.unpack(">IIBB", data[16:26])
  return width, height, colour


# -- the plugin as TensorBoard sees it ---------------------------------------


def test_frontend_metadata_and_activeness(logdir):
  featviz = plugin.FeatVizPlugin(base_plugin.TBContext(
      logdir=str(logdir[0]), data_provider=_provider(logdir[0])))
  frontend = featviz.frontend_metadata()
  assert frontend.es_module_path == "/index.js"
  assert frontend.tab_name
  assert featviz.data_plugin_names() == (metadata.PLUGIN_NAME,)
  assert featviz.is_active() is False
  listing = json.loads(werkzeug_test.Client(application.TensorBoardWSGI(
      [featviz], data_provider=featviz._data_provider)).get(
          "/data/plugins_listing").get_data())
  assert listing["featviz"]["enabled"] is True
  assert listing["featviz"]["loading_mechanism"] == {
      "type": "IFRAME", "module_path": "/data/plugin/featviz/index.js"}


# -- /tags ---------------------------------------------------------------------


def test_tags_lists_images_series_with_their_metadata(client):
  tags = _json(client, "/tags")
  assert set(tags) == {"mnist", "rgb", "inv", "mfv", "examples", "future"}  # not "other"
  assert set(tags["mnist"]) == {"featviz/am/conv1", "featviz/am/logits"}
  assert tags["mnist"]["featviz/am/conv1"] == {
      "kind": "am", "layer": "conv1", "units": [0, 1, 2, 3],
      "display_shape": [28, 28, 1], "value_range": [0.0, 1.0], "grid_shape": [],
      "receptive_field": [], "description": ""}
  assert tags["mnist"]["featviz/am/logits"]["display_shape"] == [8, 8, 1]
  assert tags["mnist"]["featviz/am/logits"]["units"] == list(range(10))
  assert tags["rgb"]["featviz/am/conv2"]["units"] == [2, 5, 7]
  assert tags["rgb"]["featviz/am/conv2"]["display_shape"] == [16, 16, 3]
  assert tags["rgb"]["featviz/am/conv2"]["value_range"] == [-1.0, 1.0]
  assert set(tags["inv"]) == {"featviz/inversion/conv1"}  # no /originals
  assert tags["inv"]["featviz/inversion/conv1"]["kind"] == "inversion"
  assert not any(tag.endswith("/record") for run in tags.values() for tag in run)


def test_newer_or_unreadable_metadata_is_skipped(client):
  tags = _json(client, "/tags")
  assert set(tags["future"]) == {"featviz/am/ok"}
  for tag in ("featviz/am/future", "featviz/am/garbage"):
    assert _get(client, "/steps", run="future", tag=tag).status_code == 404
  assert _get(client, "/steps", run="future", tag="featviz/am/ok").status_code == 200


def test_warning_names_the_newer_version(logdir, caplog):
  with caplog.at_level("WARNING", logger="tb_featviz.plugin"):
    _json(_client(logdir[0]), "/tags")
  text = caplog.text
  assert "featviz/am/future" in text and "newer" in text
  assert "featviz/am/garbage" in text


def test_empty_logdir_has_no_tags(tmp_path):
  assert _json(_client(tmp_path), "/tags") == {}


# -- /steps and /image ---------------------------------------------------------


def test_steps_returns_every_step_in_order_with_what_was_written(client, logdir):
  written = logdir[1]["conv1"]
  body = _json(client, "/steps", run="mnist", tag="featviz/am/conv1")
  assert (body["run"], body["tag"], body["kind"]) == ("mnist", "featviz/am/conv1", "am")
  steps = body["steps"]
  assert [s["step"] for s in steps] == list(range(AM_STEPS + 3))
  assert all(a["wall_time"] <= b["wall_time"] for a, b in zip(steps, steps[1:]))
  for entry in steps[:AM_STEPS]:
    _, activations = written[entry["step"]]
    assert entry["units"] == [0, 1, 2, 3]
    np.testing.assert_allclose(entry["activations"], activations, rtol=1e-6)
    assert entry["seconds"] == 0.5
    assert len(entry["images"]) == 4
    assert len(set(entry["images"])) == 4


def test_image_keys_fetch_the_pngs_that_were_written(client, logdir):
  images, _ = logdir[1]["conv1"][3]
  entry = _json(client, "/steps", run="mnist", tag="featviz/am/conv1")["steps"][3]
  for i, key in enumerate(entry["images"]):
    response = _get(client, "/image", key=key)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    data = response.get_data()
    assert _png_size(data) == (28, 28, 0)  # grey
    pixels = tf.io.decode_png(data).numpy()
    np.testing.assert_array_equal(pixels, np.round(images[i] * 255).astype(np.uint8))


def test_rgb_steps_and_images(client, logdir):
  written = logdir[1]["conv2"]
  steps = _json(client, "/steps", run="rgb", tag="featviz/am/conv2")["steps"]
  assert [s["step"] for s in steps] == [0, 1, 2, 3, 4]
  for entry in steps:
    assert entry["units"] == [2, 5, 7]
    np.testing.assert_allclose(entry["activations"], written[entry["step"]][1],
                               rtol=1e-6)
  png = _get(client, "/image", key=steps[-1]["images"][2]).get_data()
  assert _png_size(png) == (16, 16, 2)  # RGB
  expected = np.round((written[4][0][2] + 1) / 2 * 255).astype(np.uint8)
  np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), expected)


def test_inversion_steps_have_errors_and_the_originals(client, logdir):
  written = logdir[1]
  body = _json(client, "/steps", run="inv", tag="featviz/inversion/conv1")
  assert body["kind"] == "inversion"
  assert [s["step"] for s in body["steps"]] == [0, 1, 2]
  for entry in body["steps"]:
    np.testing.assert_allclose(entry["errors"], written["errors", entry["step"]],
                               rtol=1e-6)
    assert entry["seconds"] == 1.5
    assert len(entry["images"]) == 3
  assert len(body["originals"]) == 3
  for i, key in enumerate(body["originals"]):
    png = _get(client, "/image", key=key).get_data()
    expected = np.round(written["originals"][i] * 255).astype(np.uint8)
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), expected)
  assert "originals" not in _json(client, "/steps", run="rgb", tag="featviz/am/conv2")


def test_examples_steps_list_indices_positions_and_the_probe_images(client, logdir):
  info = _json(client, "/tags")["examples"]["featviz/examples/conv2"]
  assert (info["kind"], info["units"], info["grid_shape"], info["receptive_field"]) == (
      "examples", [4, 9], [4, 4], [5, 5])
  body = _json(client, "/steps", run="examples", tag="featviz/examples/conv2")
  assert [s["step"] for s in body["steps"]] == [0, 1]
  last = body["steps"][1]
  assert (last["images"], last["units"], last["k"]) == ([], [4, 9], 2)
  assert last["indices"] == [5, 1, 2, 3]
  assert last["activations"] == [2.0, 1.5, 0.5, None]
  assert last["positions"] == [[0, 1], [2, 3], [1, 1], [3, 0]]
  assert len(body["originals"]) == 6
  png = _get(client, "/image", key=body["originals"][5]).get_data()
  np.testing.assert_array_equal(
      tf.io.decode_png(png).numpy(),
      np.round(logdir[1]["probe"][5] * 255).astype(np.uint8))


def test_mfv_steps_have_their_numbers(client):
  tags = _json(client, "/tags")["mfv"]
  assert tags["featviz/mfv/logits/3"]["kind"] == "mfv"
  body = _json(client, "/steps", run="mfv", tag="featviz/mfv/logits/3")
  (entry,) = body["steps"]
  assert entry["activations"] == [3.0, 4.0]
  assert entry["embedding"] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
  assert entry["labels"] == [0, 1, 1] and entry["k"] == 2
  assert entry["mean_activations"] == [1.0, None]  # infinity becomes null
  assert len(entry["images"]) == 2


def test_vector_input_is_shown_with_its_display_shape(client):
  steps = _json(client, "/steps", run="mnist", tag="featviz/am/logits")["steps"]
  assert len(steps) == 3
  entry = steps[0]
  assert entry["units"] == list(range(10))
  assert entry["activations"] == [None] * 10  # none given: NaN becomes null
  assert entry["seconds"] == 0.0
  png = _get(client, "/image", key=entry["images"][9]).get_data()
  assert _png_size(png) == (8, 8, 0)


def test_steps_without_a_usable_record_keep_their_images(logdir, caplog):
  client = _client(logdir[0])
  with caplog.at_level("WARNING", logger="tb_featviz.plugin"):
    steps = _json(client, "/steps", run="mnist", tag="featviz/am/conv1")["steps"]
  for entry in steps[AM_STEPS:]:  # no record, newer record, garbage record
    assert entry["activations"] == []
    assert entry["seconds"] is None
    assert entry["units"] == [0, 1, 2, 3]  # from the series' metadata
    assert len(entry["images"]) == 4
    assert _get(client, "/image", key=entry["images"][0]).status_code == 200
  assert "newer" in caplog.text


def test_record_warnings_are_logged_once(logdir, caplog):
  fresh = _client(logdir[0])
  with caplog.at_level("WARNING", logger="tb_featviz.plugin"):
    for _ in range(3):
      _json(fresh, "/steps", run="mnist", tag="featviz/am/conv1")
  records = [r for r in caplog.records if "record" in r.getMessage()]
  assert len(records) == 2  # step AM_STEPS + 1 (newer) and AM_STEPS + 2 (garbage)


def test_steps_answer_is_gzipped_for_clients_that_accept_it(client):
  url = "/data/plugin/featviz/steps?" + urllib.parse.urlencode(
      {"run": "mnist", "tag": "featviz/am/conv1"})
  response = client.get(url, headers={"Accept-Encoding": "gzip"})
  assert response.status_code == 200
  assert response.headers["Content-Encoding"] == "gzip"
  assert json.loads(gzip.decompress(response.get_data())) == _json(
      client, "/steps", run="mnist", tag="featviz/am/conv1")


class _CountingProvider(data_provider.MultiplexerDataProvider):
  """Counts how often the blob keys of a series, and each blob, are read."""

  reads = 0

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.blob_reads = collections.Counter()
    self._lock = threading.Lock()

  def read_blob_sequences(self, *args, **kwargs):
    self.reads += 1
    return super().read_blob_sequences(*args, **kwargs)

  def read_blob(self, ctx, *, blob_key):
    with self._lock:
      self.blob_reads[blob_key] += 1
    return super().read_blob(ctx, blob_key=blob_key)


def test_one_image_of_a_step_brings_the_steps_other_images(logdir):
  provider = _provider(logdir[0], _CountingProvider)
  client = _client(logdir[0], provider=provider)
  steps = _json(client, "/steps", run="mnist", tag="featviz/am/conv1")["steps"]
  keys = steps[3]["images"]
  assert _get(client, "/image", key=keys[2]).status_code == 200
  for i, key in enumerate(keys):  # all served, with what was written
    pixels = tf.io.decode_png(_get(client, "/image", key=key).get_data()).numpy()
    images, _ = logdir[1]["conv1"][3]
    np.testing.assert_array_equal(pixels, np.round(images[i] * 255).astype(np.uint8))
  # Each image of step 3 was read from the provider once, nothing else.
  assert provider.blob_reads == {key: 1 for key in keys}


def test_an_example_brings_the_other_examples_of_its_step_not_its_neighbours(logdir):
  provider = _provider(logdir[0], _CountingProvider)
  client = _client(logdir[0], provider=provider)
  body = _json(client, "/steps", run="examples", tag="featviz/examples/conv2")
  originals = body["originals"]
  shown = [originals[i] for i in dict.fromkeys(body["steps"][1]["indices"])]
  assert _get(client, "/image", key=shown[0]).status_code == 200
  for key in shown:
    assert _get(client, "/image", key=key).status_code == 200
  # Probe images 1, 2, 3 and 5 are the examples of step 1; 0 and 4 are not.
  assert provider.blob_reads == {key: 1 for key in shown}


def _steps_after_reload(client, provider, run="run", tag="featviz/am/conv1"):
  """Reloads the provider's multiplexer, then returns the /steps entries."""
  provider._multiplexer.Reload()  # pylint: disable=protected-access
  return _json(client, "/steps", run=run, tag=tag)["steps"]


def test_steps_answer_is_kept_until_its_series_grows(tmp_path):
  tag = "featviz/am/conv1"
  multiplexer = plugin_event_multiplexer.EventMultiplexer(
      tensor_size_guidance={metadata.PLUGIN_NAME: 0})
  multiplexer.AddRunsFromDirectory(str(tmp_path))
  provider = _CountingProvider(multiplexer, str(tmp_path))
  client = _client(tmp_path, provider=provider)
  images = np.zeros((2, 4, 4, 1), np.float32)
  writer = tf.summary.create_file_writer(str(tmp_path / "run"))
  with writer.as_default():
    for step in range(2):
      summary.am("conv1", images, step=step, activations=[1.0, 2.0])
    writer.flush()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    first = _steps_after_reload(client, provider)
    assert [s["step"] for s in first] == [0, 1] and provider.reads == 1
    assert _steps_after_reload(client, provider) == first
    assert provider.reads == 1  # the series did not change: the kept answer
    # A new step is listed at once.
    summary.am("conv1", images, step=2, activations=[3.0, 4.0])
    writer.flush()
    assert [s["step"] for s in _steps_after_reload(client, provider)] == [0, 1, 2]
    assert provider.reads == 2
    # A step whose record is not there yet is not kept: the record shows up
    # even though the images series did not change.
    _write_images_only(tag, "conv1", images, 3)
    writer.flush()
    assert _steps_after_reload(client, provider)[-1]["activations"] == []
    _write_record(tag, "conv1", metadata.create_step_record(
        units=[0, 1], activations=[5.0, 6.0]), 3)
    writer.flush()
    assert _steps_after_reload(client, provider)[-1]["activations"] == [5.0, 6.0]
    reads = provider.reads
    _steps_after_reload(client, provider)
    assert provider.reads == reads  # complete again, so kept again
  writer.close()


def test_a_kept_inversion_listing_keeps_its_originals_remembered(logdir, monkeypatch):
  # Room for three series' step groups: the inversion, its originals, one more.
  monkeypatch.setattr(featviz_plugin, "STEPS_CACHE_SIZE", 3)
  context = base_plugin.TBContext(logdir=str(logdir[0]),
                                  data_provider=_provider(logdir[0]))
  featviz = plugin.FeatVizPlugin(context)
  client = werkzeug_test.Client(application.TensorBoardWSGI([featviz]))
  inversion = "featviz/inversion/conv1"
  _json(client, "/steps", run="inv", tag=inversion)
  _json(client, "/steps", run="mnist", tag="featviz/am/conv1")
  _json(client, "/steps", run="inv", tag=inversion)  # the kept answer
  _json(client, "/steps", run="rgb", tag="featviz/am/conv2")  # one too many
  remembered = {series[1:] for series in featviz._images._groups}  # pylint: disable=protected-access
  assert remembered == {("inv", inversion), ("inv", metadata.originals_tag(inversion)),
                        ("rgb", "featviz/am/conv2")}


@pytest.mark.parametrize("params", [{}, {"run": "mnist"}, {"tag": "featviz/am/conv1"}])
def test_steps_needs_run_and_tag(client, params):
  response = _get(client, "/steps", **params)
  assert response.status_code == 400
  assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("run, tag", [
    ("nope", "featviz/am/conv1"),
    ("mnist", "featviz/am/nope"),
    ("mnist", "featviz/am/conv1/record"),  # the hidden companion series
    ("inv", "featviz/inversion/conv1/originals"),
    ("other", "photo"),  # another plugin's images
    ("", ""),
])
def test_steps_of_unknown_run_or_tag_is_404(client, run, tag):
  assert _get(client, "/steps", run=run, tag=tag).status_code == 404


def test_image_needs_a_key(client):
  assert _get(client, "/image").status_code == 400


def _key(*fields):
  return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


@pytest.mark.parametrize("key, status", [
    ("", 400),
    ("abc", 400),
    ("!!!", 400),
    ("%00", 400),
    ("\u00e9", 400),
    ("x" * 20000, 400),
    (_key(1, 2, 3), 400),
    (_key(5), 400),
    (_key("", "featviz", "nope", "featviz/am/conv1", 0, 0), 404),
    (_key("", "featviz", "mnist", "featviz/am/nope", 0, 0), 404),
    (_key("", "featviz", "mnist", "featviz/am/conv1", 999, 0), 404),
    (_key("", "featviz", "mnist", "featviz/am/conv1", 0, 99), 404),
    (_key("", "featviz", "mnist", "featviz/am/conv1", 0, "x"), 404),
    (_key("", "featviz", "mnist", "featviz/am/conv1", 0, [0, 1]), 404),
    (_key("", "featviz", "mnist", "featviz/am/conv1", 0, None), 404),
    (_key("", "featviz", "mnist", "featviz/am/conv1/record", 0, 0), 404),
    (_key("", "featviz", ["mnist"], "featviz/am/conv1", 0, 0), 400),
    (_key("", "scalars", "other", "loss", 0, 0), 404),
])
def test_bad_image_keys_are_400_or_404(client, key, status):
  response = _get(client, "/image", key=key)
  assert response.status_code == status, response.get_data()[:200]
  assert not response.get_data().startswith(PNG_SIGNATURE)


def test_image_route_serves_only_pngs(logdir):
  """A blob that is not a PNG (another plugin's, say) is not served."""
  class Provider:
    def read_blob(self, ctx, *, blob_key):
      return b"<script>alert(1)</script>"
  featviz = plugin.FeatVizPlugin(base_plugin.TBContext(data_provider=Provider()))
  client = werkzeug_test.Client(application.TensorBoardWSGI([featviz]))
  assert _get(client, "/image", key="k").status_code == 404


@pytest.mark.parametrize("failure, status", [
    (errors.NotFoundError("gone"), 404),
    (errors.InvalidArgumentError("bad"), 400),
    (KeyError("run"), 404),
    (IndexError("index"), 404),
    (ValueError("bad base64"), 400),
    (RuntimeError("data server error"), 404),
])
def test_image_route_maps_provider_failures(failure, status):
  class Provider:
    def read_blob(self, ctx, *, blob_key):
      raise failure
  featviz = plugin.FeatVizPlugin(base_plugin.TBContext(data_provider=Provider()))
  client = werkzeug_test.Client(application.TensorBoardWSGI([featviz]))
  assert _get(client, "/image", key="k").status_code == status


# -- static files --------------------------------------------------------------


def test_index_js_and_static_files_are_served(client):
  frontend = static_files.default_frontend_dir()
  for route, name, content_type in [("/index.js", "index.js", "text/javascript"),
                                    ("/static/app.js", "app.js", "text/javascript"),
                                    ("/static/panel.css", "panel.css", "text/css")]:
    response = _get(client, route)
    assert response.status_code == 200, route
    assert response.headers["Content-Type"].startswith(content_type), route
    with open(os.path.join(frontend, name), "rb") as f:
      assert response.get_data() == f.read(), route
