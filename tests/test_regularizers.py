"""Regularizers: total variation, L2, the alpha-norm and the blur penalty."""

import numpy as np
import pytest
import tensorflow as tf

from tb_featviz.optvis import regularizers as reg_lib


def _random_images(shape, seed=0, low=0.0, high=1.0):
  return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_total_variation_of_a_constant_image_is_zero(value_range):
  constant = np.full((2, 10, 10, 3), 0.3 * value_range[1], np.float32)
  tv = reg_lib.TotalVariation(1.0, value_range=value_range)
  np.testing.assert_array_equal(tv(tf.constant(constant)).numpy(), [0.0, 0.0])
  tv1 = reg_lib.TotalVariation(1.0, beta=1.0, value_range=value_range)
  assert np.all(tv1(tf.constant(constant)).numpy() < 1e-3)
  noisy = _random_images((2, 10, 10, 3), low=value_range[0], high=value_range[1])
  assert np.all(tv(tf.constant(noisy)).numpy() > 0.01)


def test_total_variation_of_a_vector_input_uses_the_display_shape():
  tv = reg_lib.TotalVariation(1.0, display_shape=(8, 8))
  constant = np.full((3, 64), 0.7, np.float32)
  np.testing.assert_array_equal(tv(tf.constant(constant)).numpy(), [0.0] * 3)
  stripes = np.tile(np.repeat([[0.0, 1.0]], 4, axis=0).reshape(1, 8), (8, 1))  # columns
  per_image = tv(tf.constant(stripes.reshape(1, 64).astype(np.float32))).numpy()
  assert per_image[0] > 0.1


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_l2_is_zero_at_the_middle_of_the_range(value_range):
  low, high = value_range
  l2 = reg_lib.L2(2.0, value_range=value_range)
  middle = np.full((2, 5, 5, 1), 0.5 * (low + high), np.float32)
  np.testing.assert_array_equal(l2(tf.constant(middle)).numpy(), [0.0, 0.0])
  top = np.full((1, 5, 5, 1), high, np.float32)
  np.testing.assert_allclose(l2(tf.constant(top)).numpy(), [2.0], rtol=1e-6)


@pytest.mark.parametrize("alpha", [2.0, 6.0])
def test_alpha_norm_grows_with_the_alpha_th_power(alpha):
  norm = reg_lib.AlphaNorm(1.0, alpha=alpha, value_range=(0.0, 1.0))

  def at(c):  # an image whose centred values are all c
    return norm(tf.constant(np.full((1, 4, 4, 1), 0.5 + 0.5 * c, np.float32))).numpy()[0]

  np.testing.assert_allclose(at(0.4), 0.4**alpha, rtol=1e-4)
  np.testing.assert_allclose(at(0.8) / at(0.4), 2.0**alpha, rtol=1e-4)
  assert at(0.0) == 0.0


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0, 6.0, 7.0, 2.5])
def test_alpha_norm_and_its_gradient_match_the_power_function(alpha):
  # Whole exponents go by products, the others by tf.pow: both must be |x|^alpha.
  norm = reg_lib.AlphaNorm(0.5, alpha=alpha, value_range=(0.0, 1.0))
  images = tf.constant(_random_images((2, 5, 6, 3), seed=4))
  with tf.GradientTape() as tape:
    tape.watch(images)
    value = norm(images)
  centred = np.abs(2.0 * images.numpy() - 1.0).astype(np.float64)
  expected = 0.5 * np.mean(centred.reshape(2, -1)**alpha, axis=1)
  np.testing.assert_allclose(value.numpy(), expected, rtol=1e-5)
  sign = np.sign(2.0 * images.numpy() - 1.0)
  expected_gradient = 0.5 * alpha * centred**(alpha - 1) * sign * 2.0 / (5 * 6 * 3)
  np.testing.assert_allclose(tape.gradient(value, images).numpy(),
                             expected_gradient, rtol=1e-4, atol=1e-9)


def test_blur_penalty_is_zero_for_a_constant_image():
  blur = reg_lib.Blur(1.0, sigma=1.0)
  constant = np.full((2, 12, 12, 3), 0.25, np.float32)
  np.testing.assert_allclose(blur(tf.constant(constant)).numpy(), [0.0, 0.0], atol=1e-10)
  noisy = _random_images((2, 12, 12, 3))
  assert np.all(blur(tf.constant(noisy)).numpy() > 1e-3)
  kernel = reg_lib.gaussian_kernel(1.5, 3).numpy()
  np.testing.assert_allclose(kernel.sum(axis=(0, 1)), np.ones((3, 1)), rtol=1e-6)
