"""The dataset examples that drive each unit most (Olah et al. 2017).

Shown beside a unit's feature visualization, the images of a probe set that
drive it most say what the visualization is of. One pass over the images up to
the layer serves every unit: the images go through in chunks, and a running
top-k per unit is merged with each chunk's values, so neither a pass per unit
nor the whole (images x units) activation matrix is ever needed.
"""

import dataclasses
import functools
import math
import weakref

import numpy as np
import tensorflow as tf

from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import recipe

# Images go through the model in chunks such that the largest tensor of the
# pass (the input or a layer's output, as float32) holds at most this many
# bytes: 1,337 digits through the demo CNN (its first conv layer's output is
# the largest), 20 images of 224x224x3 through ResNet50's first stages. The
# same number as mfv.CHUNK_BYTES, which counts the input alone.
CHUNK_BYTES = 64 * 1024 * 1024


@dataclasses.dataclass(frozen=True, eq=False)
class ExamplesResult:
  """What `top_examples` found.

  Attributes:
    indices: int64 (n_units, k), for each unit the indices (into the images
      given) of the k images that drive it most, best first; equal activations
      keep the lower index first.
    activations: float32 (n_units, k), their activation: the objective that
      activation maximization maximizes (the channel's mean over positions for
      a feature map, the neuron for a Dense layer, the logit for a layer
      before a softmax/sigmoid).
    units: the unit ids, in the order of the rows.
    positions: int64 (n_units, k, 2) for 2-D feature maps, the (row, col) in
      the layer's grid where the unit responds most to that image (the first
      such position on ties); (n_units, k, d) for d spatial axes; None for
      layers without spatial axes (Dense).
    layer: the layer's name.
    grid_shape: the layer's spatial shape (rows, columns of a feature map),
      the grid `positions` are in; () for layers without spatial axes.
  """
  indices: np.ndarray
  activations: np.ndarray
  units: list
  positions: np.ndarray
  layer: str
  grid_shape: tuple = ()


# A value gathered from scattered addresses costs about ten times what a value
# costs in a transpose, which reads and writes in order.
_SCATTERED_COST = 10


def _argmax_positions(flat, in_chunk, units):
  """The strongest position of each (image, unit) pair asked for.

  Only the k winners of each unit get an argmax, not every image and unit.

  Args:
    flat: float32 (B, P, C), a chunk's features with the positions flattened.
    in_chunk: int32 (U, k), an image of the chunk for each unit and rank.
    units: int32 (U,), the unit (channel) of each row.

  Returns:
    int32 (U, k): the flat position of the largest value of channel units[u]
    in image in_chunk[u, j] (the first of equal values).
  """
  batch, n_positions, width = flat.shape
  n_units, k = in_chunk.shape
  if None in (batch, n_positions, width, n_units, k) or (
      _SCATTERED_COST * n_units * k > batch * width):
    # Many winners against a small chunk (a wide layer, large images): the
    # chunk is transposed so that each (image, channel) map lies in order.
    by_channel = tf.transpose(flat, [0, 2, 1])  # (B, C, P)
    pairs = tf.stack([in_chunk, tf.broadcast_to(units[:, None], tf.shape(in_chunk))],
                     axis=-1)
    maps = tf.gather_nd(by_channel, pairs)  # (U, k, P)
  else:
    # Few winners against a large chunk: the U x k x P values are gathered
    # where they lie.
    dtype = tf.int32 if batch * n_positions * width < 2**31 else tf.int64
    image = tf.cast(in_chunk, dtype)[:, :, None]
    position = tf.range(n_positions, dtype=dtype)[None, None, :]
    channel = tf.cast(units, dtype)[:, None, None]
    maps = tf.gather(tf.reshape(flat, [-1]),
                     (image * n_positions + position) * width + channel)
  return tf.argmax(maps, axis=2, output_type=tf.int32)


def _step(extractor, images, valid, offset, units, best_values, best_indices,
          best_positions):
  """Merges one chunk of images into the running top-k of every unit.

  Args:
    extractor: the FeatureExtractor of the layer.
    images: float32 (B, *input_shape); the rows from `valid` on are padding.
    valid: int32 scalar, the number of real images in the chunk.
    offset: int32 scalar, the index of the chunk's first image.
    units: int32 (U,), the units followed.
    best_values, best_indices, best_positions: the running top-k, each
      (U, k): activations, image indices and flat positions (zeros for layers
      without spatial axes), sorted best first.

  Returns:
    (values, indices, positions, non_finite_inputs, non_finite_values,
    spatial_shape): the merged top-k, the number of non-finite values among
    the real images and among their activations, and the layer's spatial
    shape (int32 (d,), empty without spatial axes).
  """
  features = extractor(images)  # pre-squashing, float32 (B, ..., C)
  batch = tf.shape(features)[0]
  k = best_values.shape[1]
  spatial = features.shape.rank > 2
  if spatial:
    flat = tf.reshape(features, (batch, -1, features.shape[-1]))
    values = tf.reduce_mean(flat, axis=1)
  else:
    values = features
  real = tf.range(batch) < valid
  non_finite_values = tf.reduce_sum(tf.cast(
      tf.logical_and(real[:, None], ~tf.math.is_finite(values)), tf.int32))
  image_axes = list(range(1, images.shape.rank))
  non_finite_inputs = tf.reduce_sum(tf.cast(tf.logical_and(
      real, ~tf.reduce_all(tf.math.is_finite(images), axis=image_axes)), tf.int32))
  values = tf.transpose(tf.gather(values, units, axis=1))  # (U, B)
  # Padding can never beat a real image: k <= the number of images, and a
  # real activation is finite (a non-finite one fails the call afterwards).
  values = tf.where(real[None, :], values, -np.inf)
  # The running top-k first: tf.math.top_k keeps the earlier of equal values,
  # and everything running came from lower indices than this chunk.
  merged_values, chosen = tf.math.top_k(tf.concat([best_values, values], 1), k)
  from_chunk = chosen >= k
  in_chunk = tf.maximum(chosen - k, 0)  # the image in this chunk, if from it
  indices = tf.where(from_chunk, offset + in_chunk,
                     tf.gather(best_indices, tf.minimum(chosen, k - 1),
                               batch_dims=1))
  positions = best_positions
  spatial_shape = tf.shape(features)[1:-1]
  if spatial:
    positions = tf.where(from_chunk, _argmax_positions(flat, in_chunk, units),
                         tf.gather(best_positions, tf.minimum(chosen, k - 1),
                                   batch_dims=1))
  return (merged_values, indices, positions, non_finite_inputs,
          non_finite_values, spatial_shape)


_STEPS = weakref.WeakKeyDictionary()  # FeatureExtractor -> its compiled step


def step_function(extractor):
  """The compiled chunk step of `extractor`'s layer (cached per extractor).

  It is traced once per chunk shape and number of units; the chunk's offset
  and number of real images are tensors, so the chunks of a call share one
  trace.
  """
  if extractor not in _STEPS:
    # A partial, not a lambda: tf.function counts retracing per function
    # code, which a lambda made here would share across every model and layer.
    _STEPS[extractor] = tf.function(functools.partial(_step, extractor))
  return _STEPS[extractor]


def _check_images(images, input_shape):
  """`images` as an array, its shape checked against the model's input."""
  images = np.asarray(images)
  expected = ", ".join("any" if d is None else str(d) for d in input_shape)
  if images.dtype.kind not in "biuf":
    raise ValueError(
        f"images have dtype {images.dtype}; pass a numeric array of shape "
        f"(N, {expected}).")
  fits = images.ndim == len(input_shape) + 1 and all(
      d is None or d == n for d, n in zip(input_shape, images.shape[1:]))
  if not fits:
    raise ValueError(
        f"images have shape {images.shape}; the model takes (N, {expected}). "
        "Pass images of the model's input shape, with the batch axis first.")
  if len(images) == 0:
    raise ValueError("images is empty; pass at least k images.")
  return images


def _largest_output(model):
  """The most values per image in any one layer output of `model`, or 0.

  Nested models are searched too; outputs with axes left open (None) are
  skipped, as are layers whose output Keras cannot name.
  """
  largest = 0
  for layer in model.layers:
    if hasattr(layer, "layers"):
      largest = max(largest, _largest_output(layer))
    try:
      outputs = tf.nest.flatten(layer.output)
    except (AttributeError, ValueError):
      continue
    for output in outputs:
      shape = tuple(output.shape[1:])
      if all(d is not None for d in shape):
        largest = max(largest, int(np.prod(shape)))
  return largest


def chunk_size(n, values_per_image, batch_size=None):
  """The number of images per chunk for `n` images.

  Args:
    n: the number of images.
    values_per_image: the most values one image takes in any tensor of the
      pass (its input or a layer's output).
    batch_size: None to size chunks by CHUNK_BYTES, or the chunk size to use.

  Returns:
    An int. Sized by bytes, the chunks are evened out (10,000 images that fit
    in two chunks go as two of 5,000) so that the padded last chunk wastes
    little.
  """
  if batch_size is not None:
    return min(int(batch_size), n)
  image_bytes = np.dtype(np.float32).itemsize * max(1, int(values_per_image))
  chunks = math.ceil(n / max(1, CHUNK_BYTES // image_bytes))
  return math.ceil(n / chunks)


def values_per_image(extractor, image_shape):
  """What `chunk_size` sizes chunks by: the largest tensor of the pass."""
  truncated = extractor._truncated  # pylint: disable=protected-access
  return max(int(np.prod(image_shape)), _largest_output(truncated))


def top_examples(model, layer, images, *, units=None, k=9, batch_size=None):
  """Finds, for each unit, the images that drive it most.

  The images go through the model once, up to `layer`, in chunks, with all
  units at once. Each chunk's activations are merged into a running top-k per
  unit inside one compiled function (traced once per chunk shape; the last
  chunk is padded to full size and the padding masked), so memory holds one
  chunk and (units x k) values, whatever the number of images.

  Args:
    model: a Keras 3 Functional or Sequential model with one input.
    layer: the name of the layer whose units are ranked ("outer/inner" for a
      layer of a nested model). Softmax/sigmoid layers are read before the
      activation (logits).
    images: (N, *input_shape) array of model inputs (any numeric dtype; each
      chunk is given to the model as float32).
    units: None for all units, an int n for the first n, or a list of ids.
    k: how many images per unit, 1 <= k <= N.
    batch_size: images per chunk; None sizes chunks so that the largest
      tensor of the pass (input or layer output) holds at most CHUNK_BYTES.

  Returns:
    An `ExamplesResult`. An image's activation is the one
    `activation_maximization` reports for that image, with any preset.

  Raises:
    ValueError: for an unknown layer (the message lists the layers), unit ids
      outside the layer's width, images that do not fit the model's input or
      are empty, k outside [1, N], or a batch_size that is not a positive int.
    tb_featviz.optvis.features.NotFiniteError: if the images or the layer's
      activations hold NaN or Inf.
  """
  extractor = recipe.extractor(model, layer)
  unit_ids = extractor.check_units(units)
  images = _check_images(images, extractor.input_shape)
  n = len(images)
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
    raise ValueError(
        f"k={k!r} examples per unit asked of {n} images; k must be an integer "
        f"from 1 to the number of images ({n}).")
  if batch_size is not None and (
      isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
      or batch_size < 1):
    raise ValueError(f"batch_size must be a positive integer or None, got "
                     f"{batch_size!r}.")
  k = int(k)
  chunk = chunk_size(n, values_per_image(extractor, images.shape[1:]),
                     batch_size)

  step = step_function(extractor)
  units_tensor = tf.constant(unit_ids, tf.int32)
  shape = (len(unit_ids), k)
  values = tf.fill(shape, tf.constant(-np.inf, tf.float32))
  indices = tf.zeros(shape, tf.int32)
  positions = tf.zeros(shape, tf.int32)
  non_finite_inputs = non_finite_values = 0
  for begin in range(0, n, chunk):
    batch = np.asarray(images[begin:begin + chunk], np.float32)
    size = len(batch)
    if size < chunk:
      batch = np.concatenate([batch, np.repeat(batch[-1:], chunk - size, 0)])
    (values, indices, positions, bad_inputs, bad_values, spatial_shape) = step(
        batch, tf.constant(size, tf.int32), tf.constant(begin, tf.int32),
        units_tensor, values, indices, positions)
    non_finite_inputs += bad_inputs
    non_finite_values += bad_values

  if int(non_finite_inputs):
    raise features_lib.NotFiniteError(
        f"{int(non_finite_inputs)} of the {n} images hold NaN or Inf values; "
        "pass finite images.")
  if int(non_finite_values):
    raise features_lib.NotFiniteError(
        f"The model's output at layer {layer!r} for the images is not finite "
        f"(NaN/Inf) ({int(non_finite_values)} activations); the model's weights "
        "hold NaN/Inf (did training diverge?) or the layer overflows.")
  spatial_shape = tuple(int(d) for d in spatial_shape.numpy())
  coordinates = None
  if spatial_shape:
    coordinates = np.stack(np.unravel_index(positions.numpy(), spatial_shape),
                           axis=-1).astype(np.int64)
  return ExamplesResult(indices=indices.numpy().astype(np.int64),
                        activations=values.numpy().astype(np.float32),
                        units=unit_ids, positions=coordinates, layer=layer,
                        grid_shape=spatial_shape)


def receptive_field(model, layer, samples=4, seed=0):
  """The (height, width) in input pixels that one position of `layer` sees.

  Measured rather than derived from kernels and strides, so that any graph
  the extractor can read works: the gradient of the layer's centre position
  (every channel, before the layer's own activation) with respect to the
  input, for a few random inputs in [0, 1); the bounding box of where any of
  them is not zero. An inner relu that is off for every sample hides its
  part of the field, so this can come out a little smaller than the
  theoretical field, never larger.

  Args:
    model: a Keras 3 Functional or Sequential model with one image input.
    layer: a layer with a spatial output (rows, columns, channels).
    samples: how many random inputs.
    seed: seeds them.

  Returns:
    (height, width) ints, or None for a layer without two spatial axes.
  """
  extractor = recipe.extractor(model, layer)
  if len(extractor.grid_shape) != 2 or len(extractor.input_shape) != 3:
    return None
  rows, columns = extractor.grid_shape
  images = tf.random.stateless_uniform((samples, *extractor.input_shape), [seed, 2])
  with tf.GradientTape() as tape:
    tape.watch(images)
    features = (extractor.before_relu(images) if extractor.ends_in_relu
                else extractor(images))
    centre = tf.reduce_sum(features[:, rows // 2, columns // 2, :])
  seen = tf.reduce_any(tape.gradient(centre, images) != 0, axis=[0, 3]).numpy()
  if not seen.any():
    return None
  found = [np.flatnonzero(seen.any(axis=axis)) for axis in (1, 0)]
  return tuple(int(where[-1] - where[0] + 1) for where in found)
