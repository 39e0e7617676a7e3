"""Random geometric transforms applied inside the gradient tape.

Each transform draws one random 3x3 affine matrix per image; `Compose` multiplies
them and resamples the batch once (bilinear, reflected borders), so jitter,
scale and rotation cost one resampling, not three, and blur the image once.
Sampling is written with gathers, which XLA compiles and any device runs.
Randomness is stateless: the same seed tensor gives the same transforms and the
global random state is never touched.
"""

import dataclasses
import math

import tensorflow as tf


def _eye(n):
  return tf.eye(3, batch_shape=[n])


@dataclasses.dataclass(frozen=True)
class Jitter:
  """Random translation by up to `pixels` in each direction."""
  pixels: float

  def matrices(self, n, height, width, seed):
    del height, width
    shift = tf.random.stateless_uniform((n, 2), seed, -self.pixels, self.pixels)
    shift = tf.round(shift)
    zeros, ones = tf.zeros((n,)), tf.ones((n,))
    rows = [[ones, zeros, shift[:, 0]], [zeros, ones, shift[:, 1]],
            [zeros, zeros, ones]]
    return tf.stack([tf.stack(row, axis=-1) for row in rows], axis=1)


@dataclasses.dataclass(frozen=True)
class Scale:
  """Random zoom about the centre by a factor in [low, high]."""
  low: float
  high: float

  def matrices(self, n, height, width, seed):
    factor = tf.random.stateless_uniform((n,), seed, self.low, self.high)
    return _about_centre(_linear(1.0 / factor, 0.0, 0.0, 1.0 / factor), height,
                         width)


@dataclasses.dataclass(frozen=True)
class Rotate:
  """Random rotation about the centre by up to `degrees` either way."""
  degrees: float

  def matrices(self, n, height, width, seed):
    limit = self.degrees * math.pi / 180.0
    angle = tf.random.stateless_uniform((n,), seed, -limit, limit)
    cos, sin = tf.cos(angle), tf.sin(angle)
    return _about_centre(_linear(cos, -sin, sin, cos), height, width)


def _linear(a, b, c, d):
  zeros, ones = tf.zeros_like(a), tf.ones_like(a)
  b, c, d = (tf.broadcast_to(tf.cast(v, tf.float32), tf.shape(a)) for v in (b, c, d))
  rows = [[a, b, zeros], [c, d, zeros], [zeros, zeros, ones]]
  return tf.stack([tf.stack(row, axis=-1) for row in rows], axis=1)


def _about_centre(matrix, height, width):
  cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
  to_centre = tf.constant([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], tf.float32)
  back = tf.constant([[1, 0, cx], [0, 1, cy], [0, 0, 1]], tf.float32)
  return back @ matrix @ to_centre


def _reflect(coord, size):
  if size == 1:
    return tf.zeros_like(coord)
  period = 2.0 * (size - 1)
  folded = tf.math.floormod(coord, period)
  return (size - 1) - tf.abs(folded - (size - 1))


def resample(images, matrices):
  """Bilinear resampling of `images` (n, H, W, C) through per-image matrices.

  Args:
    images: float32 tensor (n, H, W, C) with static H, W, C.
    matrices: float32 tensor (n, 3, 3) mapping output (x, y, 1) to input coords.

  Returns:
    float32 tensor (n, H, W, C).
  """
  n = tf.shape(images)[0]
  height, width, channels = images.shape[1], images.shape[2], images.shape[3]
  ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32),
                       tf.range(width, dtype=tf.float32), indexing="ij")
  grid = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]),
                   tf.ones([height * width])])
  source = tf.einsum("nij,jp->nip", matrices, grid)
  sx = _reflect(source[:, 0], width)
  sy = _reflect(source[:, 1], height)
  x0, y0 = tf.floor(sx), tf.floor(sy)
  wx, wy = (sx - x0)[..., None], (sy - y0)[..., None]
  x0i = tf.cast(x0, tf.int32)
  y0i = tf.cast(y0, tf.int32)
  x1i = tf.minimum(x0i + 1, width - 1)
  y1i = tf.minimum(y0i + 1, height - 1)
  flat = tf.reshape(images, (n, height * width, channels))

  def at(y, x):
    return tf.gather(flat, y * width + x, axis=1, batch_dims=1)

  top = at(y0i, x0i) * (1 - wx) + at(y0i, x1i) * wx
  bottom = at(y1i, x0i) * (1 - wx) + at(y1i, x1i) * wx
  out = top * (1 - wy) + bottom * wy
  return tf.reshape(out, (n, height, width, channels))


@dataclasses.dataclass(frozen=True)
class Compose:
  """Applies several affine transforms as one resampling.

  Attributes:
    transforms: objects with `matrices(n, height, width, seed)`.
  """
  transforms: tuple

  def __post_init__(self):
    object.__setattr__(self, "transforms", tuple(self.transforms))

  def __call__(self, images, seed):
    """Transforms `images` with randomness drawn from `seed` (int32 (2,))."""
    if not self.transforms:
      return images
    n = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    matrix = _eye(n)
    for index, transform in enumerate(self.transforms):
      sub_seed = tf.stack([seed[0], seed[1] * 7919 + index])
      matrix = matrix @ transform.matrices(n, height, width, sub_seed)
    return resample(images, matrix)


def default_transforms(height, width):
  """Lucid-style robustness scaled to the image size.

  Jitter of about 1/16 of the side (8 px at 128, 2 px for a 28x28 digit),
  scale 0.9-1.1 and rotation of up to 8 degrees.
  """
  side = min(height, width)
  return Compose([Jitter(max(1, round(side / 16))), Scale(0.9, 1.1), Rotate(8)])
