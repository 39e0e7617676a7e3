"""FeatureVizCallback: its schedule and steps, isolation from training, every
kind logged, configuration mistakes refused before the first step, and
failures during training (NaN/Inf, an error in the optimization, out of
memory, a full disk) warned about once while training goes on."""

import errno
import glob
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz import checked_writer
from tb_featviz import metadata
from tb_featviz import projector
from tb_featviz import summary
from tb_featviz.optvis import am as am_lib
from tb_featviz.optvis import engine
from tb_featviz.optvis import mfv as mfv_lib
from tb_featviz.optvis import recipe
from tests import digits as digits_lib
from tests import disk
from tests import event_files

FAST_AM = {"steps": 8}
FAST_INVERSION = {"steps": 6}
FAST_MFV = {"steps": 6}


def _data(n=192):
  images, labels = digits_lib.digits()
  return images[:n], labels[:n]


def _model(seed=0, learning_rate=1e-3, optimizer=None):
  keras.utils.set_random_seed(seed)
  model = digits_lib.cnn()
  model.compile(optimizer or keras.optimizers.Adam(learning_rate),
                "sparse_categorical_crossentropy")
  return model


def _record(event):
  return metadata.parse_step_record(tf.make_ndarray(event.tensor_proto).item())


def test_epoch_steps_line_up_with_keras_tensorboard(tmp_path):
  x, y = _data()
  model = _model()
  callbacks = [
      keras.callbacks.TensorBoard(str(tmp_path)),
      tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv2": 4, "logits": [3, 7]},
                                    am_options=FAST_AM, every_n_epochs=1),
  ]
  model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=callbacks)

  ours = event_files.read(tmp_path / "featviz")
  theirs = event_files.read(tmp_path / "train")
  keras_steps = [event.step for event in theirs.Tensors("epoch_loss")]
  assert keras_steps == [0, 1, 2]
  assert event_files.steps(ours, "featviz/am/conv2") == keras_steps
  assert event_files.steps(ours, "featviz/am/logits") == keras_steps
  images = ours.Tensors("featviz/am/logits")[0]
  assert tf.make_ndarray(images.tensor_proto).shape == (2,)  # one PNG per unit
  record = _record(ours.Tensors("featviz/am/logits/record")[0])
  assert list(record.units) == [3, 7]
  assert len(record.activations) == 2 and record.seconds > 0
  seconds = ours.Tensors("featviz/seconds/am/conv2")
  assert [event.step for event in seconds] == keras_steps


def test_every_n_epochs_also_logs_the_final_model(tmp_path):
  x, y = _data()
  model = _model()
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 2},
                                           am_options=FAST_AM, every_n_epochs=2)
  model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[callback])
  assert event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv1") == [1, 2]


def test_every_n_steps_uses_keras_batch_steps(tmp_path):
  x, y = _data()  # 192 images, batch 32: 6 batches per epoch, 12 in all
  model = _model()
  callbacks = [
      keras.callbacks.TensorBoard(str(tmp_path), update_freq=5),
      tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 2},
                                    am_options=FAST_AM, every_n_steps=5),
  ]
  model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=callbacks)
  keras_steps = [event.step for event in
                 event_files.read(tmp_path / "train").Tensors("batch_loss")]
  ours = event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv1")
  assert ours == [5, 10, 12]  # every 5th batch, then the final model
  assert set(ours[:2]) <= set(keras_steps)


def test_training_is_unchanged_by_the_callback(tmp_path):
  x, y = _data()
  plain = _model(seed=3)
  plain.fit(x, y, epochs=2, batch_size=32, verbose=0)

  watched = _model(seed=3)
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), am={"conv2": 4, "embed": 4, "logits": "all"},
      am_options=FAST_AM, every_n_steps=2)
  watched.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[callback])

  for before, after in zip(plain.get_weights(), watched.get_weights()):
    np.testing.assert_array_equal(before, after)
  assert int(watched.optimizer.iterations) == int(plain.optimizer.iterations) == 12
  assert len(event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv2")) == 6


def test_same_starting_noise_at_every_interval(tmp_path):
  x, y = _data()
  frozen = _model(learning_rate=0.0)  # the model does not change...
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv2": 3},
                                           am_options=FAST_AM, every_n_epochs=1)
  frozen.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[callback])
  events = event_files.read(tmp_path / "featviz").Tensors("featviz/am/conv2")
  pngs = [tf.make_ndarray(event.tensor_proto).tolist() for event in events]
  assert len(pngs) == 3 and pngs[0] == pngs[1] == pngs[2]  # ...nor do the pictures


@pytest.mark.parametrize("am, message", [
    ({"conv9": 4}, "no layer named 'conv9'"),
    ({"conv2": [40]}, "which has 32 units"),
    ({"logits": 11}, "which has 10 units"),
])
def test_bad_configuration_fails_before_the_first_step(tmp_path, am, message):
  x, y = _data(64)
  model = _model()
  seen_batches = []
  spy = keras.callbacks.LambdaCallback(
      on_train_batch_begin=lambda batch, logs: seen_batches.append(batch))
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), am=am, am_options=FAST_AM)
  with pytest.raises(ValueError, match=message):
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback, spy])
  assert seen_batches == []


def test_bad_schedule_is_refused(tmp_path):
  with pytest.raises(ValueError, match="not both"):
    tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 1},
                                  every_n_epochs=1, every_n_steps=5)
  with pytest.raises(ValueError, match="positive integer"):
    tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 1}, every_n_steps=0)
  with pytest.raises(ValueError, match="Nothing to visualize"):
    tb_featviz.FeatureVizCallback(str(tmp_path))


def test_a_failing_visualization_warns_once_and_training_goes_on(
    tmp_path, monkeypatch, caplog):
  real = am_lib.activation_maximization
  calls = []

  def flaky(model, layer, units, **options):
    calls.append(layer)
    if len(calls) in (2, 3):
      raise RuntimeError("simulated out of memory")
    return real(model, layer, units, **options)

  monkeypatch.setattr(am_lib, "activation_maximization", flaky)
  x, y = _data()
  model = _model()
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 2},
                                           am_options=FAST_AM, every_n_epochs=1)
  with caplog.at_level(logging.WARNING, logger="tb_featviz.callback"):
    history = model.fit(x, y, epochs=4, batch_size=64, verbose=0, callbacks=[callback])
  assert len(history.history["loss"]) == 4
  warnings = [r for r in caplog.records if "simulated out of memory" in r.getMessage()]
  assert len(warnings) == 1 and "conv1" in warnings[0].getMessage()
  assert event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv1") == [0, 3]


def test_keyboard_interrupt_is_not_swallowed(tmp_path, monkeypatch):
  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt

  monkeypatch.setattr(am_lib, "activation_maximization", interrupted)
  x, y = _data(64)
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 1})
  with pytest.raises(KeyboardInterrupt):
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callback])


def test_vector_model_needs_a_display_shape(tmp_path):
  images, labels = digits_lib.digits(size=8)
  flat = images.reshape(len(images), 64)[:128]
  keras.utils.set_random_seed(0)
  mlp = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, name="hidden"),
                          keras.layers.Dense(10, activation="softmax", name="out")])
  mlp.compile("adam", "sparse_categorical_crossentropy")
  with pytest.raises(ValueError, match="display_shape"):
    mlp.fit(flat, labels[:128], epochs=1, verbose=0, callbacks=[
        tb_featviz.FeatureVizCallback(str(tmp_path), am={"hidden": 2})])
  mlp.fit(flat, labels[:128], epochs=1, verbose=0, callbacks=[
      tb_featviz.FeatureVizCallback(str(tmp_path), am={"hidden": 2},
                                    am_options=FAST_AM, display_shape=(8, 8))])
  events = event_files.read(tmp_path / "featviz").Tensors("featviz/am/hidden")
  png = tf.make_ndarray(events[0].tensor_proto)[0]
  assert tf.image.decode_png(png).shape == (8, 8, 1)
  assert glob.glob(os.path.join(str(tmp_path), "featviz", "events.out.tfevents.*"))


def test_inversion_logs_originals_once_and_errors_every_interval(tmp_path):
  x, y = _data()
  model = _model()
  probe = x[:4]
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), inversion={"images": probe, "layers": ["conv1", "embed"]},
      inversion_options={"steps": 8}, every_n_epochs=1)
  model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[callback])
  ours = event_files.read(tmp_path / "featviz")
  for layer in ("conv1", "embed"):
    tag = f"featviz/inversion/{layer}"
    assert event_files.steps(ours, tag) == [0, 1]
    assert event_files.steps(ours, tag + "/originals") == [0]
    originals = tf.make_ndarray(ours.Tensors(tag + "/originals")[0].tensor_proto)
    decoded = tf.image.decode_png(originals[0]).numpy()[..., 0] / 255.0
    np.testing.assert_allclose(decoded, probe[0, ..., 0], atol=1 / 255)
    record = _record(ours.Tensors(tag + "/record")[1])
    assert len(record.errors) == 4 and all(e >= 0 for e in record.errors)
    mean_error = ours.Tensors(f"featviz/inversion_error/{layer}")
    assert [e.step for e in mean_error] == [0, 1]
    assert float(tf.make_ndarray(mean_error[1].tensor_proto)) == pytest.approx(
        np.mean(record.errors), rel=1e-5)


@pytest.mark.parametrize("inversion, message", [
    ({"images": np.zeros((2, 27, 28, 1), np.float32), "layers": ["conv1"]},
     r"shape \(2, 27, 28, 1\); the model takes \(N, 28, 28, 1\)"),
    ({"images": np.full((2, 28, 28, 1), 255, np.float32), "layers": ["conv1"]},
     "outside value_range"),
    ({"images": np.zeros((2, 28, 28, 1), np.float32), "layers": ["nope"]},
     "no layer named 'nope'"),
])
def test_bad_probe_images_fail_before_the_first_step(tmp_path, inversion, message):
  x, y = _data(64)
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), inversion=inversion)
  with pytest.raises(ValueError, match=message):
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callback])


def test_inversion_config_must_name_images_and_layers(tmp_path):
  with pytest.raises(ValueError, match="inversion takes"):
    tb_featviz.FeatureVizCallback(str(tmp_path), inversion={"images": np.zeros(1)})


def test_mfv_per_class_unit_with_projector_export(tmp_path):
  x, y = _data()
  model = _model()
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), mfv={"images": x, "labels": y, "layer": "logits",
                          "units": [3, 5], "embedding_layer": "conv3", "k": 2},
      mfv_options=FAST_MFV, every_n_epochs=1)
  model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[callback])
  run_dir = str(tmp_path / "featviz")
  ours = event_files.read(run_dir)
  for unit in (3, 5):
    tag = f"featviz/mfv/logits/{unit}"
    assert event_files.steps(ours, tag) == [0, 1]
    blobs = tf.make_ndarray(ours.Tensors(tag)[1].tensor_proto)
    assert len(blobs) == 2 * 2 + 1  # facets, mean images, sprite
    record = _record(ours.Tensors(tag + "/record")[1])
    n = int(np.sum(y == unit))
    assert len(record.labels) == n and len(record.embedding) == 2 * n
    assert record.k == 2 and len(record.activations) == 2
    # Each facet's fidelity: the cluster it is nearest to, its cosine to its
    # own, the best real image of its cluster.
    assert len(record.facet_nearest) == len(record.facet_similarity) == 2
    assert len(record.cluster_best) == 2
  # The Projector export of each unit is replaced at every step (what it
  # holds is tested in test_projector.py).
  config = open(os.path.join(run_dir, "projector_config.pbtxt")).read()
  assert config.count("embeddings {") == 2 and config.count("(step 1)") == 2


def test_mfv_without_labels_uses_the_images_that_drive_the_unit(tmp_path):
  x, y = _data()
  model = _model()
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), mfv={"images": x, "layer": "conv3", "units": [1], "k": 2,
                          "n_images": 40},
      mfv_options=FAST_MFV, every_n_epochs=1)
  model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[callback])
  # The images of the 40 largest values that are positive, in index order.
  values = mfv_lib.unit_values(recipe.extractor(model, "conv3"), x, 1)
  top = np.argsort(-values, kind="stable")[:40]
  expected = np.sort(top[values[top] > 0])
  assert 2 <= len(expected) <= 40
  ours = event_files.read(tmp_path / "featviz")
  record = _record(ours.Tensors("featviz/mfv/conv3/1/record")[0])
  assert len(record.labels) == len(expected)
  # The sprite of embedded images is made of exactly those images.
  blobs = tf.make_ndarray(ours.Tensors("featviz/mfv/conv3/1")[0].tensor_proto)
  sprite = tf.io.decode_png(blobs[-1]).numpy().astype(np.float32) / 255.0
  np.testing.assert_allclose(sprite, summary.sprite(x[expected]), atol=0.5 / 255)


def test_examples_of_every_am_unit_with_the_probe_images_logged_once(tmp_path):
  x, y = _data()
  model = _model()
  probe = x[:60]
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), am={"conv2": 3, "logits": [3, 7]}, am_options=FAST_AM,
      examples={"images": probe, "k": 4}, every_n_epochs=1)
  model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[callback])
  ours = event_files.read(tmp_path / "featviz")
  for layer, units in (("conv2", [0, 1, 2]), ("logits", [3, 7])):
    tag = f"featviz/examples/{layer}"
    assert event_files.steps(ours, tag) == [0, 1]
    assert event_files.steps(ours, metadata.originals_tag(tag)) == [0]
    record = _record(ours.Tensors(metadata.record_tag(tag))[1])
    # Step 1 is the end of training: the examples of the final model.
    expected = tb_featviz.top_examples(model, layer, probe, units=units, k=4)
    assert list(record.units) == units and record.k == 4
    assert list(record.indices) == list(expected.indices.reshape(-1))
    np.testing.assert_allclose(record.activations, expected.activations.reshape(-1),
                               rtol=1e-5)
  conv2 = _record(ours.Tensors("featviz/examples/conv2/record")[1])
  assert len(conv2.positions) == 3 * 4 * 2
  assert not _record(ours.Tensors("featviz/examples/logits/record")[1]).positions


@pytest.mark.parametrize("mfv, message", [
    ({"images": np.zeros((4, 28, 28, 1), np.float32), "labels": [0, 0, 1, 1],
      "layer": "logits", "units": [7], "k": 2}, "0 images of class 7"),
    ({"images": np.zeros((4, 28, 28, 1), np.float32), "labels": [0, 0, 1, 1],
      "layer": "logits", "units": [0], "k": 3}, "2 images of class 0, fewer than k=3"),
    ({"images": np.zeros((4, 28, 28, 1), np.float32), "labels": [0, 1],
      "layer": "logits", "units": [0]}, "4 images but 2 labels"),
    ({"images": np.zeros((4, 28, 28, 1), np.float32), "layer": "logits",
      "units": [12]}, "which has 10 units"),
])
def test_bad_mfv_configuration_fails_before_the_first_step(tmp_path, mfv, message):
  x, y = _data(64)
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), mfv=mfv)
  with pytest.raises(ValueError, match=message):
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callback])


def test_mfv_config_keys_are_checked(tmp_path):
  with pytest.raises(ValueError, match=r"unknown \['kk'\].*missing \['units'\]"):
    tb_featviz.FeatureVizCallback(str(tmp_path), mfv={"images": 1, "layer": "x",
                                                      "kk": 2})


FAST_INVERSION = {"steps": 6}


LOGGER = "tb_featviz.callback"


def _warnings(caplog, *needles):
  """The WARNING records of the callback holding every one of `needles`."""
  return [r.getMessage() for r in caplog.records
          if r.name == LOGGER and r.levelno == logging.WARNING
          and all(needle in r.getMessage() for needle in needles)]


def _train_four_epochs_with_conv1_am(tmp_path, caplog):
  """Trains 4 epochs with AM of conv1 every epoch; checks training finished."""
  x, y = _data()
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 2},
                                           am_options=FAST_AM, every_n_epochs=1)
  with caplog.at_level(logging.WARNING, logger=LOGGER):
    history = _model().fit(x, y, epochs=4, batch_size=64, verbose=0,
                           callbacks=[callback])
  assert len(history.history["loss"]) == 4


def _at_epoch_end(actions):
  """A callback running actions[epoch](model) at the end of those epochs.

  Put it before the FeatureVizCallback: Keras calls callbacks in list order, so
  the visualization of that epoch sees what the action did.
  """
  return keras.callbacks.LambdaCallback(
      on_epoch_end=lambda epoch, logs: actions.get(epoch, lambda: None)())


def test_inf_weights_skip_the_interval_warn_once_per_item_and_training_recovers(
    tmp_path, caplog):
  x, y = _data()
  # Plain SGD keeps no state, so once the weights are restored training is sane.
  model = _model(optimizer=keras.optimizers.SGD(1e-2))
  saved = {}

  def poison():
    saved["weights"] = model.get_weights()
    kernel = model.get_layer("conv1").kernel
    kernel.assign(np.full(kernel.shape, np.inf, np.float32))

  def restore():
    model.set_weights(saved["weights"])

  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), am={"conv2": 3, "logits": [1, 2]}, am_options=FAST_AM,
      inversion={"images": x[:3], "layers": ["conv1"]},
      inversion_options=FAST_INVERSION,
      mfv={"images": x, "labels": y, "layer": "logits", "units": [3], "k": 2},
      mfv_options=FAST_MFV, every_n_epochs=1)
  with caplog.at_level(logging.INFO, logger=LOGGER):
    history = model.fit(x, y, epochs=4, batch_size=64, verbose=0, callbacks=[
        _at_epoch_end({1: poison, 2: restore}), callback])

  assert len(history.history["loss"]) == 4  # training was never interrupted
  ours = event_files.read(tmp_path / "featviz")
  for tag in ("featviz/am/conv2", "featviz/am/logits", "featviz/inversion/conv1",
              "featviz/mfv/logits/3"):
    assert event_files.steps(ours, tag) == [0, 2, 3], tag  # nothing at all for step 1
    assert event_files.steps(ours, tag + "/record") == [0, 2, 3], tag
  for event in ours.Tensors("featviz/am/logits/record"):
    assert np.all(np.isfinite(_record(event).activations))
  for kind, layer in (("am", "conv2"), ("am", "logits"), ("inversion", "conv1"),
                      ("mfv", "logits/3")):
    found = _warnings(caplog, f"{kind} of layer {layer!r} at step 1")
    assert len(found) == 1, (kind, layer, found)
    assert "is not finite (NaN/Inf)" in found[0]
    assert "nothing was logged for step 1" in found[0]
    assert "NotFiniteError" in found[0]
  assert len(_warnings(caplog)) == 4  # once per visualization


def test_an_error_inside_the_optimization_warns_once_and_later_intervals_retry(
    tmp_path, monkeypatch, caplog):
  real_call = engine.Renderer.__call__
  calls = []

  def flaky(self, *args, **kwargs):
    calls.append(1)
    if len(calls) in (2, 3):  # the second and third intervals
      raise tf.errors.InvalidArgumentError(None, None,
                                           "simulated failure in the while loop")
    return real_call(self, *args, **kwargs)

  monkeypatch.setattr(engine.Renderer, "__call__", flaky)
  _train_four_epochs_with_conv1_am(tmp_path, caplog)
  found = _warnings(caplog, "simulated failure in the while loop")
  assert len(found) == 1
  assert ("am of layer 'conv1' at step 1 failed (InvalidArgumentError" in found[0]
          and "nothing was logged for step 1" in found[0]
          and "later intervals will try again" in found[0])
  assert event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv1") == [0, 3]


def test_out_of_memory_suggests_a_smaller_batch_size(tmp_path, monkeypatch, caplog):
  real_run = engine.Renderer.run_batched
  failing = {0}  # the intervals that run out of memory
  interval = {"index": -1}

  def oom(self, *args, **kwargs):
    if interval["index"] in failing:
      raise tf.errors.ResourceExhaustedError(
          None, None, "OOM when allocating tensor with shape[4,28,28,16]")
    return real_run(self, *args, **kwargs)

  monkeypatch.setattr(engine.Renderer, "run_batched", oom)
  x, y = _data()
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), am={"conv1": 4}, am_options=dict(FAST_AM, batch_size=4),
      inversion={"images": x[:2], "layers": ["conv2"]},
      inversion_options=FAST_INVERSION, every_n_epochs=1)
  counter = keras.callbacks.LambdaCallback(
      on_epoch_end=lambda epoch, logs: interval.update(index=epoch))
  with caplog.at_level(logging.WARNING, logger=LOGGER):
    _model().fit(x, y, epochs=3, batch_size=64, verbose=0,
                 callbacks=[counter, callback])
  [am_warning] = _warnings(caplog, "am of layer 'conv1'")
  assert "ResourceExhaustedError" in am_warning and "OOM when allocating" in am_warning
  assert "Out of memory: pass a smaller batch_size" in am_warning
  assert "am_options={'batch_size': 2} (now 4)" in am_warning
  [inversion_warning] = _warnings(caplog, "inversion of layer 'conv2'")
  assert "inversion_options={'batch_size': 32} (now 64)" in inversion_warning
  ours = event_files.read(tmp_path / "featviz")
  assert event_files.steps(ours, "featviz/am/conv1") == [1, 2]
  assert event_files.steps(ours, "featviz/inversion/conv2") == [1, 2]


def test_a_full_disk_is_warned_about_once_training_goes_on_and_later_steps_are_written(
    tiny_disk, tmp_path, caplog):
  x, y = _data()
  filler = {}
  # 16 units: each interval's images are one record larger than a page, so a
  # step can never land whole in the slack at the end of the events file.
  callback = tb_featviz.FeatureVizCallback(str(tiny_disk), am={"conv1": 16},
                                           am_options=FAST_AM, every_n_epochs=1)
  with caplog.at_level(logging.INFO, logger=LOGGER):
    history = _model().fit(x, y, epochs=4, batch_size=64, verbose=0, callbacks=[
        # Keras' own callback (elsewhere, on a disk with room) writes its batch
        # scalars to whatever tf.summary writer is the default: the failing
        # writer must not be left as the default.
        keras.callbacks.TensorBoard(str(tmp_path / "keras")),
        _at_epoch_end({1: lambda: filler.update(path=disk.fill(str(tiny_disk))),
                       3: lambda: os.remove(filler["path"])}),
        callback])
  assert len(history.history["loss"]) == 4
  assert not tf.summary.scalar("no_default_writer_left", 1.0, step=0)
  # Step 0 was written; the disk was full for steps 1 and 2; step 3 is written
  # to a new events file after room was made, and TensorBoard reads it.
  ours = event_files.read(tiny_disk / "featviz")
  assert event_files.steps(ours, "featviz/am/conv1") == [0, 3]
  assert event_files.steps(ours, "featviz/am/conv1/record") == [0, 3]
  found = _warnings(caplog, "tb_featviz: logging step 1 to")
  assert len(found) == 1, found
  # Small records: TensorFlow's flush reports ENOSPC itself here (see the next
  # test for the case it does not report).
  assert "No space left on device" in found[0] or "Is the disk full?" in found[0]
  assert "The disk is full: make room" in found[0]
  assert "the next interval writes to a new events file" in found[0]
  assert "function_node" not in found[0]
  assert len(_warnings(caplog)) == 1  # step 2 failed too, reported at INFO only
  assert any("logging step 2" in r.getMessage() for r in caplog.records
             if r.levelno == logging.INFO)
  files = glob.glob(str(tiny_disk / "featviz" / "events.out.tfevents.*"))
  assert len(files) == 2  # the first file (step 0) and the one of step 3


def test_a_disk_error_when_writing_is_warned_about_once_and_retried(
    tmp_path, monkeypatch, caplog):
  """The same as above without a tmpfs: flushing raises ENOSPC (e.g. a remote
  filesystem that reports it) at the second and third intervals."""
  real_flush = checked_writer.CheckedWriter.flush
  flushes = []

  def full(self, min_records=0):
    if min_records > 1:  # an interval's flush, not a new file's first record
      flushes.append(1)
      if len(flushes) in (2, 3):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_flush(self, min_records)

  monkeypatch.setattr(checked_writer.CheckedWriter, "flush", full)
  _train_four_epochs_with_conv1_am(tmp_path, caplog)
  found = _warnings(caplog, "No space left on device")
  assert len(found) == 1 and "logging step 1" in found[0]
  assert "The disk is full: make room" in found[0]
  # The patch raises before flushing, so the events of steps 1 and 2 still
  # reach their files when the writer is closed; what counts is that each
  # failure starts a new events file and that step 3 is written.
  assert 3 in event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv1")
  assert len(glob.glob(str(tmp_path / "featviz" / "events.out.tfevents.*"))) == 3


def test_a_full_disk_for_the_projector_export_names_the_mfv_unit(
    tmp_path, monkeypatch, caplog):
  def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(projector, "export", no_space)
  x, y = _data()
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), mfv={"images": x, "labels": y, "layer": "logits",
                          "units": [3], "k": 2}, mfv_options=FAST_MFV)
  with caplog.at_level(logging.WARNING, logger=LOGGER):
    history = _model().fit(x, y, epochs=2, batch_size=64, verbose=0,
                           callbacks=[callback])
  assert len(history.history["loss"]) == 2
  [found] = _warnings(caplog, "mfv of layer 'logits/3'")
  assert "No space left on device" in found and "The disk is full" in found
  assert "its summaries at step 0 may be incomplete" in found


def test_an_unwritable_log_dir_is_refused_before_the_first_step(tmp_path):
  not_a_directory = tmp_path / "file"
  not_a_directory.write_text("")
  seen = []
  spy = keras.callbacks.LambdaCallback(
      on_train_batch_begin=lambda batch, logs: seen.append(batch))
  x, y = _data(64)
  callback = tb_featviz.FeatureVizCallback(str(not_a_directory), am={"conv1": 1})
  with pytest.raises(ValueError, match="Cannot write summaries to .*pass a log_dir"):
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callback, spy])
  assert seen == []


def _multi_input_model():
  image = keras.Input((28, 28, 1), name="image")
  extra = keras.Input((3,), name="extra")
  h = keras.layers.Conv2D(4, 3, name="conv1")(image)
  h = keras.layers.GlobalAveragePooling2D()(h)
  h = keras.layers.Concatenate()([h, extra])
  model = keras.Model([image, extra], keras.layers.Dense(10, name="out")(h))
  model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  return model


class _Subclassed(keras.Model):

  def __init__(self):
    super().__init__()
    self.conv1 = keras.layers.Conv2D(4, 3, name="conv1")
    self.pool = keras.layers.GlobalAveragePooling2D()
    self.out = keras.layers.Dense(10)

  def call(self, inputs):
    return self.out(self.pool(self.conv1(inputs)))


def _subclassed_model():
  model = _Subclassed()
  model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  return model


def _nested_model(softmax=True):
  """A Functional "base" (conv1, conv2, probs) used inside a Functional model."""
  base_input = keras.Input((28, 28, 1))
  h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(base_input)
  h = keras.layers.MaxPooling2D(name="pool")(h)
  h = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(h)
  h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
  probs = keras.layers.Dense(10, activation="softmax" if softmax else None,
                             name="probs")(h)
  base = keras.Model(base_input, probs, name="base")
  inputs = keras.Input((28, 28, 1))
  shifted = keras.layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inputs)
  model = keras.Model(inputs, base(shifted), name="outer")
  model.compile("adam", "sparse_categorical_crossentropy")
  return model


def _digits_cnn():
  return _model()


_X = np.zeros((4, 28, 28, 1), np.float32)


@pytest.mark.parametrize("make_model, config, message", [
    (_digits_cnn, {"am": {"conv9": 4}}, "no layer named 'conv9'. Its layers are: conv1"),
    (_digits_cnn, {"am": {"conv2": [3, 40]}}, r"Unit id\(s\) \[40\] out of range .*"
     r"has 32 units \(valid ids 0..31\)"),
    (_digits_cnn, {"inversion": {"images": np.zeros((2, 28, 28), np.float32),
                                 "layers": ["conv1"]}},
     r"shape \(2, 28, 28\); the model takes \(N, 28, 28, 1\)"),
    (_digits_cnn, {"inversion": {"images": np.full((2, 28, 28, 1), np.nan, np.float32),
                                 "layers": ["conv1"]}}, "hold NaN or Inf values"),
    (_digits_cnn, {"inversion": {"images": np.full((2, 28, 28, 1), 2.0, np.float32),
                                 "layers": ["conv1"]}},
     r"values in \[2, 2\], outside value_range \(0.0, 1.0\); pass the value_range"),
    (_digits_cnn, {"mfv": {"images": _X[:3], "layer": "logits", "units": [0],
                           "k": 4}}, "mfv has 3 images, fewer than k=4"),
    (_digits_cnn, {"mfv": {"images": _X, "labels": [1, 1, 2, 2], "layer": "logits",
                           "units": [5], "k": 2}}, "0 images of class 5"),
    (_digits_cnn, {"mfv": {"images": _X, "layer": "logits", "units": [0], "k": 2,
                           "embedding_layer": "embedding"}},
     "no layer named 'embedding'"),
    (_digits_cnn, {"examples": {"images": _X}}, "examples needs its layers"),
    (_digits_cnn, {"examples": {"images": _X, "layers": ["conv9"]}},
     "no layer named 'conv9'"),
    (_digits_cnn, {"am": {"conv1": 1}, "examples": {"images": _X, "k": 5}},
     r"examples k must be an integer from 1 to the number of probe images \(4\)"),
    (_digits_cnn, {"examples": {"images": _X[:, :27], "layers": ["conv1"]}},
     r"examples probe images have shape \(4, 27, 28, 1\)"),
    (_digits_cnn, {"am": {"conv1": 1}, "display_shape": (7, 7)},
     r"display_shape \(7, 7\) holds 49 values but the model input"),
    (_multi_input_model, {"am": {"conv1": 1}}, "has 2 inputs; tb_featviz visualizes "
     "models with a single image or vector input"),
    (_subclassed_model, {"am": {"conv1": 1}}, "has no layer graph"),
    (_nested_model, {"am": {"base/conv3": 1}},
     "no layer named 'base/conv3'. Its layers are: to_pm1, base/conv1, base/pool, "
     "base/conv2, base/gap, base/probs, base"),
    (_nested_model, {"am": {"to_pm1/conv1": 1}}, "no layer named 'to_pm1/conv1'"),
    (_nested_model, {"am": {"base/conv2": 17}}, "layer 'base/conv2', which has 16 units"),
])
def test_configuration_mistakes_fail_before_the_first_step(tmp_path, make_model,
                                                           config, message):
  x, y = _data(64)
  model = make_model()
  seen = []
  spy = keras.callbacks.LambdaCallback(
      on_train_batch_begin=lambda batch, logs: seen.append(batch))
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), **config)
  inputs = ([x, np.zeros((len(x), 3), np.float32)]
            if make_model is _multi_input_model else x)
  with pytest.raises(ValueError, match=message):
    model.fit(inputs, y, epochs=1, verbose=0, callbacks=[callback, spy])
  assert seen == []
  assert not glob.glob(str(tmp_path / "featviz" / "events.out.tfevents.*"))


@pytest.mark.parametrize("options, message", [
    ({"am_options": {"stepz": 3}}, r"am_options has unknown option\(s\) \['stepz'\]"),
    ({"inversion": {"images": _X, "layers": ["conv1"], "layer": "conv2"}},
     r"inversion takes the keys images, layers .*; unknown \['layer'\]"),
    ({"am": {"conv3": "some"}}, r"Units of layer 'conv3': got 'some' \(a str\); "
     r'give an int n \(the first n units\), a list of unit ids, or "all"'),
    ({"am": {"conv3": 2.5}}, r"Units of layer 'conv3': got 2.5 \(a float\); give"),
    ({"am": {"conv3": [1.0, 2]}}, r"got \[1.0, 2\] \(ids that are not integers\)"),
    ({"am": {"conv3": [3, -1]}}, r"got \[3, -1\] \(negative ids\)"),
    ({"am": {"conv3": []}}, r"Units of layer 'conv3': got \[\] \(an empty list\)"),
    ({"am": {"conv3": {"a": 1}}}, r"got \{'a': 1\} \(a dict\)"),
    ({"am": {"conv3": 0}}, r"got 0 \(a count below 1\)"),
    ({"value_range": (1.0, 0.0)}, "value_range must have low < high"),
])
def test_mistakes_in_the_arguments_fail_at_once(tmp_path, options, message):
  options.setdefault("am", {"conv1": 1})
  with pytest.raises(ValueError, match=message):
    tb_featviz.FeatureVizCallback(str(tmp_path), **options)


def test_a_multi_output_model_is_visualized(tmp_path):
  x, y = _data()
  keras.utils.set_random_seed(0)
  inputs = keras.Input((28, 28, 1))
  h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
  h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
  digit = keras.layers.Dense(10, activation="softmax", name="digit")(h)
  odd = keras.layers.Dense(1, activation="sigmoid", name="odd")(h)
  model = keras.Model(inputs, [digit, odd])
  model.compile("adam", ["sparse_categorical_crossentropy", "binary_crossentropy"])
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), am={"conv1": 2, "digit": [3], "odd": "all"}, am_options=FAST_AM,
      inversion={"images": x[:2], "layers": ["gap"]}, inversion_options=FAST_INVERSION,
      mfv={"images": x, "labels": y, "layer": "digit", "units": [3], "k": 2,
           "embedding_layer": "gap"}, mfv_options=FAST_MFV)
  model.fit(x, [y, (y % 2).astype(np.float32)], epochs=2, batch_size=64, verbose=0,
            callbacks=[callback])
  ours = event_files.read(tmp_path / "featviz")
  for tag in ("featviz/am/conv1", "featviz/am/digit", "featviz/am/odd",
              "featviz/inversion/gap", "featviz/mfv/digit/3"):
    assert event_files.steps(ours, tag) == [0, 1], tag
  odd = _record(ours.Tensors("featviz/am/odd/record")[1])
  assert list(odd.units) == [0]
  # A sigmoid unit is maximized before the sigmoid: its logit may exceed 1.
  extractor = recipe.extractor(model, "odd")
  logits = extractor(x[:8]).numpy()
  np.testing.assert_allclose(keras.ops.sigmoid(logits), model(x[:8])[1], atol=1e-5)


def test_layers_of_a_nested_model_are_addressed_as_outer_slash_inner(tmp_path):
  x, y = _data()
  model = _nested_model()
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), am={"base/conv1": 2, "base/probs": [3], "base": [4]},
      am_options=FAST_AM, inversion={"images": x[:2], "layers": ["base/conv2"]},
      inversion_options=FAST_INVERSION,
      mfv={"images": x, "labels": y, "layer": "base/probs", "units": [3], "k": 2,
           "embedding_layer": "base/gap"}, mfv_options=FAST_MFV)
  model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[callback])
  ours = event_files.read(tmp_path / "featviz")
  for tag in ("featviz/am/base/conv1", "featviz/am/base/probs", "featviz/am/base",
              "featviz/inversion/base/conv2", "featviz/mfv/base/probs/3"):
    assert event_files.steps(ours, tag) == [0, 1], tag
  meta = metadata.parse_plugin_metadata(
      ours.summary_metadata["featviz/am/base/conv1"].plugin_data.content)
  assert meta.layer == "base/conv1"

  # The nested layer is read through the outer graph: the outer model's
  # preprocessing (to [-1, 1]) comes first ...
  base = model.get_layer("base")
  inner = keras.Model(base.inputs[0], base.get_layer("conv1").output)
  extractor = recipe.extractor(model, "base/conv1")
  np.testing.assert_allclose(extractor(x[:4]), inner(x[:4] * 2.0 - 1.0), atol=1e-5)
  # ... and a softmax layer inside the nested model is read before the softmax.
  probs = recipe.extractor(model, "base/probs")
  logits = probs(x[:4]).numpy()
  assert probs.before_softmax
  assert not np.allclose(logits.sum(axis=1), 1.0)
  np.testing.assert_allclose(keras.ops.softmax(logits), model(x[:4]), atol=1e-5)
  # Reading the nested model whole gives its output (here the probabilities).
  np.testing.assert_allclose(recipe.extractor(model, "base")(x[:4]),
                             model(x[:4]), atol=1e-5)
