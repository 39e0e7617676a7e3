"""Penalties that keep optimized images readable.

Each regularizer is a callable `(images) -> (n,)`: a per-image penalty that the
engine subtracts from the objective. They are frozen dataclasses, so two equal
settings compare equal and share one compiled loop. Pixel values are first mapped to [-1, 1]
(the value range's middle is 0), and every term is a mean over pixels, so
weights do not depend on the image size or on `value_range`.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf


def _centred(images, value_range):
  low, high = value_range
  return (images - 0.5 * (low + high)) / (0.5 * (high - low))


def _per_image_mean(values):
  return tf.reduce_mean(tf.reshape(values, (tf.shape(values)[0], -1)), axis=1)


@dataclasses.dataclass(frozen=True)
class L2:
  """L2 decay, weight * mean(x^2) (Yosinski et al. 2015)."""
  weight: float
  value_range: tuple = (0.0, 1.0)

  def __call__(self, images):
    return self.weight * _per_image_mean(tf.square(_centred(images, self.value_range)))


@dataclasses.dataclass(frozen=True)
class AlphaNorm:
  """weight * mean(|x|^alpha): bounds extreme pixels (Mahendran & Vedaldi, alpha = 6)."""
  weight: float
  alpha: float = 6.0
  value_range: tuple = (0.0, 1.0)

  def __call__(self, images):
    return self.weight * _per_image_mean(
        _abs_power(_centred(images, self.value_range), self.alpha))


def _abs_power(values, exponent):
  """|values|^exponent; by products for small whole exponents.

  tf.pow goes through exp and log, forward and back; a few products cost a
  fraction of that (docs/benchmarks.md, "Measurements behind the code").
  """
  if exponent != int(exponent) or not 1 <= exponent <= 16:
    return tf.pow(tf.abs(values), exponent)
  exponent = int(exponent)
  base = values if exponent % 2 == 0 else tf.abs(values)
  result, power = None, base
  while exponent:  # binary exponentiation
    if exponent & 1:
      result = power if result is None else result * power
    exponent >>= 1
    if exponent:
      power = power * power
  return result


def _squared_gradient(images):
  """(dx^2 + dy^2) at each pixel, and a mask of the pixels that have both.

  Differences by tf.roll and a constant mask rather than slices: the gradient
  of a strided slice is slow on CPU when there are only 1 or 3 channels.
  """
  _, height, width, _ = images.shape
  dx = tf.roll(images, -1, axis=2) - images
  dy = tf.roll(images, -1, axis=1) - images
  inside = np.zeros((1, height, width, 1), np.float32)
  inside[:, :height - 1, :width - 1] = 1.0
  return dx * dx + dy * dy, tf.constant(inside)


@dataclasses.dataclass(frozen=True)
class TotalVariation:
  """weight * mean(((dx^2 + dy^2))^(beta / 2)), the TV_beta of Mahendran & Vedaldi.

  Attributes:
    weight: the penalty's weight.
    beta: 2 gives smooth images; 1 is classic TV and gives spikes.
    value_range: the images' (low, high).
    display_shape: (H, W) to view vector inputs as images; None for image inputs.
  """
  weight: float
  beta: float = 2.0
  value_range: tuple = (0.0, 1.0)
  display_shape: tuple = None

  def __call__(self, images):
    images = _centred(images, self.value_range)
    if images.shape.rank == 2:
      images = tf.reshape(images, (-1, *self.display_shape, 1))
    squared, inside = _squared_gradient(images)
    if self.beta == 2.0:
      variation = squared
    else:
      variation = tf.pow(squared + 1e-8, self.beta / 2.0)
    count = (images.shape[1] - 1) * (images.shape[2] - 1) * images.shape[3]
    return self.weight * tf.reduce_sum(variation * inside, axis=[1, 2, 3]) / count


def gaussian_kernel(sigma, channels):
  """A depthwise Gaussian kernel (size 2*ceil(2 sigma)+1) for `channels`."""
  radius = max(1, int(math.ceil(2 * sigma)))
  offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
  weights = tf.exp(-0.5 * tf.square(offsets / sigma))
  weights /= tf.reduce_sum(weights)
  kernel = weights[:, None] * weights[None, :]
  return tf.tile(kernel[:, :, None, None], [1, 1, channels, 1])


def blur(images, sigma):
  """Gaussian blur of an (n, H, W, C) batch with reflected borders."""
  kernel = gaussian_kernel(sigma, images.shape[-1])
  radius = kernel.shape[0] // 2
  padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]],
                  mode="REFLECT")
  return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")


@dataclasses.dataclass(frozen=True)
class Blur:
  """weight * mean((x - blur_sigma(x))^2): penalizes what a Gaussian blur removes.

  The differentiable counterpart of Yosinski et al.'s periodic blurring: it pulls
  the image towards its blurred self at every step instead of every n steps.
  """
  weight: float
  sigma: float = 1.0
  value_range: tuple = (0.0, 1.0)

  def __call__(self, images):
    images = _centred(images, self.value_range)
    return self.weight * _per_image_mean(tf.square(images - blur(images, self.sigma)))
