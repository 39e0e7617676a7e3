"""Random geometric transforms: resampling, jitter, scale, rotation, Compose."""

import numpy as np
import pytest
import tensorflow as tf

from tb_featviz.optvis import transforms as transforms_lib


def _random_images(shape, seed=0, low=0.0, high=1.0):
  return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


INTERPOLATIONS = pytest.mark.parametrize("interpolation",
                                         transforms_lib.INTERPOLATIONS)


@INTERPOLATIONS
def test_resample_with_the_identity_matrix_returns_the_input_exactly(interpolation):
  images = _random_images((3, 7, 9, 2))
  out = transforms_lib.resample(tf.constant(images), tf.eye(3), interpolation)
  np.testing.assert_array_equal(out.numpy(), images)


@INTERPOLATIONS
@pytest.mark.parametrize("seed", [2, 5, 11])
def test_jitter_by_an_integer_shift_is_a_roll_in_the_interior(seed, interpolation):
  images = _random_images((6, 12, 12, 1), seed=1)
  matrix = transforms_lib.Jitter(3).matrix(12, 12, tf.constant([4, seed])).numpy()
  dx, dy = matrix[:2, 2].astype(int)
  # Jitter only translates, by whole pixels.
  np.testing.assert_array_equal(matrix[:2, :2], np.eye(2))
  np.testing.assert_array_equal(matrix[:2, 2], np.round(matrix[:2, 2]))
  assert abs(dx) <= 3 and abs(dy) <= 3
  out = transforms_lib.resample(tf.constant(images), tf.constant(matrix),
                                interpolation).numpy()
  # Output pixel (x, y) reads input (x + dx, y + dy); borders are reflected.
  rolled = np.roll(images, (-dy, -dx), axis=(1, 2))
  interior = (slice(None), slice(max(0, -dy), 12 - max(0, dy)),
              slice(max(0, -dx), 12 - max(0, dx)))
  np.testing.assert_allclose(out[interior], rolled[interior], atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 1, 7, 2), (2, 6, 1, 1), (1, 1, 1, 3)])
def test_resample_of_a_one_pixel_side_reads_only_that_row_or_column(shape):
  images = _random_images(shape, seed=7)
  matrix = np.array([[0.9, 0.1, 0.6], [0.2, 1.1, 0.3], [0, 0, 1]], np.float32)
  out = transforms_lib.resample(tf.constant(images), tf.constant(matrix)).numpy()
  _, height, width, _ = shape

  def mirrored(coord, size):  # whole-sample mirroring into [0, size - 1]
    if size == 1:
      return 0.0
    period = 2.0 * (size - 1)
    return (size - 1) - abs(coord % period - (size - 1))

  expected = np.empty_like(images)
  for y in range(height):
    for x in range(width):
      sx = mirrored(matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2], width)
      sy = mirrored(matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2], height)
      x0, y0 = min(int(sx), max(width - 2, 0)), min(int(sy), max(height - 2, 0))
      x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
      wx, wy = sx - x0, sy - y0
      expected[:, y, x] = ((1 - wy) * ((1 - wx) * images[:, y0, x0] + wx * images[:, y0, x1])
                           + wy * ((1 - wx) * images[:, y1, x0] + wx * images[:, y1, x1]))
  np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 9, 11, 2), (2, 1, 7, 1), (1, 6, 1, 3)])
def test_nearest_resample_reads_the_pixel_nearest_to_each_source(shape):
  images = _random_images(shape, seed=8)
  # No source lands near a half pixel, where float32 and float64 could round apart.
  matrix = np.array([[0.9137, 0.1071, 0.3719], [0.1733, 1.0687, 0.2913], [0, 0, 1]],
                    np.float32)
  out = transforms_lib.resample(tf.constant(images), tf.constant(matrix),
                                "nearest").numpy()
  _, height, width, _ = shape

  def mirrored(coord, size):
    if size == 1:
      return 0
    period = 2.0 * (size - 1)
    return int(np.round((size - 1) - abs(coord % period - (size - 1))))

  expected = np.empty_like(images)
  for y in range(height):
    for x in range(width):
      sx = mirrored(matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2], width)
      sy = mirrored(matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2], height)
      expected[:, y, x] = images[:, sy, sx]
  np.testing.assert_array_equal(out, expected)


def test_one_channel_nearest_gives_the_same_on_both_paths():
  # CPUs take columns of (n, H*W) with a bincount gradient; GPUs take pixel
  # rows with a segment sum (deterministic there). Same values, same gradient.
  x = tf.constant(_random_images((3, 9, 11, 1), seed=9))
  y = tf.constant(_random_images((3, 99), seed=10))
  # A zoom in: some input pixels are read twice, so gradients add up.
  matrix = tf.constant([[0.8, 0.1, 0.9], [-0.1, 0.8, 0.7], [0, 0, 1]])
  index = transforms_lib._nearest(matrix, 9, 11)
  assert len(np.unique(index.numpy())) < 99
  flat = tf.reshape(x, (3, 99))
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(flat)
    by_columns = transforms_lib._columns(flat, index)
    by_rows = tf.transpose(transforms_lib._rows(tf.transpose(flat), index))
    columns_value = tf.reduce_sum(by_columns * y)
    rows_value = tf.reduce_sum(by_rows * y)
  np.testing.assert_array_equal(by_columns.numpy(), by_rows.numpy())
  np.testing.assert_allclose(tape.gradient(columns_value, flat).numpy(),
                             tape.gradient(rows_value, flat).numpy(), rtol=1e-6)


def test_an_unknown_interpolation_is_refused_with_the_choices():
  with pytest.raises(ValueError, match="cubic.*bilinear.*nearest"):
    transforms_lib.Compose([transforms_lib.Jitter(1)], interpolation="cubic")
  with pytest.raises(ValueError, match="cubic.*bilinear.*nearest"):
    transforms_lib.resample(tf.zeros((1, 4, 4, 1)), tf.eye(3), "cubic")


def test_jitter_draws_different_shifts_for_different_seeds():
  jitter = transforms_lib.Jitter(3)
  shifts = {tuple(jitter.matrix(12, 12, tf.constant([4, s])).numpy()[:2, 2])
            for s in range(8)}
  assert len(shifts) > 1


@INTERPOLATIONS
@pytest.mark.parametrize("channels", [1, 3])
def test_resample_gradient_is_the_exact_adjoint_of_the_sampling(interpolation,
                                                                channels):
  # <resample(x), y> = <x, grad>: the custom gradient is the true transpose of
  # the sampling, borders included, for a scale and rotation.
  compose = transforms_lib.Compose([transforms_lib.Scale(0.8, 1.2),
                                    transforms_lib.Rotate(20)], interpolation)
  seed = tf.constant([3, 9], tf.int32)
  x = tf.constant(_random_images((2, 9, 11, channels), seed=4))
  y = tf.constant(_random_images((2, 9, 11, channels), seed=5))
  with tf.GradientTape() as tape:
    tape.watch(x)
    inner = tf.reduce_sum(compose(x, seed) * y)
  grad = tape.gradient(inner, x)
  np.testing.assert_allclose(tf.reduce_sum(x * grad).numpy(), inner.numpy(),
                             rtol=1e-5)
  # Linear in x, so the gradient alone gives the transform of any image.
  x2 = tf.constant(_random_images((2, 9, 11, channels), seed=6))
  np.testing.assert_allclose(tf.reduce_sum(compose(x2, seed) * y).numpy(),
                             tf.reduce_sum(x2 * grad).numpy(), rtol=1e-5)


def test_compose_is_deterministic_for_a_seed_and_differentiable():
  compose = transforms_lib.Compose(
      [transforms_lib.Jitter(2), transforms_lib.Scale(0.9, 1.1), transforms_lib.Rotate(8)])
  images = tf.constant(_random_images((4, 16, 16, 3), seed=2))
  seed = tf.constant([7, 3], tf.int32)
  first, again = compose(images, seed), compose(images, seed)
  np.testing.assert_array_equal(first.numpy(), again.numpy())
  other = compose(images, tf.constant([7, 4], tf.int32))
  assert not np.allclose(first.numpy(), other.numpy())
  weights = tf.constant(_random_images((4, 16, 16, 3), seed=3))
  with tf.GradientTape() as tape:
    tape.watch(images)
    value = tf.reduce_sum(compose(images, seed) * weights)
  grad = tape.gradient(value, images)
  assert grad is not None
  assert np.all(np.isfinite(grad.numpy()))
  assert np.any(grad.numpy() != 0)


def test_compose_draws_no_global_randomness():
  compose = transforms_lib.default_transforms(16, 16)
  images = tf.constant(_random_images((2, 16, 16, 1)))
  state = tf.random.get_global_generator().state.numpy().copy()
  np_state = np.random.get_state()
  compose(images, tf.constant([1, 1], tf.int32))
  np.testing.assert_array_equal(tf.random.get_global_generator().state.numpy(), state)
  assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state))
