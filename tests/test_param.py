"""Parameterizations: pixels, and the 1/f Fourier spectrum over the cas or DFT basis."""

import numpy as np
import pytest
import tensorflow as tf

from tb_featviz.optvis import param as param_lib


def _random_images(shape, seed=0, low=0.0, high=1.0):
  return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


# 12 pixels a side take the cas basis, 72 the real DFT (see param._CAS_MAX_SIDE).
@pytest.mark.parametrize("side", [12, 72])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_fourier_images_stay_inside_the_range(side, channels, value_range):
  fourier = param_lib.FourierParam(value_range)
  params = fourier.initial((3, side, side, channels), seed=[0, 0])
  wild = 50.0 * tf.random.stateless_normal(params.shape, seed=[1, 2])
  for p in (params, wild):
    images = fourier.to_images(p).numpy()
    assert images.shape == (3, side, side, channels)
    assert images.dtype == np.float32
    assert images.min() >= value_range[0] and images.max() <= value_range[1]


@pytest.mark.parametrize("shape", [(2, 12, 12, 1), (2, 12, 12, 3), (2, 9, 11, 3),
                                   (1, 15, 15, 1), (1, 1, 1, 1), (2, 33, 35, 1),
                                   (1, 65, 70, 1), (1, 72, 66, 3)])
def test_fourier_initial_inverts_to_images(shape):
  fourier = param_lib.FourierParam((0.0, 1.0))
  images = _random_images(shape, seed=4, low=0.05, high=0.95)
  params = fourier.initial(shape, seed=[0, 0], init_images=images)
  back = fourier.to_images(params).numpy()
  assert back.shape == shape
  np.testing.assert_allclose(back, images, atol=1e-3)


@pytest.mark.parametrize("height, width", [(28, 28), (5, 7), (1, 1), (1, 6),
                                           (6, 1), (3, 2), (64, 63)])
def test_cas2d_is_the_separable_hartley_transform(height, width):
  planes = np.random.default_rng(3).normal(size=(4, height, width))
  # cas(t) = cos t + sin t, and the DFT's kernel is cos t - i sin t, so along
  # one axis cas is Re(F x) - Im(F x).
  def cas_along(x, axis):
    spectrum = np.fft.fft(x, axis=axis)
    return spectrum.real - spectrum.imag
  expected = cas_along(cas_along(planes, 1), 2)
  got = param_lib._cas2d(tf.constant(planes, tf.float32)).numpy()
  np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("height, width", [(6, 5), (4, 8), (3, 66)])
def test_the_fourier_prior_is_the_same_at_every_position(height, width):
  # With iid starting coefficients, the logits' covariance must depend only on
  # the displacement between two pixels (cyclically), in both bases: no place
  # in the image is favoured before the objective speaks.
  fourier = param_lib.FourierParam((0.0, 1.0))
  zeros = tf.zeros_like(fourier.initial((1, height, width, 1), seed=[0, 0]))
  with tf.GradientTape() as tape:
    tape.watch(zeros)
    images = tf.reshape(fourier.to_images(zeros), [-1])
  # The sigmoid's slope at 0 is 1/4: the Jacobian is the linear map / 4.
  jacobian = tape.jacobian(images, zeros)
  linear = 4.0 * tf.reshape(jacobian, (height * width, -1)).numpy()
  covariance = (linear @ linear.T).reshape(height, width, height, width)
  ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
  for dy, dx in [(1, 0), (0, 1), (2, 3)]:
    shifted = covariance[(ys + dy) % height, (xs + dx) % width][
        :, :, (ys + dy) % height, (xs + dx) % width]
    np.testing.assert_allclose(shifted, covariance, atol=1e-5 * covariance.max())
  assert covariance.max() > 0


def test_cas_and_dft_bases_start_pixels_with_about_the_same_spread(monkeypatch):
  shape = (300, 28, 28, 1)
  def logit_sd():
    fourier = param_lib.FourierParam((0.0, 1.0))
    images = fourier.to_images(fourier.initial(shape, seed=[1, 2])).numpy()
    return np.std(np.log(images / (1 - images)))
  cas = logit_sd()
  monkeypatch.setattr(param_lib, "_CAS_MAX_SIDE", 0)  # the DFT at 28 pixels
  dft = logit_sd()
  # The DFT's half spectrum weighs its first and last columns half (irfft2d
  # reads only their Hermitian part); cas weighs every frequency alike.
  assert 1.0 < cas / dft < 1.15


def test_pixel_param_project_clips_and_bounds_the_norm():
  pixel = param_lib.PixelParam((-1.0, 1.0), norm_bound=2.0)
  wild = tf.constant(np.random.default_rng(5).normal(0, 3, (4, 6, 6, 1)).astype(np.float32))
  projected = pixel.project(wild).numpy()
  assert projected.min() >= -1.0 and projected.max() <= 1.0
  norms = np.linalg.norm(projected.reshape(4, -1), axis=1)
  np.testing.assert_allclose(norms, 2.0, rtol=1e-5)  # all were far outside the ball
  small = np.full((1, 6, 6, 1), 0.1, np.float32)  # norm 0.6: left alone
  np.testing.assert_array_equal(pixel.project(tf.constant(small)).numpy(), small)
  box_only = param_lib.PixelParam((0.0, 1.0))
  np.testing.assert_array_equal(
      box_only.project(wild).numpy(), np.clip(wild.numpy(), 0.0, 1.0))


def test_pixel_param_starts_inside_the_range_and_from_init():
  pixel = param_lib.PixelParam((0.0, 255.0))
  start = pixel.initial((3, 5, 5, 1), seed=[0, 0]).numpy()
  assert start.min() >= 0.0 and start.max() <= 255.0 and start.std() > 1.0
  init = _random_images((3, 5, 5, 1), high=255.0)
  np.testing.assert_array_equal(pixel.initial((3, 5, 5, 1), [0, 0], init_images=init), init)
