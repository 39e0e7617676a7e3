"""FeatureVizCallback: schedule, steps, isolation from training, failures."""

import glob
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz import metadata
from tb_featviz.optvis import am as am_lib
from tests import digits as digits_lib
from tests import event_files

FAST_AM = {"steps": 8}


def _data(n=192):
  images, labels = digits_lib.digits()
  return images[:n], labels[:n]


def _model(seed=0, learning_rate=1e-3):
  keras.utils.set_random_seed(seed)
  model = digits_lib.cnn()
  model.compile(keras.optimizers.Adam(learning_rate),
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


FAST_MFV = {"steps": 6}


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
  config = open(os.path.join(run_dir, "projector_config.pbtxt")).read()
  assert config.count("embeddings {") == 2 and "(step 1)" in config
  tensor = np.loadtxt(os.path.join(run_dir, "projector", "featviz_mfv_logits_3",
                                   "tensor.tsv"))
  assert tensor.shape == (int(np.sum(y == 3)), 2)


def test_mfv_without_labels_uses_the_images_that_drive_the_unit(tmp_path):
  x, y = _data()
  model = _model()
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), mfv={"images": x, "layer": "conv3", "units": [1], "k": 2,
                          "n_images": 40},
      mfv_options=FAST_MFV, every_n_epochs=1)
  model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[callback])
  record = _record(event_files.read(tmp_path / "featviz").Tensors(
      "featviz/mfv/conv3/1/record")[0])
  assert 2 <= len(record.labels) <= 40


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


def test_budget_postpones_intervals_and_says_so(tmp_path, caplog):
  x, y = _data()
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 2},
                                           am_options=FAST_AM, every_n_steps=1,
                                           budget=1e-4)
  with caplog.at_level(logging.WARNING, logger="tb_featviz.budget"):
    _model().fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
  # The first interval runs (its cost is unknown); at 1e-4 of a few seconds of
  # training no other fits, not even the final one.
  assert event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv1") == [1]
  assert callback.budget.postponed == [2, 3, 4, 5, 6]
  assert any("postponing" in r.getMessage() for r in caplog.records)
