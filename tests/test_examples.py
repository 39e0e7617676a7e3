"""Top dataset examples: what `tb_featviz.top_examples` promises.

The trained digits CNN comes from tests/conftest.py. Expected answers are
computed by brute force: the layer's whole output for every image (from
`keras.Model(...).predict`, or NumPy for the logits), ranked with NumPy.
"""

import dataclasses

import keras
import numpy as np
import pytest

import tb_featviz
from tb_featviz.optvis import examples as examples_lib
from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import recipe
from tests import digits as digits_lib


def brute_force_outputs(model, layer, images):
  """The layer's output for every image, read before any softmax, in NumPy."""
  if layer == "logits":
    hidden = keras.Model(model.input, model.get_layer("embed").output).predict(
        images, verbose=0)
    weights, bias = model.get_layer("logits").get_weights()
    return hidden @ weights + bias
  return keras.Model(model.input, model.get_layer(layer).output).predict(
      images, verbose=0)


def brute_force_top(outputs, units, k):
  """(indices, values) of the k best images per unit: channel means, logits."""
  values = outputs.mean(axis=(1, 2)) if outputs.ndim == 4 else outputs
  values = values[:, units]
  order = np.argsort(-values, axis=0, kind="stable")[:k].T  # ties: lower index
  return order, np.take_along_axis(values.T, order, axis=1)


@pytest.fixture(scope="module")
def probe(digits_data):
  """The 397 held-out digits and their labels."""
  images, labels = digits_data
  return images[1400:], labels[1400:]


@pytest.mark.parametrize("layer, units", [("conv3", None), ("embed", [0, 7, 31]),
                                          ("logits", None)])
def test_indices_and_activations_match_brute_force(trained_cnn, probe, layer, units):
  images, _ = probe
  ex = tb_featviz.top_examples(trained_cnn, layer, images, units=units, k=9)
  unit_ids = list(range(trained_cnn.get_layer(layer).output.shape[-1])) \
      if units is None else units
  indices, values = brute_force_top(
      brute_force_outputs(trained_cnn, layer, images), unit_ids, 9)
  assert ex.units == unit_ids and ex.layer == layer
  np.testing.assert_array_equal(ex.indices, indices)
  np.testing.assert_allclose(ex.activations, values, rtol=1e-5, atol=1e-5)


def test_logits_are_read_before_the_softmax(trained_cnn, probe):
  images, _ = probe
  ex = tb_featviz.top_examples(trained_cnn, "logits", images, k=3)
  probabilities = trained_cnn.predict(images[ex.indices[:, 0]], verbose=0)
  assert np.all(probabilities <= 1.0)
  assert np.all(ex.activations[:, 0] > 1.0)  # a trained class logit, not a probability


@pytest.mark.parametrize("layer", ["conv3", "logits"])
def test_activations_are_what_activation_maximization_reports(trained_cnn, probe, layer):
  images, _ = probe
  units = [0, 3, 9]
  ex = tb_featviz.top_examples(trained_cnn, layer, images, units=units, k=2)
  for rank in range(2):
    am = tb_featviz.activation_maximization(
        trained_cnn, layer, units, init=images[ex.indices[:, rank]], steps=0,
        preset="plain")
    np.testing.assert_allclose(ex.activations[:, rank], am.activations,
                               rtol=1e-5, atol=1e-6)


def test_rows_are_sorted_best_first_with_ties_by_lower_index(trained_cnn, probe):
  images, _ = probe
  # Every image three times in a row: each distinct value ties three ways, and
  # chunks of 4 split the copies of most images between two chunks.
  tripled = np.repeat(images[:40], 3, axis=0)
  ex = tb_featviz.top_examples(trained_cnn, "conv3", tripled, k=6, batch_size=4)
  assert np.all(np.diff(ex.activations, axis=1) <= 0)
  for row in ex.indices:
    first, second = row[0], row[3]
    assert first % 3 == 0 and second % 3 == 0, row
    np.testing.assert_array_equal(row, [first, first + 1, first + 2,
                                        second, second + 1, second + 2])


def test_padding_never_enters_the_top_k(trained_cnn, probe):
  images, _ = probe
  # 11 images in chunks of 4: the last chunk is padded with copies of image
  # 10. With k = N every image must come back exactly once per unit.
  ex = tb_featviz.top_examples(trained_cnn, "conv3", images[:11], k=11,
                               batch_size=4)
  np.testing.assert_array_equal(np.sort(ex.indices, axis=1),
                                np.tile(np.arange(11), (64, 1)))


def test_a_silent_unit_keeps_the_first_images_and_positions():
  inputs = keras.Input((6, 6, 1))
  silent = keras.layers.Conv2D(  # at most 9 - 100 before the relu
      1, 3, activation="relu", name="conv", kernel_initializer="ones",
      bias_initializer=keras.initializers.Constant(-100.0))
  model = keras.Model(inputs, silent(inputs))
  images = np.random.default_rng(0).uniform(0, 1, (10, 6, 6, 1)).astype(np.float32)
  ex = tb_featviz.top_examples(model, "conv", images, k=4, batch_size=3)
  np.testing.assert_array_equal(ex.activations, np.zeros((1, 4)))
  np.testing.assert_array_equal(ex.indices, [[0, 1, 2, 3]])
  np.testing.assert_array_equal(ex.positions, np.zeros((1, 4, 2)))


# Chunks of 64 gather each winner's map where it lies; chunks of 2 or 3 (few
# images against 3 x 5 winners) transpose the chunk first.
@pytest.mark.parametrize("layer, batch_size", [("conv1", 64), ("conv3", 64),
                                               ("conv1", 3), ("conv3", 2)])
def test_positions_are_the_strongest_response_in_each_example(
    trained_cnn, probe, layer, batch_size):
  images, _ = probe
  units = [0, 5, 15]
  ex = tb_featviz.top_examples(trained_cnn, layer, images, units=units, k=5,
                               batch_size=batch_size)
  maps = brute_force_outputs(trained_cnn, layer, images)  # (N, H, W, C)
  assert ex.positions.shape == (3, 5, 2)
  assert np.issubdtype(ex.positions.dtype, np.integer)
  for row, unit in enumerate(units):
    for column, index in enumerate(ex.indices[row]):
      unit_map = maps[index, :, :, unit]
      expected = np.unravel_index(np.argmax(unit_map), unit_map.shape)
      np.testing.assert_array_equal(ex.positions[row, column], expected)
  grid = maps.shape[1:3]
  assert np.all(ex.positions >= 0) and np.all(ex.positions < grid)


def test_dense_layers_have_no_positions(trained_cnn, probe):
  images, _ = probe
  assert tb_featviz.top_examples(trained_cnn, "embed", images, k=2).positions is None


def test_chunking_gives_the_same_result_and_one_trace(trained_cnn, probe):
  images, _ = probe
  step = examples_lib.step_function(recipe.extractor(trained_cnn, "conv2"))
  whole = tb_featviz.top_examples(trained_cnn, "conv2", images, units=8, k=9)
  traces = step.experimental_get_tracing_count()
  chunked = tb_featviz.top_examples(trained_cnn, "conv2", images, units=8, k=9,
                                    batch_size=7)  # 57 chunks, the last padded
  assert step.experimental_get_tracing_count() - traces == 1
  tb_featviz.top_examples(trained_cnn, "conv2", images[:100], units=8, k=9,
                          batch_size=7)  # another number of images, same chunks
  assert step.experimental_get_tracing_count() - traces == 1
  np.testing.assert_array_equal(chunked.indices, whole.indices)
  np.testing.assert_allclose(chunked.activations, whole.activations, rtol=1e-6)
  np.testing.assert_array_equal(chunked.positions, whole.positions)


def test_a_probe_set_of_many_chunks(trained_cnn, digits_data, monkeypatch):
  images, _ = digits_data
  shifted = np.roll(images, 2, axis=2)
  probe = np.concatenate([images, shifted])  # 3,594 images
  per_image = examples_lib.values_per_image(
      recipe.extractor(trained_cnn, "conv3"), probe.shape[1:])
  monkeypatch.setattr(examples_lib, "CHUNK_BYTES", 100 * 4 * per_image)
  assert examples_lib.chunk_size(len(probe), per_image) <= 100
  ex = tb_featviz.top_examples(trained_cnn, "conv3", probe, k=9)
  indices, values = brute_force_top(
      brute_force_outputs(trained_cnn, "conv3", probe), list(range(64)), 9)
  np.testing.assert_array_equal(ex.indices, indices)
  np.testing.assert_allclose(ex.activations, values, rtol=1e-5, atol=1e-5)


def test_chunks_are_bounded_by_bytes_and_evened_out():
  per_image = 28 * 28 * 16  # the digits CNN's conv1 output, its largest tensor
  largest = examples_lib.CHUNK_BYTES // (4 * per_image)
  for n in (1, 100, largest, largest + 1, 10000, 123457):
    chunk = examples_lib.chunk_size(n, per_image)
    chunks = -(-n // chunk)
    assert chunk <= largest and chunks * chunk - n < chunks, (n, chunk)
    assert chunks == -(-n // largest)  # no more chunks than the bound needs
  assert examples_lib.chunk_size(10000, per_image, batch_size=7) == 7
  assert examples_lib.chunk_size(5, per_image, batch_size=7) == 5


def test_the_class_images_drive_their_class_unit(trained_cnn, probe):
  # Classes 3 and 7, the demo's. A logit ranks images by the class's weight
  # vector, not by the model's decision: on this model (88% held out), the
  # top logits of class 1 include 4s that it classifies as 4s.
  images, labels = probe
  ex = tb_featviz.top_examples(trained_cnn, "logits", images, units=[3, 7], k=9)
  np.testing.assert_array_equal(labels[ex.indices], [[3] * 9, [7] * 9])


def test_result_contract(trained_cnn, probe):
  images, _ = probe
  ex = tb_featviz.top_examples(trained_cnn, "conv3", images, units=[2, 4], k=3)
  assert isinstance(ex, tb_featviz.ExamplesResult)
  assert ex.indices.shape == (2, 3) and np.issubdtype(ex.indices.dtype, np.integer)
  assert ex.activations.shape == (2, 3) and ex.activations.dtype == np.float32
  assert ex.units == [2, 4] and ex.layer == "conv3"
  with pytest.raises(dataclasses.FrozenInstanceError):
    ex.indices = None


@pytest.mark.parametrize("call, message", [
    (dict(layer="conv9"), "no layer named 'conv9'.*conv3"),
    (dict(units=[3, 64]), r"\[64\] out of range.*valid ids 0..63"),
    (dict(units=65), "first 65 units.*ask for 1 to 64"),
    (dict(images=np.zeros((4, 28, 28))), r"shape \(4, 28, 28\).*\(N, 28, 28, 1\)"),
    (dict(images=np.zeros((4, 8, 8, 1))), r"shape \(4, 8, 8, 1\).*\(N, 28, 28, 1\)"),
    (dict(images=np.zeros((0, 28, 28, 1))), "empty"),
    (dict(k=0), "k=0 .*from 1 to the number of images"),
    (dict(k=5), "k=5 .*of 4 images"),
    (dict(k=2.0), "k=2.0 .*integer"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
])
def test_bad_inputs_are_refused_clearly(trained_cnn, call, message):
  kwargs = dict(layer="conv3", images=np.zeros((4, 28, 28, 1), np.float32), k=2)
  kwargs.update(call)
  with pytest.raises(ValueError, match=message):
    tb_featviz.top_examples(trained_cnn, **kwargs)


def test_images_with_nan_are_refused(trained_cnn, probe):
  images = probe[0][:20].copy()
  images[13, 4, 4, 0] = np.nan
  with pytest.raises(features_lib.NotFiniteError, match="1 of the 20 images"):
    tb_featviz.top_examples(trained_cnn, "conv3", images, k=3, batch_size=8)


def test_the_receptive_field_is_that_of_the_kernels_and_strides():
  keras.utils.set_random_seed(0)
  digits_cnn = digits_lib.cnn()
  # conv 3x3; 2x2 pool then 3x3 conv: 3 + 1 + 2*2 = 8; again: 8 + 2 + 2*4 = 18.
  assert [examples_lib.receptive_field(digits_cnn, layer)
          for layer in ("conv1", "conv2", "conv3")] == [(3, 3), (8, 8), (18, 18)]
  assert examples_lib.receptive_field(digits_cnn, "embed") is None
  inputs = keras.Input((40, 30, 3))
  strided = keras.layers.Conv2D(2, (5, 3), strides=2, activation="relu", name="a")(inputs)
  model = keras.Model(inputs, keras.layers.Conv2D(2, 3, strides=2, name="b")(strided))
  assert examples_lib.receptive_field(model, "a") == (5, 3)
  assert examples_lib.receptive_field(model, "b") == (5 + 2 * 2, 3 + 2 * 2)
