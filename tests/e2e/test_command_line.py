"""`tb-featviz` as a user runs it: the installed console script in
subprocesses, over the checkpoints of one short training run (3 epochs of
the digits CNN, ModelCheckpoint). It fills in the steps the callback did not
log, survives being killed and restarted, reports a disk that is full, and
its mistakes are one line on stderr.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import event_pb2

import tb_featviz
from tb_featviz.watch import state as watch_state
from tb_featviz.watch import watcher
from tests import digits as digits_lib
from tests import disk
from tests import event_files

TB_FEATVIZ = os.path.join(os.path.dirname(sys.executable), "tb-featviz")
WAIT_SECONDS = 150  # only an upper bound for a loaded machine; nothing is timed
IMAGE_TAGS = ("featviz/am/conv2", "featviz/inversion/conv1")
ALL_TAGS = IMAGE_TAGS + ("featviz/am/conv2/record", "featviz/inversion/conv1/record",
                         "featviz/inversion_error/conv1", "featviz/seconds/am/conv2",
                         "featviz/seconds/inversion/conv1")


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


def test_a_real_command_line_error_is_one_line_on_stderr(trained, tmp_path):
  """Past TensorFlow's import (whose C++ log lines are held back)."""
  config = json.loads((trained / "featviz.json").read_text())
  config["am"] = {"conv9": 2}
  config["inversion"]["images"] = str(trained / "probe.npy")
  (tmp_path / "layer.json").write_text(json.dumps(config))
  checkpoint = trained / "ckpt" / "model-02.keras"
  done = subprocess.run([TB_FEATVIZ, "run", str(checkpoint), "--config",
                         str(tmp_path / "layer.json"), "--logdir", str(tmp_path)],
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 2
  assert done.stderr.splitlines() == [
      f"tb-featviz: error: {tmp_path / 'layer.json'} does not fit the model of "
      f"{checkpoint}: Model 'digits_cnn' has no layer named "
      "'conv9'. Its layers are: conv1, pool1, conv2, pool2, conv3, gap, embed, "
      "logits."]
  assert done.stdout == ""


def test_a_full_disk_is_reported_and_the_steps_are_logged_once_there_is_room(
    trained, tiny_disk):
  """The watcher writes through CheckedWriter: events that did not reach the
  disk are noticed, the checkpoint is reported as not written (exit code 1)
  and nothing is recorded as done, so the same command logs it later."""
  command = _command(trained, trained / "ckpt", tiny_disk, "--once")
  filler = disk.fill(str(tiny_disk))
  full = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_SECONDS)
  assert full.returncode == 1, full.stderr
  lines = [line for line in full.stderr.splitlines() if "NOT WRITTEN" in line]
  assert len(lines) == 3, full.stderr
  assert all("The disk is full: make room" in line for line in lines), lines
  assert "Traceback" not in full.stderr
  run_dir = tiny_disk / "featviz"
  state = run_dir / watch_state.STATE_FILENAME
  assert not state.exists() or json.loads(state.read_text())["done"] == {}

  os.remove(filler)
  again = subprocess.run(command, capture_output=True, text=True,
                         timeout=WAIT_SECONDS)
  assert again.returncode == 0, again.stderr
  assert "NOT WRITTEN" not in again.stderr
  assert "3 checkpoint(s) visualized, 0 already logged, 0 failed" in again.stderr
  steps = event_files.steps_by_tag(run_dir)
  for tag in ALL_TAGS:
    assert steps[tag] == [0, 1, 2], tag
