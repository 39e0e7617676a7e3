"""The plugin inside a real `tensorboard` process, over HTTP: what the
summaries and the callback wrote is listed and served, every step of it,
without flags and under --path_prefix; bad requests are 400 or 404."""

import base64
import json
import struct
import time
import urllib.parse

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz import summary
from tests import digits as digits_lib
from tests.e2e import tensorboard_server

STEPS = 30  # three times what TensorBoard keeps of a plugin's series by default
LAYERS = {"conv1": [0, 1, 2, 3], "conv2": [2, 5, 7]}
SHAPES = {"conv1": (28, 28, 1), "conv2": (16, 16, 3)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  """A run "run1" with STEPS steps of AM for two layers; returns (path, activations)."""
  root = tmp_path_factory.mktemp("integration") / "logs"
  rng = np.random.default_rng(1)
  activations = {}
  with tf.summary.create_file_writer(str(root / "run1")).as_default():
    for step in range(STEPS):
      for layer, units in LAYERS.items():
        values = rng.normal(size=len(units)).astype(np.float32)
        summary.am(layer, rng.random((len(units), *SHAPES[layer])), step=step,
                   units=units, activations=values, seconds=0.25)
        activations[layer, step] = values
  return root, activations


@pytest.fixture(scope="module", params=["default", "--load_fast=false"])
def server(request, logdir):
  """The base URL of a TensorBoard over `logdir`, with each data loader."""
  flags = () if request.param == "default" else (request.param,)
  with tensorboard_server.running(logdir[0], *flags) as base:
    yield base


def _url(base, route, **params):
  url = f"{base}/data/plugin/featviz{route}"
  return url + ("?" + urllib.parse.urlencode(params) if params else "")


def _steps(base, run, tag, last_step):
  """The /steps answer once `last_step` has been loaded (TensorBoard loads lazily)."""
  deadline = time.monotonic() + _WAIT_SECONDS
  while True:
    body = tensorboard_server.get_json(_url(base, "/steps", run=run, tag=tag))
    steps = [entry["step"] for entry in body["steps"]]
    if last_step in steps or time.monotonic() > deadline:
      return body
    time.sleep(0.5)


def _png_size(data):
  assert data.startswith(PNG_SIGNATURE)
  return struct.unpack(">II", data[16:24])


def test_plugins_listing_shows_featviz(server):
  listing = tensorboard_server.get_json(server + "/data/plugins_listing")
  featviz = listing["featviz"]
  assert featviz["enabled"] is True
  assert featviz["tab_name"] == "Feature Viz"
  assert featviz["loading_mechanism"] == {
      "type": "IFRAME", "module_path": "/data/plugin/featviz/index.js"}


def test_tags_lists_the_layers(server):
  tags = tensorboard_server.get_json(_url(server, "/tags"))
  assert set(tags) == {"run1"}
  assert set(tags["run1"]) == {"featviz/am/conv1", "featviz/am/conv2"}
  for layer, units in LAYERS.items():
    entry = tags["run1"][f"featviz/am/{layer}"]
    assert entry["kind"] == "am" and entry["layer"] == layer
    assert entry["units"] == units
    assert entry["display_shape"] == list(SHAPES[layer])


def test_every_step_is_served_without_flags(server, logdir):
  for layer, units in LAYERS.items():
    body = _steps(server, "run1", f"featviz/am/{layer}", STEPS - 1)
    assert [entry["step"] for entry in body["steps"]] == list(range(STEPS))
    for entry in body["steps"]:
      assert entry["units"] == units
      assert len(entry["images"]) == len(units)
      np.testing.assert_allclose(entry["activations"],
                                 logdir[1][layer, entry["step"]], rtol=1e-6)


def test_image_keys_give_the_pngs(server):
  body = _steps(server, "run1", "featviz/am/conv2", STEPS - 1)
  status, headers, data = tensorboard_server.get(
      _url(server, "/image", key=body["steps"][-1]["images"][1]))
  assert status == 200
  assert headers["Content-Type"] == "image/png"
  assert _png_size(data) == (16, 16)


def _unknown_step_key(key):
  """`key` with its step changed to one never logged, if the format is known."""
  try:
    fields = json.loads(base64.urlsafe_b64decode(key + "=="))
  except ValueError:
    return None
  fields[-2] = 10**6  # both loaders put (..., step, index) last
  encoded = base64.urlsafe_b64encode(json.dumps(fields).encode())
  return encoded.decode().rstrip("=")


def test_bad_requests_are_400_or_404(server):
  key = _steps(server, "run1", "featviz/am/conv1", STEPS - 1)["steps"][0]["images"][0]
  cases = [
      (_url(server, "/steps"), 400),
      (_url(server, "/steps", run="run1"), 400),
      (_url(server, "/steps", run="nope", tag="featviz/am/conv1"), 404),
      (_url(server, "/steps", run="run1", tag="featviz/am/nope"), 404),
      (_url(server, "/steps", run="run1", tag="featviz/am/conv1/record"), 404),
      (_url(server, "/image"), 400),
      (_url(server, "/image", key="not a key"), 400),
      (_url(server, "/image", key=key[:-5]), 400),
      (_url(server, "/image", key=_unknown_step_key(key)), 404),
      (_url(server, "/static/nope.js"), 404),
  ]
  for url, expected in cases:
    status, _, body = tensorboard_server.get(url)
    assert status == expected, (url, status, body[:200])
    assert b"FeatVizPlugin" not in body


def test_works_under_a_path_prefix(logdir):
  with tensorboard_server.running(logdir[0], path_prefix="/tb") as base:
    assert base.endswith("/tb")
    listing = tensorboard_server.get_json(base + "/data/plugins_listing")
    assert listing["featviz"]["loading_mechanism"]["module_path"] == (
        "/tb/data/plugin/featviz/index.js")
    assert set(tensorboard_server.get_json(_url(base, "/tags"))["run1"]) == {
        "featviz/am/conv1", "featviz/am/conv2"}
    body = _steps(base, "run1", "featviz/am/conv1", STEPS - 1)
    assert len(body["steps"]) == STEPS
    status, headers, data = tensorboard_server.get(
        _url(base, "/image", key=body["steps"][0]["images"][0]))
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert _png_size(data) == (28, 28)
    assert tensorboard_server.get(_url(base, "/steps"))[0] == 400


def test_logdir_written_by_the_callback_during_fit(tmp_path):
  images, labels = digits_lib.digits()
  keras.utils.set_random_seed(0)
  model = digits_lib.cnn()
  model.compile("adam", "sparse_categorical_crossentropy")
  logdir = tmp_path / "logs"
  callback = tb_featviz.FeatureVizCallback(
      str(logdir), am={"conv2": 4}, am_options={"steps": 16},
      inversion={"images": images[300:302], "layers": ["conv1"]},
      inversion_options={"steps": 16}, every_n_epochs=1)
  model.fit(images[:200], labels[:200], epochs=2, batch_size=50, verbose=0,
            callbacks=[callback])

  with tensorboard_server.running(logdir) as base:
    tags = tensorboard_server.get_json(_url(base, "/tags"))
    ((run, run_tags),) = tags.items()
    assert set(run_tags) == {"featviz/am/conv2", "featviz/inversion/conv1"}
    assert run_tags["featviz/am/conv2"]["units"] == [0, 1, 2, 3]
    assert run_tags["featviz/am/conv2"]["display_shape"] == [28, 28, 1]
    body = _steps(base, run, "featviz/am/conv2", 1)
    assert [entry["step"] for entry in body["steps"]] == [0, 1]
    for entry in body["steps"]:
      assert entry["units"] == [0, 1, 2, 3]
      assert len(entry["activations"]) == 4
      assert all(isinstance(a, float) for a in entry["activations"])
      assert entry["seconds"] > 0
    status, headers, data = tensorboard_server.get(
        _url(base, "/image", key=body["steps"][1]["images"][3]))
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert _png_size(data) == (28, 28)
    body = _steps(base, run, "featviz/inversion/conv1", 1)
    assert [entry["step"] for entry in body["steps"]] == [0, 1]
    assert all(len(entry["errors"]) == 2 for entry in body["steps"])
    assert len(body["originals"]) == 2
    status, headers, data = tensorboard_server.get(
        _url(base, "/image", key=body["originals"][1]))
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert _png_size(data) == (28, 28)


def test_the_projector_gets_the_features_the_facets_were_found_in(tmp_path):
  """Through TensorBoard's own projector routes: the tensor has the features'
  dimension (not the 2-D layout) and the metadata its columns."""
  images, labels = digits_lib.digits()
  x, y = images[:240], labels[:240]
  keras.utils.set_random_seed(0)
  model = digits_lib.cnn()
  model.compile("adam", "sparse_categorical_crossentropy")
  logdir = tmp_path / "logs"
  callback = tb_featviz.FeatureVizCallback(
      str(logdir), mfv={"images": x, "labels": y, "layer": "logits", "units": [3],
                        "embedding_layer": "conv3", "k": 2},
      mfv_options={"steps": 4}, every_n_epochs=1)
  model.fit(x, y, epochs=1, batch_size=60, verbose=0, callbacks=[callback])
  n = int(np.sum(y == 3))
  with tensorboard_server.running(logdir) as base:
    projector = base + "/data/plugin/projector"
    assert tensorboard_server.get_json(projector + "/runs") == ["featviz"]
    info = tensorboard_server.get_json(projector + "/info?run=featviz")
    [embedding] = info["embeddings"]
    assert embedding["tensorName"] == "featviz/mfv/logits/3 (step 0)"
    rows, dimensions = (int(d) for d in embedding["tensorShape"])
    assert rows == n and dimensions == min(50, n) > 2
    query = urllib.parse.urlencode({"run": "featviz", "name": embedding["tensorName"]})
    status, _, tensor = tensorboard_server.get(f"{projector}/tensor?{query}")
    assert status == 200 and len(tensor) == rows * dimensions * 4  # float32
    status, _, body = tensorboard_server.get(f"{projector}/metadata?{query}")
    table = [line.split("\t") for line in body.decode().splitlines()]
    assert status == 200 and len(table) == 1 + n
    assert table[0] == ["facet", "label", "tsne_x", "tsne_y"]
    assert {row[0] for row in table[1:]} == {"0", "1"}
    assert {row[1] for row in table[1:]} == {"3"}
    status, headers, sprite = tensorboard_server.get(
        f"{projector}/sprite_image?{query}")
    assert status == 200 and sprite.startswith(b"\x89PNG")
