"""What a run directory holds already: the state file, other writers' event
files, and one watcher per run."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tb_featviz import summary
from tb_featviz.watch import state as watch_state

IMAGE_TAGS = ("featviz/am/conv2", "featviz/inversion/conv1")


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


def test_one_writer_per_run(tmp_path):
  run_dir = str(tmp_path / "featviz")
  first = watch_state.RunLog(run_dir, lock=True)
  with pytest.raises(watch_state.RunLocked, match="another tb-featviz process"):
    watch_state.RunLog(run_dir, lock=True)
  first.close()
  watch_state.RunLog(run_dir, lock=True).close()
