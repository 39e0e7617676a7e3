"""The summary writers: what each kind writes to a real events file."""

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.compat.proto import summary_pb2

from tb_featviz import metadata
from tb_featviz import summary
from tb_featviz.optvis import am as am_lib
from tb_featviz.optvis import examples as examples_lib
from tests import event_files
from tests import fake_results


def _written(run_dir, write):
  with tf.summary.create_file_writer(str(run_dir)).as_default():
    assert write()
  return event_files.read(run_dir)


def _pngs(events, tag, index=0):
  blobs = tf.make_ndarray(events.Tensors(tag)[index].tensor_proto)
  return [tf.io.decode_png(blob).numpy() for blob in blobs]


def _record(events, tag, index=0):
  value = tf.make_ndarray(events.Tensors(metadata.record_tag(tag))[index].tensor_proto)
  return metadata.parse_step_record(value.item())


def _metadata(events, tag):
  return events.summary_metadata[tag]


def test_am_writes_one_png_per_unit_and_the_numbers(tmp_path):
  images = np.stack([np.full((4, 6, 1), v, np.float32) for v in (-1.0, 0.0, 1.0)])
  result = am_lib.AMResult(images=images, activations=np.array([1.5, 2.5, np.nan]),
                           units=[7, 2, 9], layer="conv2", value_range=(-1.0, 1.0))
  events = _written(tmp_path, lambda: summary.am("conv2", result, step=3, seconds=0.5))
  pngs = _pngs(events, "featviz/am/conv2")
  assert [png.shape for png in pngs] == [(4, 6, 1)] * 3
  assert [int(png[0, 0, 0]) for png in pngs] == [0, 128, 255]  # -1, 0, 1 of (-1, 1)
  record = _record(events, "featviz/am/conv2")
  assert list(record.units) == [7, 2, 9] and record.seconds == 0.5
  assert record.activations[:2] == [1.5, 2.5] and np.isnan(record.activations[2])
  meta = _metadata(events, "featviz/am/conv2")
  assert meta.data_class == summary_pb2.DATA_CLASS_BLOB_SEQUENCE
  content = metadata.parse_plugin_metadata(meta.plugin_data.content)
  assert metadata.kind_name(content.kind) == "am" and content.role == metadata.IMAGES
  assert (content.layer, list(content.units)) == ("conv2", [7, 2, 9])
  assert list(content.display_shape) == [4, 6, 1]
  assert (content.value_low, content.value_high) == (-1.0, 1.0)
  assert content.companion_tag == "featviz/am/conv2/record"
  assert _metadata(events, "featviz/am/conv2/record").data_class == (
      summary_pb2.DATA_CLASS_TENSOR)
  assert event_files.steps(events, "featviz/seconds/am/conv2") == [3]


def test_a_vector_input_is_drawn_with_its_display_shape(tmp_path):
  flat = np.linspace(0, 1, 2 * 12, dtype=np.float32).reshape(2, 12)
  with pytest.raises(ValueError, match=r"pass display_shape=\(height, width\)"):
    summary.picture_shape(flat)
  events = _written(tmp_path, lambda: summary.am("dense", flat, step=0,
                                                 display_shape=(3, 4)))
  [first, _] = _pngs(events, "featviz/am/dense")
  assert first.shape == (3, 4, 1)
  np.testing.assert_array_equal(first[..., 0], np.round(flat[0].reshape(3, 4) * 255))


def test_numbers_that_do_not_match_the_images_are_refused():
  images = np.zeros((3, 4, 4, 1), np.float32)
  with pytest.raises(ValueError, match="Got 3 images, 2 units and 3 activations"):
    summary.am("c", images, step=0, units=[0, 1], activations=[1, 2, 3])
  with pytest.raises(ValueError, match="3 reconstructions, 2 errors"):
    summary.inversion("c", images, step=0, errors=[0.1, 0.2])


def test_nothing_is_written_without_a_default_writer():
  assert not summary.am("c", np.zeros((1, 4, 4, 1), np.float32), step=0)


def test_inversion_writes_originals_only_when_given_and_the_mean_error(tmp_path):
  rng = np.random.default_rng(0)
  reconstructions, originals = rng.random((2, 2, 5, 5, 1), dtype=np.float32)

  def write():
    summary.inversion("conv1", reconstructions, step=0, originals=originals,
                      errors=[0.25, 0.75])
    return summary.inversion("conv1", reconstructions, step=1, errors=[0.5, 1.5])

  events = _written(tmp_path, write)
  tag = "featviz/inversion/conv1"
  assert event_files.steps(events, tag) == [0, 1]
  assert event_files.steps(events, metadata.originals_tag(tag)) == [0]
  np.testing.assert_array_equal(
      _pngs(events, metadata.originals_tag(tag))[1][..., 0],
      np.round(originals[1, ..., 0] * 255))
  assert list(_record(events, tag, 1).errors) == [0.5, 1.5]
  means = [float(tf.make_ndarray(e.tensor_proto))
           for e in events.Tensors("featviz/inversion_error/conv1")]
  assert means == [0.5, 1.0]


def test_the_sprite_is_row_by_row_with_ceil_sqrt_n_per_row():
  images = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 2, 3, 1))
  tiles = summary.sprite(images)
  assert tiles.shape == (2 * 2, 3 * 3, 1)  # 3 per row, 2 rows
  assert [tiles[r * 2, c * 3, 0] for r in range(2) for c in range(3)] == [
      0, 1, 2, 3, 4, 0]  # the unused cell at 0


def test_mfv_writes_facets_means_and_sprite_and_the_embedding(tmp_path):
  result = fake_results.mfv_result()
  images = np.random.default_rng(2).random((7, 4, 4, 1), dtype=np.float32)
  events = _written(tmp_path, lambda: summary.mfv("logits", result, step=2,
                                                  images=images))
  tag = "featviz/mfv/logits/3"
  pngs = _pngs(events, tag)
  assert len(pngs) == 2 * 2 + 1 and pngs[-1].shape == (3 * 4, 3 * 4, 1)
  np.testing.assert_array_equal(pngs[2][..., 0], np.round(result.mean_images[0, ..., 0] * 255))
  record = _record(events, tag)
  np.testing.assert_allclose(np.reshape(record.embedding, (7, 2)), result.embedding)
  assert list(record.labels) == list(result.labels) and record.k == 2
  assert list(record.activations) == [3.0, 4.0]
  assert list(record.mean_activations) == [1.0, 2.0]
  content = metadata.parse_plugin_metadata(_metadata(events, tag).plugin_data.content)
  assert list(content.units) == [3]
  with pytest.raises(ValueError, match="Got 6 images for 7 embedded points"):
    summary.mfv("logits", result, step=0, images=images[:6])


def test_examples_write_indices_and_positions_and_the_probe_only_when_given(tmp_path):
  probe = np.random.default_rng(4).random((5, 6, 6, 1), dtype=np.float32)
  found = examples_lib.ExamplesResult(
      indices=np.array([[4, 0], [1, 2]]), activations=np.array([[3, 2], [1, 0]]),
      units=[8, 2], positions=np.array([[[0, 1], [1, 1]], [[2, 0], [0, 0]]]),
      layer="conv", grid_shape=(3, 3))

  def write():
    summary.examples("conv", found, step=0, images=probe, receptive_field=(4, 4))
    return summary.examples("conv", found, step=1, display_shape=(6, 6, 1),
                            receptive_field=(4, 4))

  events = _written(tmp_path, write)
  tag = "featviz/examples/conv"
  assert event_files.steps(events, tag) == [0, 1]
  assert _pngs(events, tag, 1) == []  # the pictures are the probe's
  assert event_files.steps(events, metadata.originals_tag(tag)) == [0]
  assert len(_pngs(events, metadata.originals_tag(tag))) == 5
  record = _record(events, tag, 1)
  assert (list(record.units), record.k, list(record.indices)) == ([8, 2], 2, [4, 0, 1, 2])
  assert list(record.positions) == [0, 1, 1, 1, 2, 0, 0, 0]
  content = metadata.parse_plugin_metadata(_metadata(events, tag).plugin_data.content)
  assert (list(content.grid_shape), list(content.receptive_field)) == ([3, 3], [4, 4])
  assert list(content.display_shape) == [6, 6, 1]
  with pytest.raises(ValueError, match="index 4 is past the 3 probe images"):
    summary.examples("conv", found, step=0, images=probe[:3])
