"""The Visualizer: every configured kind run at one step, a failure kept to its item."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_featviz import summary
from tb_featviz import visualizer as visualizer_lib
from tb_featviz.optvis import am as am_lib
from tests import digits as digits_lib
from tests import event_files

FAST = {"steps": 2}


@pytest.fixture(scope="module")
def model():
  keras.utils.set_random_seed(0)
  return digits_lib.cnn()


def _visualizer(images):
  return visualizer_lib.Visualizer(
      am={"conv1": 2, "conv2": [1]}, am_options=FAST,
      inversion={"images": images, "layers": ["conv1"]}, inversion_options=FAST)


def _run(visualizer, model, run_dir, step, **kwargs):
  writer = tf.summary.create_file_writer(str(run_dir))
  try:
    return visualizer.run(model, step, writer=writer, run_dir=str(run_dir), **kwargs)
  finally:
    writer.close()


def test_every_item_is_logged_and_originals_once(model, tmp_path):
  images = digits_lib.digits()[0][:2]
  visualizer = _visualizer(images)
  visualizer.validate(model)
  assert [item.tag for item in visualizer.items()] == [
      "featviz/am/conv1", "featviz/am/conv2", "featviz/inversion/conv1"]
  first = _run(visualizer, model, tmp_path, 0)
  second = _run(visualizer, model, tmp_path, 1)
  assert [o.tags for o in first] == [
      ("featviz/am/conv1",), ("featviz/am/conv2",),
      ("featviz/inversion/conv1", "featviz/inversion/conv1/originals")]
  assert [o.tags for o in second][-1] == ("featviz/inversion/conv1",)
  assert all(o.error is None and o.seconds > 0 for o in first + second)
  steps = event_files.steps_by_tag(tmp_path)
  assert steps["featviz/am/conv2"] == [0, 1]
  assert steps["featviz/inversion/conv1/originals"] == [0]


def test_a_failing_item_does_not_stop_the_others(model, tmp_path, monkeypatch):
  real = am_lib.activation_maximization

  def fails_on_conv1(model, layer, units, **options):
    if layer == "conv1":
      raise RuntimeError("simulated")
    return real(model, layer, units, **options)

  monkeypatch.setattr(am_lib, "activation_maximization", fails_on_conv1)
  visualizer = _visualizer(digits_lib.digits()[0][:2])
  visualizer.validate(model)
  seen = []
  outcomes = _run(visualizer, model, tmp_path, 0, on_outcome=seen.append)
  assert seen == outcomes
  [failed] = [o for o in outcomes if o.error is not None]
  assert (failed.item.layer, failed.phase, failed.tags) == ("conv1", "compute", ())
  assert str(failed.error) == "simulated"
  assert sorted(event_files.steps_by_tag(tmp_path)) == sorted(
      ["featviz/am/conv2", "featviz/am/conv2/record", "featviz/seconds/am/conv2",
       "featviz/inversion/conv1", "featviz/inversion/conv1/record",
       "featviz/inversion/conv1/originals", "featviz/inversion_error/conv1",
       "featviz/seconds/inversion/conv1"])


def test_a_failed_write_is_told_apart_from_a_failed_computation(
    model, tmp_path, monkeypatch):
  def no_space(*args, **kwargs):
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(summary, "am", no_space)
  visualizer = visualizer_lib.Visualizer(am={"conv1": 1}, am_options=FAST)
  visualizer.validate(model)
  held = []
  [outcome] = _run(visualizer, model, tmp_path, 0, guard=lambda: _Held(held))
  assert outcome.phase == "write" and isinstance(outcome.error, OSError)
  assert outcome.tags == () and held == ["entered", "left"]


class _Held:
  """A guard that records that the write happened inside it."""

  def __init__(self, log):
    self.log = log

  def __enter__(self):
    self.log.append("entered")

  def __exit__(self, *exc_info):
    self.log.append("left")


def test_skipped_tags_are_not_computed_and_originals_known_to_be_written_are_not_again(
    model, tmp_path):
  visualizer = _visualizer(digits_lib.digits()[0][:2])
  visualizer.validate(model)
  visualizer.written_once = {"featviz/inversion/conv1/originals"}
  outcomes = _run(visualizer, model, tmp_path, 4, skip={"featviz/am/conv1"})
  assert [o.item.tag for o in outcomes] == ["featviz/am/conv2", "featviz/inversion/conv1"]
  steps = event_files.steps_by_tag(tmp_path)
  assert "featviz/am/conv1" not in steps
  assert "featviz/inversion/conv1/originals" not in steps


def test_a_configuration_that_cannot_work_is_refused_before_any_model():
  with pytest.raises(ValueError, match="Nothing to visualize"):
    visualizer_lib.Visualizer(am_options=FAST)
  with pytest.raises(ValueError, match=r"Unknown argument\(s\) \['amm'\]"):
    visualizer_lib.Visualizer(amm={"conv1": 1})


def test_validate_names_the_mistake(model):
  visualizer = visualizer_lib.Visualizer(
      inversion={"images": np.zeros((2, 28, 28), np.float32), "layers": ["conv1"]})
  with pytest.raises(ValueError, match=r"the model takes \(N, 28, 28, 1\)"):
    visualizer.validate(model)
