"""Layers, truncated models and unit objectives: what a unit is and how it is read."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz.optvis import features as features_lib
from tests import digits as digits_lib


def test_unit_objective_channel_mean_and_neuron_centre():
  features = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
  units = tf.constant([1, 3], tf.int32)
  channel = features_lib.unit_objective(tf.constant(features), units, "channel").numpy()
  np.testing.assert_allclose(channel, [features[0, :, :, 1].mean(), features[1, :, :, 3].mean()])
  neuron = features_lib.unit_objective(tf.constant(features), units, "neuron").numpy()
  np.testing.assert_array_equal(neuron, [features[0, 1, 2, 1], features[1, 1, 2, 3]])
  dense = np.arange(12, dtype=np.float32).reshape(3, 4)
  picked = features_lib.unit_objective(tf.constant(dense), tf.constant([2, 0, 3]), "channel")
  np.testing.assert_array_equal(picked.numpy(), [2.0, 4.0, 11.0])


def test_woken_objective_is_the_relu_value_and_wakes_silent_units():
  pre = tf.constant([[[-2.0, 5.0], [-1.0, 5.0], [-0.5, 5.0], [-3.0, 5.0]],   # unit 0 silent
                     [[-2.0, 0.0], [0.5, 0.0], [-0.5, 0.0], [1.0, 0.0]]])  # unit 0 fires
  units = tf.constant([0, 0])
  with tf.GradientTape() as tape:
    tape.watch(pre)
    value = features_lib.woken_unit_objective(pre, units)
    total = tf.reduce_sum(value)
  np.testing.assert_allclose(value.numpy(), [0.0, 1.5 / 4])
  grad = tape.gradient(total, pre).numpy()
  # Silent image: every position of its unit is pushed up, as by the raw mean,
  # and the one nearest to firing (-0.5) as by the raw maximum too.
  np.testing.assert_allclose(grad[0, :, 0], [0.25, 0.25, 1.25, 0.25])
  # An image that fires gets the ordinary relu gradient; other units get none.
  np.testing.assert_allclose(grad[1, :, 0], [0.0, 0.25, 0.0, 0.25])
  assert not grad[:, :, 1].any()


def test_unknown_layer_names_it_and_lists_the_layers(trained_cnn):
  with pytest.raises(ValueError) as error:
    tb_featviz.activation_maximization(trained_cnn, "conv9", steps=1)
  message = str(error.value)
  assert "conv9" in message
  for name in ("conv1", "conv2", "conv3", "embed", "logits"):
    assert name in message


@pytest.mark.parametrize("units", [[32], [0, 40], [-1], 33, 0])
def test_unit_out_of_range_states_the_layer_width(trained_cnn, units):
  with pytest.raises(ValueError, match=r"\b32 units\b"):
    tb_featviz.activation_maximization(trained_cnn, "conv2", units, steps=1)


def test_a_model_without_a_layer_graph_is_refused_with_advice():
  class Subclassed(keras.Model):

    def __init__(self):
      super().__init__()
      self.dense = keras.layers.Dense(3, name="dense")

    def call(self, x):
      return self.dense(x)

  never_built = keras.Sequential([keras.layers.Dense(3, name="dense")])
  for model in (Subclassed(), never_built):
    with pytest.raises(ValueError, match=r"keras\.Input|Functional") as error:
      tb_featviz.activation_maximization(model, "dense", steps=1)
    assert "keras.Model(inputs, outputs)" in str(error.value)


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


def test_units_given_as_numpy_values_are_read_and_bools_are_not():
  assert features_lib.parse_units(np.arange(3), "conv2") == [0, 1, 2]
  assert features_lib.parse_units(np.int64(4), "conv2") == 4
  assert features_lib.parse_units(None, "conv2") == "all"
  with pytest.raises(ValueError, match=r"layer 'conv2' \(32 units\): got True"):
    features_lib.parse_units(True, "conv2", width=32)
  with pytest.raises(ValueError, match=r"got \[\[0, 1\]\] \(a list\)"):
    features_lib.parse_units([[0, 1]], "conv2")
