"""Random geometric transforms applied inside the gradient tape.

Each transform draws one random 3x3 affine matrix per image; `Compose` multiplies
them and resamples the batch once (bilinear, reflected borders), so jitter,
scale and rotation cost one resampling, not three, and blur the image once.
Sampling is one gather (its gradient one weighted bincount), which XLA
compiles and any device runs.
Randomness is stateless: the same seed tensor gives the same transforms and the
global random state is never touched.
"""

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf


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
  return _compose(_compose(back, matrix), to_centre)


def _compose(first, second):
  """Products of 3x3 matrices (batched, broadcasting) as elementwise ops.

  At this size a batched MatMul kernel costs more to launch than the 27
  multiply-adds it does, and this runs at every step of every loop.
  """
  return tf.reduce_sum(tf.expand_dims(first, -1) * tf.expand_dims(second, -3),
                       axis=-2)


def _reflect(coord, size):
  if size == 1:
    return tf.zeros_like(coord)
  period = 2.0 * (size - 1)
  # x - p * floor(x / p): the same as FloorMod, whose float kernel is slow.
  folded = coord - period * tf.floor(coord / period)
  return (size - 1) - tf.abs(folded - (size - 1))


def _op_determinism():
  """Whether tf.config.experimental.enable_op_determinism() is in force.

  TensorFlow has no public getter; the private one has existed since 2.8, and
  the environment variable is the older switch.
  """
  try:
    from tensorflow.python.framework import config  # pylint: disable=g-direct-tensorflow-import
    return bool(config.is_op_determinism_enabled())
  except (ImportError, AttributeError):
    return os.environ.get("TF_DETERMINISTIC_OPS", "").lower() in ("1", "true")


@tf.custom_gradient
def _weighted_gather(planes, rows, weights):
  """out[c, p] = sum_k weights[k, p] * planes[c, rows[k, p]].

  tf.gather's own gradient is an UnsortedSegmentSum per gather, the slowest op
  of a small model's step on CPU. Here the gradient for `planes` is one
  weighted bincount over every corner of every pixel (a single pass,
  deterministic on CPU; XLA and GPUs run it too; with op determinism enabled,
  one UnsortedSegmentSum instead). Channels come first so that every broadcast
  is over a leading axis. `weights` get their true gradient.

  Args:
    planes: float32 (C, R), the pixels of each channel.
    rows: int32 (K, P), the pixels each output reads.
    weights: float32 (K, P).

  Returns:
    float32 (C, P).
  """
  corners = tf.gather(planes, rows, axis=1)  # (C, K, P)
  out = tf.reduce_sum(corners * weights, axis=1)

  def grad(upstream):
    channels, size = planes.shape[0], tf.shape(planes)[1]
    slots = rows if channels == 1 else (
        rows + tf.reshape(tf.range(channels) * size, (-1, 1, 1)))
    spread = weights * tf.expand_dims(upstream, 1)  # (C, K, P), like slots
    slots, spread = tf.reshape(slots, [-1]), tf.reshape(spread, [-1])
    if _op_determinism():  # a weighted bincount adds atomically on GPUs
      d_planes = tf.math.unsorted_segment_sum(spread, slots, tf.size(planes))
    else:
      d_planes = tf.raw_ops.DenseBincount(input=slots, size=tf.size(planes),
                                          weights=spread, binary_output=False)
    d_weights = tf.reduce_sum(corners * tf.expand_dims(upstream, 1), axis=0)
    return tf.reshape(d_planes, tf.shape(planes)), None, d_weights

  return out, grad


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
  ys, xs = np.meshgrid(np.arange(height, dtype=np.float32),
                       np.arange(width, dtype=np.float32), indexing="ij")
  xs, ys = xs.reshape(1, -1), ys.reshape(1, -1)
  a, b, c, d, e, f = (tf.expand_dims(v, 1) for v in tf.unstack(
      tf.reshape(matrices, (-1, 9)), num=9, axis=1)[:6])
  sx = _reflect(a * xs + b * ys + c, width)
  sy = _reflect(d * xs + e * ys + f, height)
  x0, y0 = tf.floor(sx), tf.floor(sy)
  wx, wy = sx - x0, sy - y0
  x0i = tf.cast(x0, tf.int32)
  y0i = tf.cast(y0, tf.int32)
  x1i = tf.minimum(x0i + 1, width - 1)
  y1i = tf.minimum(y0i + 1, height - 1)
  base = tf.expand_dims(tf.range(n) * (height * width), 1)
  top, bottom = base + y0i * width, base + y1i * width
  # Corners stacked on the first axis: stacking them on the last one
  # interleaves four values per pixel and costs more than the sampling.
  rows = tf.stack([top + x0i, top + x1i, bottom + x0i, bottom + x1i])
  weights = tf.stack([(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy,
                      wx * wy])
  if channels == 1:
    planes = tf.reshape(images, (1, -1))
  else:
    planes = tf.reshape(tf.transpose(images, (3, 0, 1, 2)), (channels, -1))
  out = _weighted_gather(planes, tf.reshape(rows, (4, -1)),
                         tf.reshape(weights, (4, -1)))
  out = tf.reshape(out, (channels, n, height, width))
  if channels == 1:
    return tf.reshape(out, (n, height, width, 1))
  return tf.transpose(out, (1, 2, 3, 0))


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
    matrix = None
    for index, transform in enumerate(self.transforms):
      sub_seed = tf.stack([seed[0], seed[1] * 7919 + index])
      step = transform.matrices(n, height, width, sub_seed)
      matrix = step if matrix is None else _compose(matrix, step)
    return resample(images, matrix)


def default_transforms(height, width):
  """Lucid-style robustness scaled to the image size.

  Jitter of about 1/16 of the side (8 px at 128, 2 px for a 28x28 digit),
  scale 0.9-1.1 and rotation of up to 8 degrees.
  """
  side = min(height, width)
  return Compose([Jitter(max(1, round(side / 16))), Scale(0.9, 1.1), Rotate(8)])
