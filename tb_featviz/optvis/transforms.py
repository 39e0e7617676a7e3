"""Random geometric transforms applied inside the gradient tape.

Each transform draws one random 3x3 affine matrix per step for the whole batch
(as lucid does); `Compose` multiplies them and resamples the batch once
(reflected borders), so jitter, scale and rotation cost one resampling, not
three. Sampling is bilinear or nearest-neighbour; either way it is one gather
of pixel rows (its gradient one segment sum), which XLA compiles and any
device runs (on a CPU, one channel skips the transposes to pixel rows).
Randomness is stateless: the same seed tensor gives the same transforms and the
global random state is never touched.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Jitter:
  """Random translation by up to `pixels` in each direction."""
  pixels: float

  def matrix(self, height, width, seed):
    del height, width
    shift = tf.round(tf.random.stateless_uniform((2,), seed, -self.pixels,
                                                 self.pixels))
    return tf.stack([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]],
                     [0.0, 0.0, 1.0]])


@dataclasses.dataclass(frozen=True)
class Scale:
  """Random zoom about the centre by a factor in [low, high]."""
  low: float
  high: float

  def matrix(self, height, width, seed):
    inverse = 1.0 / tf.random.stateless_uniform((), seed, self.low, self.high)
    return _about_centre(_linear(inverse, 0.0, 0.0, inverse), height, width)


@dataclasses.dataclass(frozen=True)
class Rotate:
  """Random rotation about the centre by up to `degrees` either way."""
  degrees: float

  def matrix(self, height, width, seed):
    limit = self.degrees * math.pi / 180.0
    angle = tf.random.stateless_uniform((), seed, -limit, limit)
    cos, sin = tf.cos(angle), tf.sin(angle)
    return _about_centre(_linear(cos, -sin, sin, cos), height, width)


def _linear(a, b, c, d):
  zero = tf.zeros_like(a)
  b, c, d = (tf.cast(v, tf.float32) + zero for v in (b, c, d))
  return tf.stack([[a, b, zero], [c, d, zero], [zero, zero, zero + 1.0]])


def _about_centre(matrix, height, width):
  cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
  to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float32)
  back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], np.float32)
  return _product(_product(back, matrix), to_centre)


def _product(a, b):
  """a @ b for 3x3 matrices, as a broadcast multiply and a sum.

  Not tf.matmul: with oneDNN on, a MatMul of a few numbers has a fixed cost
  of its own, and a step takes seven of them (composing the matrices, mapping
  the pixel grid); see docs/benchmarks.md, "Measurements behind the code".
  """
  return tf.reduce_sum(tf.expand_dims(a, 2) * tf.expand_dims(b, 0), axis=1)


def _reflect(coords, sizes):
  """Folds coordinates into [0, size - 1] by whole-sample mirroring.

  Args:
    coords: float32 (2, P), x on the first row and y on the second.
    sizes: float32 (2, 1), the width and the height.
  """
  last = sizes - 1.0
  period = np.maximum(2.0 * last, 1.0)  # a side of 1 pixel folds onto it
  # x - p * floor(x / p): the same as FloorMod, whose float kernel is slow.
  folded = coords - period * tf.floor(coords / period)
  # The clip only acts on a side of 1, where the mirror image of [0, 1) would
  # be (-1, 0]: every coordinate there is 0.
  return tf.clip_by_value(last - tf.abs(folded - last), 0.0, last)


BILINEAR = "bilinear"
NEAREST = "nearest"
INTERPOLATIONS = (BILINEAR, NEAREST)


def _check_interpolation(interpolation):
  if interpolation not in INTERPOLATIONS:
    raise ValueError(f"Unknown interpolation {interpolation!r}; use one of "
                     f"{INTERPOLATIONS}.")


def _sources(matrix, height, width):
  """Where each output pixel reads from: float32 (2, H*W), x then y, in range.

  Args:
    matrix: float32 (3, 3), output (x, y, 1) to input coordinates.
    height, width: ints, the image size.
  """
  ys, xs = np.meshgrid(np.arange(height, dtype=np.float32),
                       np.arange(width, dtype=np.float32), indexing="ij")
  sizes = np.array([[width], [height]], np.float32)
  # matrix[:2] @ [x; y; 1] without a matmul (see `_product`).
  coords = (matrix[:2, 0:1] * xs.reshape(1, -1)
            + matrix[:2, 1:2] * ys.reshape(1, -1) + matrix[:2, 2:3])
  return _reflect(coords, sizes)


def _nearest(matrix, height, width):
  """The flat input pixel nearest to each output pixel's source: int32 (H*W,)."""
  coords = tf.cast(tf.round(_sources(matrix, height, width)), tf.int32)
  return coords[1] * width + coords[0]


def _corners(matrix, height, width):
  """Where each output pixel reads from, and with which bilinear weights.

  Args:
    matrix: float32 (3, 3), output (x, y, 1) to input coordinates.
    height, width: ints, the image size.

  Returns:
    rows: int32 (4, H*W), the flat input pixel of each of the four corners.
    weights: float32 (4, H*W), their bilinear weights.
  """
  sizes = np.array([[width], [height]], np.float32)
  coords = _sources(matrix, height, width)  # (2, P)
  # The lower corner stops one short of the edge, so the upper one (lower + 1)
  # is always inside; at the edge the weight moves entirely onto it.
  lower = tf.minimum(tf.floor(coords), np.maximum(sizes - 2.0, 0.0))
  frac = coords - lower
  lower = tf.cast(lower, tf.int32)
  upper = tf.minimum(lower + 1, (sizes - 1.0).astype(np.int32))
  x0, y0, x1, y1 = lower[0], lower[1], upper[0], upper[1]
  wx, wy = frac[0], frac[1]
  rows = tf.stack([y0 * width + x0, y0 * width + x1, y1 * width + x0,
                   y1 * width + x1])
  weights = tf.stack([(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy,
                      wx * wy])
  return rows, weights


@tf.custom_gradient
def _weighted_rows(pixels, rows, weights):
  """out[p] = sum_k weights[k, p] * pixels[rows[k, p]], for rows of pixels.

  The gradient for `pixels` is one segment sum of whole rows (XLA compiles
  it, any device runs it, and on GPUs it is deterministic when op determinism
  is on). `rows` and `weights` come from the random matrix, not from what is
  optimized, and get no gradient.

  Args:
    pixels: float32 (H*W, B), one row per pixel, one column per image channel.
    rows: int32 (4, H*W).
    weights: float32 (4, H*W).

  Returns:
    float32 (H*W, B).
  """
  expanded = tf.expand_dims(weights, -1)
  out = tf.reduce_sum(tf.gather(pixels, rows) * expanded, axis=0)

  def grad(upstream):
    spread = tf.reshape(expanded * upstream, (-1, tf.shape(upstream)[1]))
    d_pixels = tf.math.unsorted_segment_sum(
        spread, tf.reshape(rows, [-1]), tf.shape(pixels)[0])
    return d_pixels, None, None

  return out, grad


@tf.custom_gradient
def _rows(pixels, rows):
  """out[p] = pixels[rows[p]]; like tf.gather, with a segment-sum gradient.

  tf.gather's own gradient is an IndexedSlices that the loop would turn into
  a dense tensor by the same segment sum, plus a copy.

  Args:
    pixels: float32 (H*W, B).
    rows: int32 (H*W,).

  Returns:
    float32 (H*W, B).
  """

  def grad(upstream):
    return tf.math.unsorted_segment_sum(upstream, rows, tf.shape(pixels)[0]), None

  return tf.gather(pixels, rows), grad


@tf.custom_gradient
def _columns(images, columns):
  """out[:, p] = images[:, columns[p]], with a bincount gradient.

  For one channel: images stay (n, H*W) and no transposes to pixel rows are
  needed (they were a third of the nearest transform's time).

  Args:
    images: float32 (n, H*W).
    columns: int32 (H*W,).

  Returns:
    float32 (n, H*W).
  """
  size = images.shape[1]  # static: XLA needs the bin count at compile time

  def grad(upstream):
    at = tf.broadcast_to(columns[None], tf.shape(upstream))
    # The raw op: tf.math.bincount works its size out from the data, and XLA
    # needs the size as a constant.
    return tf.raw_ops.DenseBincount(input=at, size=size, weights=upstream), None

  return tf.gather(images, columns, axis=1), grad


def resample(images, matrix, interpolation=BILINEAR):
  """Resampling of a batch through one affine matrix (reflected borders).

  The batch shares the matrix, as in lucid: then the sampling positions are
  worked out once per step rather than once per image, and whole rows of
  pixels (every image and channel at one position) are read at a time.

  Args:
    images: float32 tensor (n, H, W, C) with static H, W, C.
    matrix: float32 tensor (3, 3) mapping output (x, y, 1) to input coords.
    interpolation: "bilinear", or "nearest" (one read per pixel instead of
      four; about half the time, forward and backward).

  Returns:
    float32 tensor (n, H, W, C).

  Raises:
    ValueError: for an unknown interpolation.
  """
  _check_interpolation(interpolation)
  n = tf.shape(images)[0]
  height, width, channels = images.shape[1], images.shape[2], images.shape[3]
  # A GPU's bincount adds with atomics, in no fixed order; its segment sum has
  # a deterministic kernel. So the bincount path is for CPUs only.
  if (interpolation == NEAREST and channels == 1
      and not tf.config.list_physical_devices("GPU")):
    out = _columns(tf.reshape(images, (n, height * width)),
                   _nearest(matrix, height, width))
    return tf.reshape(out, (n, height, width, 1))
  pixels = tf.transpose(tf.reshape(images, (n, height * width, channels)),
                        (1, 0, 2))
  pixels = tf.reshape(pixels, (height * width, -1))
  if interpolation == NEAREST:
    out = _rows(pixels, _nearest(matrix, height, width))
  else:
    out = _weighted_rows(pixels, *_corners(matrix, height, width))
  out = tf.reshape(out, (height * width, n, channels))
  return tf.reshape(tf.transpose(out, (1, 0, 2)), (n, height, width, channels))


@dataclasses.dataclass(frozen=True)
class Compose:
  """Applies several affine transforms as one resampling.

  Attributes:
    transforms: objects with `matrix(height, width, seed)` -> (3, 3).
    interpolation: "bilinear" or "nearest", see `resample`.
  """
  transforms: tuple
  interpolation: str = BILINEAR

  def __post_init__(self):
    object.__setattr__(self, "transforms", tuple(self.transforms))
    _check_interpolation(self.interpolation)

  def __call__(self, images, seed):
    """Transforms `images` with randomness drawn from `seed` (int32 (2,))."""
    if not self.transforms:
      return images
    height, width = images.shape[1], images.shape[2]
    matrix = None
    for index, transform in enumerate(self.transforms):
      sub_seed = tf.stack([seed[0], seed[1] * 7919 + index])
      step = transform.matrix(height, width, sub_seed)
      matrix = step if matrix is None else _product(matrix, step)
    return resample(images, matrix, self.interpolation)


def default_transforms(height, width):
  """Lucid-style robustness scaled to the image size.

  Jitter of about 1/16 of the side (8 px at 128, 2 px for a 28x28 digit),
  scale 0.9-1.1 and rotation of up to 8 degrees, sampled nearest-neighbour:
  lucid rotates that way too, the random sub-pixel offsets average out over
  the steps, and it halves the transform's cost.
  """
  side = min(height, width)
  return Compose([Jitter(max(1, round(side / 16))), Scale(0.9, 1.1), Rotate(8)],
                 interpolation=NEAREST)
