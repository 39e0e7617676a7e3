"""Finding checkpoints: which files are checkpoints, when they are complete,
and their steps."""

import os
import zipfile

import h5py
import numpy as np
import pytest

from tb_featviz.watch import checkpoints


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
