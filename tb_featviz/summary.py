"""tf.summary-style writers for featviz data.

Each visualization is two time series: `featviz/<kind>/<layer>` holds one PNG
per image (a blob sequence) and `featviz/<kind>/<layer>/record` the numbers that
go with them (a serialized StepRecord). They work inside any `tf.summary`
writer context, with or without the callback:

  with tf.summary.create_file_writer("logs/run1").as_default():
    result = tb_featviz.activation_maximization(model, "conv2", units=8)
    tb_featviz.summary.am("conv2", result, step=0)
"""

import numpy as np
import tensorflow as tf

from tb_featviz import metadata

SECONDS_TAG_PREFIX = "featviz/seconds"


def _display_shape(images, display_shape):
  """(H, W, C) of the pictures for `images` (n, ...) and an optional display shape."""
  if display_shape is not None:
    shape = tuple(int(d) for d in display_shape)
    return shape if len(shape) == 3 else (*shape, 1)
  if images.ndim == 4 and images.shape[-1] in (1, 3):
    return tuple(images.shape[1:])
  if images.ndim == 3:
    return (*images.shape[1:], 1)
  raise ValueError(
      f"Cannot show inputs of shape {images.shape[1:]} as pictures; pass "
      "display_shape=(height, width) (e.g. (8, 8) for 64 values).")


def encode_pngs(images, value_range, display_shape):
  """PNG bytes of each image, scaled from `value_range` to 0..255.

  Args:
    images: array (n, ...) of pixel values.
    value_range: (low, high) mapped to 0 and 255.
    display_shape: (H, W, C) of the pictures (C in 1, 3).

  Returns:
    A rank-1 string tensor of n PNGs.
  """
  low, high = value_range
  pixels = tf.reshape(tf.cast(images, tf.float32), (-1, *display_shape))
  scaled = tf.clip_by_value((pixels - low) / (high - low), 0.0, 1.0) * 255.0
  as_bytes = tf.cast(tf.round(scaled), tf.uint8)
  return tf.map_fn(tf.image.encode_png, as_bytes, fn_output_signature=tf.string)


def _write(kind, tag, layer, images, record, *, step, units=(), value_range,
           display_shape, description):
  """Writes the IMAGES and RECORD series of one visualization step."""
  images = np.asarray(images, dtype=np.float32)
  shape = _display_shape(images, display_shape)
  rtag = metadata.record_tag(tag)
  image_meta = metadata.create_summary_metadata(
      kind, metadata.IMAGES, layer=layer, units=units, value_range=value_range,
      display_shape=shape, companion_tag=rtag, description=description or "")
  record_meta = metadata.create_summary_metadata(
      kind, metadata.RECORD, layer=layer, units=units, value_range=value_range,
      display_shape=shape, companion_tag=tag)
  wrote = tf.summary.write(tag, encode_pngs(images, value_range, shape),
                           step=step, metadata=image_meta)
  return tf.summary.write(rtag, tf.constant(record), step=step,
                          metadata=record_meta) & wrote


def am(name, data, step=None, *, activations=None, units=None,
       value_range=None, display_shape=None, seconds=None, description=None):
  """Writes an activation-maximization result: one PNG and one activation per unit.

  Args:
    name: the layer's name; the tag is `featviz/am/<name>`.
    data: an `AMResult`, or an array (n_units, *input_shape) of images.
    step: the step (defaults to `tf.summary.experimental.get_step()`).
    activations: (n_units,) values reached; taken from `data` if it is a result.
    units: the unit id of each image; taken from `data` if it is a result.
    value_range: (low, high) of the pixels; default (0, 1) or the result's.
    display_shape: (H, W) or (H, W, C) to show vector inputs as pictures.
    seconds: how long the visualization took, also written as a scalar.
    description: Markdown shown by TensorBoard.

  Returns:
    True if the summaries were written, False if no default writer is set.

  Raises:
    ValueError: if the numbers of images, units and activations differ, or the
      images cannot be shown as pictures.
  """
  images = getattr(data, "images", data)
  if activations is None:
    activations = getattr(data, "activations", None)
  if units is None:
    units = getattr(data, "units", None)
  if value_range is None:
    value_range = getattr(data, "value_range", (0.0, 1.0))
  if display_shape is None:
    display_shape = getattr(data, "display_shape", None)
  images = np.asarray(images)
  n = len(images)
  units = list(range(n)) if units is None else [int(u) for u in units]
  activations = (np.full(n, np.nan) if activations is None
                 else np.asarray(activations, dtype=np.float32).reshape(-1))
  if not len(units) == len(activations) == n:
    raise ValueError(f"Got {n} images, {len(units)} units and "
                     f"{len(activations)} activations; they must match.")
  record = metadata.create_step_record(
      units=units, activations=[float(a) for a in activations],
      seconds=float(seconds or 0.0))
  wrote = _write(metadata.AM, metadata.image_tag(metadata.AM, name), name,
                 images, record, step=step, units=units, value_range=value_range,
                 display_shape=display_shape, description=description)
  if seconds is not None:
    seconds_scalar(metadata.AM, name, seconds, step=step)
  return wrote


def seconds_scalar(kind, layer, seconds, step=None):
  """Writes how long a visualization took as an ordinary scalar (Scalars tab)."""
  return tf.summary.scalar(
      f"{SECONDS_TAG_PREFIX}/{metadata.KIND_NAMES[kind]}/{layer}", seconds,
      step=step, description="Wall-clock seconds spent on this visualization.")
