"""Reliability of the training side (issue 7).

A visualization that fails during training - NaN/Inf in the model, an error in
the optimization, out of memory, a full disk - is warned about once with its
reason, nothing wrong is written, training goes on and later intervals try
again. Configuration mistakes are refused before the first training step with
a message that names the problem and the fix. Multi-output models and layers of
nested models can be visualized; multi-input models are refused.
"""

import errno
import glob
import logging
import os
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz import checked_writer
from tb_featviz import metadata
from tb_featviz import projector
from tb_featviz.optvis import engine
from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import recipe
from tests import digits as digits_lib
from tests import event_files

FAST_AM = {"steps": 6}
FAST_INVERSION = {"steps": 6}
FAST_MFV = {"steps": 6}
LOGGER = "tb_featviz.callback"


def _data(n=128):
  images, labels = digits_lib.digits()
  return images[:n], labels[:n]


def _model(seed=0, optimizer=None):
  keras.utils.set_random_seed(seed)
  model = digits_lib.cnn()
  model.compile(optimizer or keras.optimizers.Adam(1e-3),
                "sparse_categorical_crossentropy")
  return model


def _record(event):
  return metadata.parse_step_record(tf.make_ndarray(event.tensor_proto).item())


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


# --- 1. faults during training ---------------------------------------------------


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


def test_library_functions_refuse_a_model_that_outputs_nan(digits_data):
  images, _ = digits_data
  keras.utils.set_random_seed(0)
  model = digits_lib.cnn()
  kernel = model.get_layer("embed").kernel
  kernel.assign(np.full(kernel.shape, np.nan, np.float32))
  with pytest.raises(features_lib.NotFiniteError,
                     match=r"output at layer 'logits' .* is not finite \(NaN/Inf\)"):
    tb_featviz.activation_maximization(model, "logits", [0], steps=2)
  with pytest.raises(features_lib.NotFiniteError,
                     match="layer 'embed' for the probe images is not finite"):
    tb_featviz.invert(model, "embed", images[:2], steps=2)
  with pytest.raises(features_lib.NotFiniteError, match="for the MFV images"):
    tb_featviz.multifaceted(model, images[:20], layer="logits", unit=0, k=2,
                            steps=2)
  # Layers before the poisoned one still work.
  result = tb_featviz.activation_maximization(model, "conv3", [0], steps=2)
  assert np.all(np.isfinite(result.images))


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


@pytest.fixture
def tiny_disk(tmp_path):
  """A 256 KiB tmpfs (root only; skipped where mounting is not allowed)."""
  mount_point = tmp_path / "tiny_disk"
  mount_point.mkdir()
  mounted = subprocess.run(
      ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
      capture_output=True, text=True, check=False)
  if mounted.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); "
                "test_a_disk_error_when_writing_* covers the path by patching")
  yield mount_point
  subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory):
  """Writes a file into `directory` until the disk is full; returns its path."""
  filler = os.path.join(directory, "filler")
  with open(filler, "wb", buffering=0) as out:
    try:
      while True:
        out.write(b"\0" * 4096)
    except OSError as error:
      assert error.errno == errno.ENOSPC
  return filler


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
        _at_epoch_end({1: lambda: filler.update(path=_fill(str(tiny_disk))),
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


def test_events_that_silently_miss_the_disk_are_noticed(tiny_disk):
  """TensorFlow's writer ignores a failed append of a large record: its flush
  succeeds and the file ends in a partial record, after which TensorBoard reads
  nothing. CheckedWriter reads back what was appended and says so; the next
  file it opens is readable once there is room."""
  room = os.path.join(str(tiny_disk), "room")
  with open(room, "wb") as out:
    out.write(b"\0" * 96 * 1024)
  run_dir = str(tiny_disk / "run")
  writer = checked_writer.CheckedWriter(run_dir)
  blob = tf.constant([np.random.default_rng(0).bytes(40_000)])
  written, failure = [], None
  for step in range(8):
    with checked_writer.restoring_default_writer(), \
        writer.open().as_default(step=step):
      tf.summary.write("blob", blob, step=step)
    try:
      writer.flush(min_records=1)
      written.append(step)
    except checked_writer.WriteFailedError as error:
      failure = error
      break
  assert failure is not None and failure.errno == errno.ENOSPC
  assert "then" in str(failure) and "bytes of a partial one" in str(failure)
  assert "Is the disk full?" in str(failure)
  writer.discard()
  os.remove(room)
  with writer.open().as_default(step=99):
    tf.summary.write("blob", blob, step=99)
  writer.flush(min_records=1)
  writer.close()
  steps = event_files.steps(event_files.read(run_dir), "blob")
  assert steps == written + [99] and len(written) >= 2


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


# --- 2. configuration mistakes, before the first step ----------------------------


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


def test_a_nested_sequential_model_and_a_nested_model_called_twice():
  seq = keras.Sequential([keras.Input((28, 28, 1)),
                          keras.layers.Conv2D(4, 3, name="conv")], name="seq")
  inputs = keras.Input((28, 28, 1))
  model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(
      seq(keras.layers.Rescaling(0.5, name="half")(inputs))))
  result = tb_featviz.activation_maximization(model, "seq/conv", [1], steps=3)
  assert result.images.shape == (1, 28, 28, 1) and result.layer == "seq/conv"

  shared_input = keras.Input((28, 28, 1))
  twice = keras.Model(shared_input, keras.layers.Add()([seq(shared_input),
                                                         seq(shared_input * 0.5)]))
  with pytest.raises(ValueError, match="'seq' is called 2 times"):
    tb_featviz.activation_maximization(twice, "seq/conv", [0], steps=1)


def test_a_keras_applications_base_is_addressed_inside_a_model():
  base = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3),
                                        include_top=False)
  inputs = keras.Input((32, 32, 3))
  model = keras.Model(inputs, keras.layers.Dense(3)(
      keras.layers.GlobalAveragePooling2D()(base(inputs))))
  name = f"{base.name}/block_2_expand_relu"
  with pytest.raises(ValueError, match=f"{base.name}/block_1_expand_relu"):
    tb_featviz.activation_maximization(model, f"{base.name}/no_such_layer", [0])
  result = tb_featviz.activation_maximization(model, name, [0, 5], steps=3)
  assert result.images.shape == (2, 32, 32, 3)
  assert np.all(np.isfinite(result.images)) and np.all(np.isfinite(result.activations))
