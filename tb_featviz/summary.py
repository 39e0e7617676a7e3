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
BUDGET_SHARE_TAG = "featviz/budget/share"
INVERSION_ERROR_TAG_PREFIX = "featviz/inversion_error"


def picture_shape(images, display_shape=None):
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


def _from_result(data, **given):
  """The images of `data` and `given`, each None taken from `data` if it has it.

  `data` is a result object (AMResult, InversionResult, ...) or an array of
  images; value_range defaults to (0, 1).
  """
  images = np.asarray(getattr(data, "images", data))
  values = [getattr(data, name, None) if value is None else value
            for name, value in given.items()]
  names = list(given)
  if "value_range" in names and values[names.index("value_range")] is None:
    values[names.index("value_range")] = (0.0, 1.0)
  return (images, *values)


def _write(kind, tag, blobs, record, *, step, layer, units, value_range,
           display_shape, description, originals=None, **geometry):
  """Writes the IMAGES and RECORD (and ORIGINALS) series of one step.

  Args:
    kind: the kind's name, e.g. "am".
    tag: the IMAGES tag; the others are derived from it.
    blobs: a rank-1 string tensor of PNGs.
    record: a serialized StepRecord.
    step, description: as for tf.summary.
    layer, units, value_range, display_shape: for the metadata.
    originals: PNGs written once per run beside the images (inversion's
      probe images), or None.
    **geometry: grid_shape and receptive_field, for the metadata.
  """
  rtag = metadata.record_tag(tag)

  def series(role, series_tag, data, companion, text=""):
    meta = metadata.create_summary_metadata(
        kind, role, layer=layer, units=units, value_range=value_range,
        display_shape=display_shape, companion_tag=companion, description=text,
        **geometry)
    return tf.summary.write(series_tag, data, step=step, metadata=meta)

  wrote = series(metadata.IMAGES, tag, blobs, rtag, description or "")
  wrote &= series(metadata.RECORD, rtag, tf.constant(record), tag)
  if originals is not None:
    wrote &= series(metadata.ORIGINALS, metadata.originals_tag(tag), originals, tag)
  return wrote


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
  images, activations, units, value_range, display_shape = _from_result(
      data, activations=activations, units=units, value_range=value_range,
      display_shape=display_shape)
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
  shape = picture_shape(images, display_shape)
  wrote = _write("am", metadata.image_tag("am", name),
                 encode_pngs(images, value_range, shape), record, step=step,
                 layer=name, units=units, value_range=value_range,
                 display_shape=shape, description=description)
  if seconds is not None:
    seconds_scalar("am", name, seconds, step=step)
  return wrote


def inversion(name, data, step=None, *, originals=None, errors=None,
              value_range=None, display_shape=None, seconds=None,
              description=None):
  """Writes reconstructions of probe images from a layer, with their errors.

  The originals are needed once per run: pass them at the first step (the
  callback does) and leave them out afterwards. The mean normalized error is
  also written as an ordinary scalar, `featviz/inversion_error/<name>`, so the
  Scalars tab shows it.

  Args:
    name: the layer's name; the tag is `featviz/inversion/<name>`.
    data: an `InversionResult`, or an array of reconstructions (N, ...).
    step: the step (defaults to `tf.summary.experimental.get_step()`).
    originals: the images that were inverted (N, ...), or None.
    errors: (N,) normalized feature errors; taken from `data` if it is a result.
    value_range: (low, high) of the pixels; default (0, 1) or the result's.
    display_shape: (H, W) or (H, W, C) to show vector inputs as pictures.
    seconds: how long the inversion took, also written as a scalar.
    description: Markdown shown by TensorBoard.

  Returns:
    True if the summaries were written, False if no default writer is set.

  Raises:
    ValueError: if the numbers of reconstructions, originals and errors differ.
  """
  images, errors, value_range, display_shape = _from_result(
      data, errors=errors, value_range=value_range, display_shape=display_shape)
  n = len(images)
  errors = (np.full(n, np.nan, np.float32) if errors is None
            else np.asarray(errors, dtype=np.float32).reshape(-1))
  if len(errors) != n or (originals is not None and len(originals) != n):
    raise ValueError(f"Got {n} reconstructions, {len(errors)} errors and "
                     f"{'no' if originals is None else len(originals)} originals; "
                     "they must match.")
  record = metadata.create_step_record(errors=[float(e) for e in errors],
                                       seconds=float(seconds or 0.0))
  shape = picture_shape(images, display_shape)
  wrote = _write(
      "inversion", metadata.image_tag("inversion", name),
      encode_pngs(images, value_range, shape), record, step=step, layer=name,
      units=(), value_range=value_range, display_shape=shape,
      description=description,
      originals=None if originals is None else encode_pngs(originals, value_range, shape))
  tf.summary.scalar(f"{INVERSION_ERROR_TAG_PREFIX}/{name}", float(np.mean(errors)),
                    step=step, description="Mean normalized feature error "
                    "||phi(x) - phi0||^2 / ||phi0||^2 of the reconstructions.")
  if seconds is not None:
    seconds_scalar("inversion", name, seconds, step=step)
  return wrote


def sprite(images, display_shape=None):
  """Tiles `images` row by row into one picture, ceil(sqrt(N)) per row.

  The layout of TensorBoard's Projector sprites; the panel uses it too.

  Args:
    images: (N, ...) images.
    display_shape: (H, W) or (H, W, C) for vector inputs.

  Returns:
    float array (rows * H, columns * W, C), unused cells at the value 0.
  """
  images = np.asarray(images, dtype=np.float32)
  height, width, channels = picture_shape(images, display_shape)
  n = len(images)
  columns = int(np.ceil(np.sqrt(n)))
  rows = int(np.ceil(n / columns))
  cells = np.zeros((rows * columns, height, width, channels), np.float32)
  cells[:n] = images.reshape(n, height, width, channels)
  grid = cells.reshape(rows, columns, height, width, channels)
  return grid.transpose(0, 2, 1, 3, 4).reshape(rows * height, columns * width, channels)


def mfv(name, data, step=None, *, images=None, seconds=None, description=None):
  """Writes a multifaceted visualization of one unit.

  Per step, under `featviz/mfv/<name>/<unit>`: the k facets, then the k mean
  images, then (when `images` is given) one sprite of all N embedded images
  (see `sprite`) as blobs; and as the record the (N, 2) embedding, the cluster
  of each image, k, the activations of facets and mean images, and, when the
  result has them, each facet's fidelity (facet_nearest, facet_similarity,
  cluster_best; see MFVResult).

  Args:
    name: the layer's name.
    data: an `MFVResult`.
    step: the step (defaults to `tf.summary.experimental.get_step()`).
    images: the N embedded images, for the sprite of thumbnails, or None.
    seconds: how long the visualization took, also written as a scalar.
    description: Markdown shown by TensorBoard.

  Returns:
    True if the summaries were written, False if no default writer is set.

  Raises:
    ValueError: if `images` does not hold one image per embedded point.
  """
  k = len(data.facets)
  pictures = np.concatenate([data.facets, data.mean_images])
  shape = picture_shape(pictures, data.display_shape)
  blobs = encode_pngs(pictures, data.value_range, shape)
  if images is not None:
    if len(images) != len(data.embedding):
      raise ValueError(f"Got {len(images)} images for {len(data.embedding)} "
                       "embedded points; pass the images that were embedded.")
    tiles = sprite(images, data.display_shape)
    blobs = tf.concat([blobs, encode_pngs(tiles[None], data.value_range,
                                          tiles.shape)], axis=0)
  fidelity = {name: [cast(v) for v in getattr(data, name)]
              for name, cast in (("facet_nearest", int), ("facet_similarity", float),
                                 ("cluster_best", float))
              if getattr(data, name, None) is not None}
  record = metadata.create_step_record(
      embedding=[float(v) for v in np.asarray(data.embedding).reshape(-1)],
      labels=[int(v) for v in data.labels], k=k,
      activations=[float(v) for v in data.activations],
      mean_activations=[float(v) for v in data.mean_activations],
      seconds=float(seconds or 0.0), **fidelity)
  wrote = _write("mfv", metadata.image_tag("mfv", name, data.unit),
                 blobs, record, step=step, layer=name, units=[data.unit],
                 value_range=data.value_range, display_shape=shape,
                 description=description)
  if seconds is not None:
    seconds_scalar("mfv", f"{name}/{data.unit}", seconds, step=step)
  return wrote


def examples(name, data, step=None, *, images=None, value_range=(0.0, 1.0),
             display_shape=None, receptive_field=None, seconds=None,
             description=None):
  """Writes the dataset examples of a layer's units at one step.

  Per step, under `featviz/examples/<name>`: no pictures (the examples are
  probe images, written once) and, as the record, each unit's k indices into
  the probe images, their activations and, for a feature map, the (row, col)
  of each one's strongest response. The probe images themselves go to
  `featviz/examples/<name>/originals` when `images` is given: pass them at the
  first step (the callback does) and leave them out afterwards.

  Args:
    name: the layer's name.
    data: an `ExamplesResult` (see `tb_featviz.top_examples`).
    step: the step (defaults to `tf.summary.experimental.get_step()`).
    images: the probe images the indices point into (N, ...), or None.
    value_range: (low, high) of the probe images' pixels.
    display_shape: (H, W, C) of the pictures, for the steps without
      `images` (and (H, W) to show vector inputs as pictures).
    receptive_field: (height, width) in input pixels that one position of
      the layer's grid sees (see `optvis.examples.receptive_field`), for
      crops around the positions; None to show whole images.
    seconds: how long the search took, also written as a scalar.
    description: Markdown shown by TensorBoard.

  Returns:
    True if the summaries were written, False if no default writer is set.

  Raises:
    ValueError: if an index points past the probe images.
  """
  indices = np.asarray(data.indices)
  if images is not None and indices.size and indices.max() >= len(images):
    raise ValueError(f"Example index {int(indices.max())} is past the "
                     f"{len(images)} probe images; pass the images searched.")
  positions = () if data.positions is None else np.asarray(data.positions).reshape(-1)
  record = metadata.create_step_record(
      units=[int(u) for u in data.units], k=int(indices.shape[1]),
      indices=[int(i) for i in indices.reshape(-1)],
      activations=[float(a) for a in np.asarray(data.activations).reshape(-1)],
      positions=[int(p) for p in positions], seconds=float(seconds or 0.0))
  if images is not None:
    images = np.asarray(images)
  shape = (() if images is None and display_shape is None
           else picture_shape(images, display_shape))
  wrote = _write(
      "examples", metadata.image_tag("examples", name),
      tf.constant([], tf.string), record, step=step, layer=name,
      units=data.units, value_range=value_range, display_shape=shape,
      description=description,
      originals=None if images is None else encode_pngs(images, value_range, shape),
      grid_shape=data.grid_shape or (), receptive_field=receptive_field or ())
  if seconds is not None:
    seconds_scalar("examples", name, seconds, step=step)
  return wrote


def seconds_scalar(kind, layer, seconds, step=None):
  """Writes how long a visualization took as an ordinary scalar (Scalars tab).

  Args:
    kind: the kind's name, e.g. "am".
    layer: the layer (or "<layer>/<unit>").
    seconds: the wall-clock seconds.
    step: the step (defaults to `tf.summary.experimental.get_step()`).

  Returns:
    True if the scalar was written, False if no default writer is set.
  """
  return tf.summary.scalar(
      f"{SECONDS_TAG_PREFIX}/{kind}/{layer}", seconds,
      step=step, description="Wall-clock seconds spent on this visualization.")


def budget_share(share, step=None):
  """Writes the share of training wall time spent on visualizations so far.

  Args:
    share: the share, in [0, 1].
    step: the step (defaults to `tf.summary.experimental.get_step()`).

  Returns:
    True if the scalar was written, False if no default writer is set.
  """
  return tf.summary.scalar(
      BUDGET_SHARE_TAG, share, step=step,
      description="Share of training wall time spent on feature visualizations "
      "so far (FeatureVizCallback's budget).")
