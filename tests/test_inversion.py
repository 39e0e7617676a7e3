"""Code inversion: shallow layers give the picture back, deep ones the class."""

import keras
import numpy as np
import pytest

import tb_featviz
from tb_featviz.optvis import inversion as inversion_lib
from tests import digits as digits_lib

LAYERS_BY_DEPTH = ("conv1", "conv2", "conv3", "embed")


@pytest.fixture(scope="module")
def probe(digits_data):
  """16 held-out digits (the fixture model trained on the first 1400)."""
  images, labels = digits_data
  return images[1500:1516], labels[1500:1516]


@pytest.fixture(scope="module")
def inverted(trained_cnn, probe):
  """{layer: InversionResult} of the probe digits from each layer."""
  return {layer: tb_featviz.invert(trained_cnn, layer, probe[0], seed=0)
          for layer in LAYERS_BY_DEPTH}


def _correlation(a, b):
  return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_first_conv_layer_gives_the_picture_back(inverted, probe):
  result = inverted["conv1"]
  assert result.errors.shape == (16,)
  assert np.all(result.errors < 0.05), result.errors
  correlations = [_correlation(r, o) for r, o in zip(result.images, probe[0])]
  assert min(correlations) > 0.9, correlations


def test_penultimate_dense_layer_keeps_the_class(trained_cnn, inverted, probe):
  seen_as = trained_cnn.predict(probe[0], verbose=0).argmax(axis=1)
  reconstructed_as = trained_cnn.predict(inverted["embed"].images, verbose=0).argmax(axis=1)
  assert np.mean(reconstructed_as == seen_as) >= 0.75, (seen_as, reconstructed_as)
  # ...while the pixels themselves are far less faithful than from conv1.
  deep = np.mean([_correlation(r, o) for r, o in zip(inverted["embed"].images, probe[0])])
  shallow = np.mean([_correlation(r, o) for r, o in zip(inverted["conv1"].images, probe[0])])
  assert deep < shallow


def test_errors_grow_with_depth_on_average(inverted):
  means = [float(np.mean(inverted[layer].errors)) for layer in LAYERS_BY_DEPTH]
  assert means[0] < means[2] and means[0] < means[3], means


def test_result_contract_and_range(inverted, probe):
  for result in inverted.values():
    assert result.images.shape == probe[0].shape
    assert result.images.dtype == np.float32
    assert result.images.min() >= 0.0 and result.images.max() <= 1.0
    assert result.value_range == (0.0, 1.0)


def test_same_seed_same_result_other_seed_other_start(trained_cnn, probe):
  first = tb_featviz.invert(trained_cnn, "conv3", probe[0][:4], steps=20, seed=5)
  again = tb_featviz.invert(trained_cnn, "conv3", probe[0][:4], steps=20, seed=5)
  other = tb_featviz.invert(trained_cnn, "conv3", probe[0][:4], steps=20, seed=6)
  np.testing.assert_array_equal(first.images, again.images)
  np.testing.assert_array_equal(first.errors, again.errors)
  assert not np.array_equal(first.images, other.images)


def test_chunking_does_not_retrace(trained_cnn, probe):
  images = probe[0][:5]
  tb_featviz.invert(trained_cnn, "conv2", images, steps=2, batch_size=2)
  extractor = tb_featviz.optvis.recipe.extractor(trained_cnn, "conv2")
  traces = sum(r.trace_count for r in extractor._renderers.values())
  tb_featviz.invert(trained_cnn, "conv2", images, steps=2, batch_size=2)
  assert sum(r.trace_count for r in extractor._renderers.values()) == traces


def test_depth_adapted_tv_weight(trained_cnn):
  weights = [inversion_lib.default_tv_weight(trained_cnn, layer)
             for layer in LAYERS_BY_DEPTH + ("logits",)]
  assert weights == sorted(weights)
  assert weights[-1] == pytest.approx(inversion_lib.DEFAULT_TV_WEIGHT_LAST)


def test_vector_input_and_colour_input():
  keras.utils.set_random_seed(0)
  mlp = keras.Sequential([keras.Input((64,)), keras.layers.Dense(48, name="hidden"),
                          keras.layers.Dense(10, name="out")])
  images, _ = digits_lib.digits(size=8)
  flat = images[:3].reshape(3, 64)
  result = tb_featviz.invert(mlp, "hidden", flat, steps=200, display_shape=(8, 8))
  assert result.images.shape == (3, 64) and result.display_shape == (8, 8)
  assert np.all(result.errors < 0.05), result.errors

  inputs = keras.Input((12, 12, 3))
  features = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
  rgb = keras.Model(inputs, features)
  pictures = np.random.default_rng(0).uniform(0.2, 0.8, (2, 12, 12, 3)).astype(np.float32)
  result = tb_featviz.invert(rgb, "conv", pictures, steps=50, jitter=1)
  assert result.images.shape == (2, 12, 12, 3)
  assert np.all(np.isfinite(result.errors))


@pytest.mark.parametrize("images, kwargs, message", [
    (np.zeros((2, 28, 28, 3), np.float32), {}, r"the model takes \(N, 28, 28, 1\)"),
    (np.zeros((0, 28, 28, 1), np.float32), {}, "empty"),
    (np.full((1, 28, 28, 1), 2.0, np.float32), {}, "outside value_range"),
    (np.zeros((1, 28, 28, 1), np.float32), {"value_range": (1, 0)}, "low < high"),
])
def test_bad_input_is_refused_clearly(trained_cnn, images, kwargs, message):
  with pytest.raises(ValueError, match=message):
    tb_featviz.invert(trained_cnn, "conv1", images, steps=1, **kwargs)


def test_unknown_layer_lists_the_layers(trained_cnn, probe):
  with pytest.raises(ValueError, match="no layer named 'conv7'.*conv1, pool1, conv2"):
    tb_featviz.invert(trained_cnn, "conv7", probe[0][:1])
