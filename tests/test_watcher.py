"""`tb-featviz watch`: checkpoints found, completeness, steps, restart safety.

The pure pieces (file names, steps, the stability check, the state file, the
signal guard) are tested in-process; the watcher itself runs as the installed
console script in a few subprocesses over the checkpoints of one short
training run (3 epochs of the tiny digits CNN, ModelCheckpoint).
"""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorboard.backend.event_processing import event_file_loader  # noqa: E402
from tensorboard.compat.proto import event_pb2  # noqa: E402

import tb_featviz  # noqa: E402
from tb_featviz.watch import checkpoints  # noqa: E402
from tb_featviz import summary  # noqa: E402
from tb_featviz.watch import state as watch_state  # noqa: E402
from tb_featviz.watch import watcher  # noqa: E402
from tests import digits as digits_lib  # noqa: E402
from tests import event_files  # noqa: E402

TB_FEATVIZ = os.path.join(os.path.dirname(sys.executable), "tb-featviz")
WAIT_SECONDS = 150  # only an upper bound for a loaded machine; nothing is timed
IMAGE_TAGS = ("featviz/am/conv2", "featviz/inversion/conv1")
ALL_TAGS = IMAGE_TAGS + ("featviz/am/conv2/record", "featviz/inversion/conv1/record",
                         "featviz/inversion_error/conv1", "featviz/seconds/am/conv2",
                         "featviz/seconds/inversion/conv1")


# -- file names and steps -------------------------------------------------------


@pytest.mark.parametrize("name, kind", [
    ("model-01.keras", checkpoints.KERAS),
    ("w-03.weights.h5", checkpoints.WEIGHTS),
    ("MODEL.KERAS", None),  # keras.models.load_model would refuse it
    ("model.TMP.keras", None),
    ("model.h5", None),
    ("model-01.keras.tmp", None),
    ("model-01.tmp.keras", None),
    ("model.part.weights.h5", None),
    (".model-01.keras", None),
    ("model-01.keras~", None),
    (".keras", None),
    ("notes.txt", None),
])
def test_checkpoint_kinds_skip_temporary_and_hidden_files(name, kind):
  assert checkpoints.kind_of(name) == kind


@pytest.mark.parametrize("name, pattern, number", [
    ("model-03.keras", None, 3),
    ("ckpt/model-12.keras", None, 12),
    ("run2-epoch07-loss0.12.keras", None, 7),  # after "epoch" wins
    ("weights.05-0.42.weights.h5", None, 5),  # the .h5 suffix is no number
    ("model_step_0040.keras", None, 40),
    ("final.keras", None, None),
    ("net-e9-b300.keras", r"b(\d+)", 300),
    ("net-e9-b300.keras", r"e\d+", None),  # no group, whole match not an int
])
def test_number_in_name(name, pattern, number):
  if pattern == r"e\d+":
    with pytest.raises(checkpoints.CheckpointError, match="first group"):
      checkpoints.number_in_name(name, pattern)
  else:
    assert checkpoints.number_in_name(name, pattern) == number


def _h5_with_iterations(path, iterations):
  with h5py.File(path, "w") as f:
    f.create_group("layers")
    f["optimizer/vars/0"] = np.int64(iterations)
    f["optimizer/vars/1"] = np.float32(1e-3)


def _keras_zip(path, iterations=None, complete=True):
  """A file laid out like a .keras archive (enough for the checks here)."""
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("metadata.json", "{}")
    archive.writestr("config.json", "{}")
    if iterations is not None:
      inner = os.path.join(os.path.dirname(path), "inner.weights.h5")
      _h5_with_iterations(inner, iterations)
      archive.write(inner, "model.weights.h5")
      os.unlink(inner)
  if not complete:  # cut before the central directory
    data = open(path, "rb").read()
    with open(path, "wb") as f:
      f.write(data[:len(data) // 2])


def test_step_rule_name_offset_iterations_and_errors(tmp_path):
  rule = checkpoints.StepRule()
  epoch3 = tmp_path / "model-03.keras"
  _keras_zip(str(epoch3), iterations=12)
  # Keras's {epoch} is 1-based, the callback's epoch step 0-based.
  assert rule.step_of(str(epoch3)) == (2, "name")
  assert checkpoints.StepRule(offset=0).step_of(str(epoch3)) == (3, "name")
  assert checkpoints.StepRule(source="iterations").step_of(str(epoch3)) == (
      12, "iterations")
  # every_n_steps in the config: batch counts first.
  assert checkpoints.StepRule(batch_steps=True).step_of(str(epoch3)) == (
      12, "iterations")
  final = tmp_path / "final.keras"
  _keras_zip(str(final), iterations=30)
  assert rule.step_of(str(final)) == (30, "iterations")
  weights = tmp_path / "final.weights.h5"
  _h5_with_iterations(str(weights), 45)
  assert checkpoints.stored_iterations(str(weights)) == 45
  bare = tmp_path / "bare.keras"
  _keras_zip(str(bare))
  with pytest.raises(checkpoints.CheckpointError, match="cannot tell the step"):
    rule.step_of(str(bare))
  zero = tmp_path / "model-00.keras"
  _keras_zip(str(zero))
  with pytest.raises(checkpoints.CheckpointError, match="--step-offset 0"):
    rule.step_of(str(zero))
  with pytest.raises(checkpoints.CheckpointError, match="not a valid regular"):
    checkpoints.StepRule(pattern="epoch(")


def test_a_checkpoint_is_read_once_stable_across_two_polls_and_complete(tmp_path):
  tracker = checkpoints.StabilityTracker()
  path = str(tmp_path / "model-01.keras")
  _keras_zip(path, complete=False)
  assert not tracker.stable(path)  # first sight
  assert not tracker.stable(path)  # unchanged, but the zip has no end yet
  _keras_zip(path)
  os.utime(path, ns=(1, 1))
  assert not tracker.stable(path)  # changed since the last poll
  assert tracker.stable(path)
  with open(path, "ab") as f:  # still being written
    f.write(b"more")
  assert not tracker.stable(path)
  weights = str(tmp_path / "w-01.weights.h5")
  _h5_with_iterations(weights, 3)
  assert not tracker.stable(weights) and tracker.stable(weights)
  with open(weights, "r+b") as f:  # a clobbered HDF5 header
    f.write(b"\0" * 16)
  tracker.forget(weights)
  assert not tracker.stable(weights) and not tracker.stable(weights)
  assert checkpoints.list_checkpoints(str(tmp_path)) == [path, weights]
  assert checkpoints.list_checkpoints(str(tmp_path / "missing")) == []


# -- the state of a run ---------------------------------------------------------


def test_run_log_state_file_roundtrip_and_foreign_event_files(tmp_path):
  run_dir = str(tmp_path / "featviz")
  log = watch_state.RunLog(run_dir, own_marker="mine")
  assert log.missing(0, IMAGE_TAGS) == list(IMAGE_TAGS)
  log.record(0, ["featviz/am/conv2"])
  log.record(1, list(IMAGE_TAGS) + ["featviz/inversion/conv1/originals"])
  assert sorted(os.listdir(run_dir)) == [watch_state.STATE_FILENAME]  # no temp file
  state = json.load(open(os.path.join(run_dir, watch_state.STATE_FILENAME)))
  assert state["done"]["0"] == ["featviz/am/conv2"]

  # Someone else (the callback) logs step 5 of conv2 in the same run.
  with tf.summary.create_file_writer(run_dir).as_default():
    summary.am("conv2", np.zeros((2, 8, 8, 1), np.float32), step=5)
  again = watch_state.RunLog(run_dir, own_marker="other")
  assert again.missing(0, IMAGE_TAGS) == ["featviz/inversion/conv1"]
  assert again.missing(1, IMAGE_TAGS) == []
  assert again.missing(5, IMAGE_TAGS) == ["featviz/inversion/conv1"]
  assert again.once_logged() == {"featviz/inversion/conv1/originals"}
  # An unreadable state file is ignored: the event files still tell step 5.
  with open(again.path, "w") as f:
    f.write("{not json")
  assert watch_state.RunLog(run_dir).missing(5, IMAGE_TAGS) == [
      "featviz/inversion/conv1"]


def test_signal_guard_holds_signals_while_writing():
  guard = watcher.SignalGuard()
  guard.install()
  try:
    reached_end_of_write = False
    with pytest.raises(watcher.Interrupted) as raised:
      with guard.hold():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler has run by now
          pass
        reached_end_of_write = True
    assert reached_end_of_write and raised.value.signum == signal.SIGTERM
    with pytest.raises(KeyboardInterrupt):  # outside hold(): at once
      os.kill(os.getpid(), signal.SIGINT)
      for _ in range(1000):
        pass
  finally:
    guard.uninstall()
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the console script over a real training run -----------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """3 epochs of the digits CNN with ModelCheckpoint (.keras and .weights.h5).

  The callback also runs, visualizing only the last epoch (step 2) into
  `mixed/featviz`, so a watcher can fill in the other steps of that run.
  """
  root = tmp_path_factory.mktemp("watch")
  images, labels = digits_lib.digits()
  x, y = images[:192], labels[:192]
  probe = x[:2]
  np.save(root / "probe.npy", probe)
  config = {"am": {"conv2": 4}, "am_options": {"steps": 8},
            "inversion": {"images": "probe.npy", "layers": ["conv1"]},
            "inversion_options": {"steps": 8}, "value_range": [0, 1]}
  (root / "featviz.json").write_text(json.dumps(config))
  keras.utils.set_random_seed(0)
  model = digits_lib.cnn()
  model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
  model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[
      keras.callbacks.ModelCheckpoint(str(root / "ckpt" / "model-{epoch:02d}.keras")),
      keras.callbacks.ModelCheckpoint(str(root / "wckpt" / "w-{epoch:02d}.weights.h5"),
                                      save_weights_only=True),
      keras.callbacks.TensorBoard(str(root / "mixed")),
      tb_featviz.FeatureVizCallback(
          str(root / "mixed"), am={"conv2": 4}, am_options={"steps": 8},
          inversion={"images": probe, "layers": ["conv1"]},
          inversion_options={"steps": 8}, every_n_epochs=3),
  ])
  model.save(root / "architecture.keras")
  return root


def _command(trained, directory, logdir, *extra):
  return [TB_FEATVIZ, "watch", str(directory), "--config",
          str(trained / "featviz.json"), "--logdir", str(logdir), "--poll", "0.3",
          *extra]


def _events(run_dir):
  """[(file name, step, tag, serialized metadata)] of every summary value."""
  found = []
  for name in sorted(os.listdir(run_dir)):
    if "tfevents" not in name:
      continue
    for record in event_file_loader.RawEventFileLoader(
        os.path.join(run_dir, name)).Load():
      event = event_pb2.Event.FromString(record)
      for value in event.summary.value:
        found.append((name, event.step, value.tag, value.metadata.SerializeToString()))
  return found


def test_watch_once_fills_in_the_steps_the_callback_did_not_log(trained):
  run_dir = trained / "mixed" / "featviz"
  done = subprocess.run(_command(trained, trained / "ckpt", trained / "mixed", "--once"),
                        capture_output=True, text=True, timeout=WAIT_SECONDS)
  assert done.returncode == 0, done.stderr
  lines = done.stderr.splitlines()
  assert "Traceback" not in done.stderr
  assert any("step 0 (name) model-01.keras: am/conv2" in line and "total" in line
             for line in lines), done.stderr
  assert any("step 2 (name) model-03.keras: already logged" in line
             for line in lines), done.stderr

  # Every step exactly once, whoever logged it; and the same steps as Keras's
  # TensorBoard callback uses for the epochs.
  steps = event_files.steps_by_tag(run_dir)
  for tag in ALL_TAGS:
    assert steps[tag] == [0, 1, 2], tag
  assert steps["featviz/inversion/conv1/originals"] == [2]  # the callback's
  keras_steps = sorted(e.step for e in _keras_epoch_events(trained / "mixed" / "train"))
  assert keras_steps == [0, 1, 2]

  # The watcher's summaries carry the callback's metadata, tag for tag.
  events = _events(run_dir)
  callback_file = next(name for name, step, _, _ in events if step == 2)
  watcher_file = next(name for name, step, _, _ in events if step == 0)
  assert callback_file != watcher_file and "featviz-watch" in watcher_file
  by_writer = {}
  for name, step, tag, meta in events:
    by_writer.setdefault((name, tag), meta)  # the first event of each tag
  for tag in ALL_TAGS:
    assert by_writer[watcher_file, tag] == by_writer[callback_file, tag], tag


def _keras_epoch_events(run_dir):
  return event_files.read(run_dir).Tensors("epoch_loss")


def _wait_for_state(run_dir, steps, process):
  """Waits until the state file lists `steps` as fully done."""
  path = os.path.join(run_dir, watch_state.STATE_FILENAME)
  deadline = time.monotonic() + WAIT_SECONDS
  while time.monotonic() < deadline:
    assert process.poll() is None, process.communicate()
    try:
      done = json.load(open(path))["done"]
    except (FileNotFoundError, ValueError):
      done = {}
    if all(set(IMAGE_TAGS) <= set(done.get(str(s), ())) for s in steps):
      return done
    time.sleep(0.2)
  process.kill()
  raise AssertionError(f"steps {steps} not logged in time: {process.communicate()}")


def test_watch_killed_restarted_and_interrupted_logs_each_step_once(trained):
  """Weights-only checkpoints (+ --model): SIGKILL after the first checkpoint,
  a restart that finishes the rest, then Ctrl-C (SIGINT) while it waits."""
  logdir = trained / "restart"
  run_dir = str(logdir / "featviz")
  command = _command(trained, trained / "wckpt", logdir, "--model",
                     str(trained / "architecture.keras"))
  slow = dict(os.environ, **{watcher.PAUSE_ENV: "60"})  # dawdles after each one
  first = subprocess.Popen(command, env=slow, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  try:
    done = _wait_for_state(run_dir, [0], first)
    assert "1" not in done  # killed between two checkpoints
  finally:
    first.send_signal(signal.SIGKILL)
    first.communicate()

  second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
  try:
    _wait_for_state(run_dir, [0, 1, 2], second)
  finally:
    second.send_signal(signal.SIGINT)
    out, err = second.communicate(timeout=WAIT_SECONDS)
  assert second.returncode == 130, err
  assert "Traceback" not in err
  assert err.strip().splitlines()[-1].startswith("tb-featviz: interrupted")
  assert "step 0 (name) w-01.weights.h5: already logged" in err
  assert "step 1 (name) w-02.weights.h5: am/conv2" in err
  steps = event_files.steps_by_tag(run_dir)
  for tag in ALL_TAGS:
    assert steps[tag] == [0, 1, 2], tag
  assert steps["featviz/inversion/conv1/originals"] == [0]


def test_one_writer_per_run(tmp_path):
  run_dir = str(tmp_path / "featviz")
  first = watch_state.RunLog(run_dir, lock=True)
  with pytest.raises(watch_state.RunLocked, match="another tb-featviz process"):
    watch_state.RunLog(run_dir, lock=True)
  first.close()
  watch_state.RunLog(run_dir, lock=True).close()
