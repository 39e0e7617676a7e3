"""Code inversion (Mahendran & Vedaldi, CVPR 2015; IJCV 2016).

Given phi0 = phi(x0), the representation of images x0 at a layer, find x with

  ||phi(x) - phi0||^2 / ||phi0||^2 + l_alpha * N_alpha(x) + l_tv * TV_beta(x)

where N_alpha and TV_beta are means over pixels of images mapped to [-1, 1]
(see regularizers.py), which plays the part of the authors' normalization of the
image scale. Deeper layers keep less of the image, so by default the TV weight
grows with depth, two decades from the first layer to the last, as the authors'
0.5 / 5 / 50 do.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tb_featviz.optvis import engine
from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import param as param_lib
from tb_featviz.optvis import recipe
from tb_featviz.optvis import regularizers as reg_lib
from tb_featviz.optvis import transforms as transforms_lib

DEFAULT_ALPHA_WEIGHT = 1e-3
DEFAULT_TV_WEIGHT_FIRST = 1e-3
DEFAULT_TV_WEIGHT_LAST = 1e-1


@dataclasses.dataclass
class InversionResult:
  """What `invert` found.

  Attributes:
    images: float32, the reconstructions, same shape as the input images.
    errors: float32 (N,), ||phi(x) - phi0||^2 / ||phi0||^2 of each one.
    layer: the layer inverted.
    value_range: (low, high) of the images.
    display_shape: how vector inputs are shown as pictures, or None.
  """
  images: np.ndarray
  errors: np.ndarray
  layer: str
  value_range: tuple
  display_shape: tuple = None


def depth_fraction(model, layer_name):
  """Where `layer_name` sits in `model`, 0 for the first layer and 1 for the last."""
  names = features_lib.layer_names(model)
  return names.index(layer_name) / max(1, len(names) - 1)


def default_tv_weight(model, layer_name):
  """The TV weight for `layer_name`: log-linear in depth, 1e-3 first to 1e-1 last."""
  fraction = depth_fraction(model, layer_name)
  return DEFAULT_TV_WEIGHT_FIRST * (
      DEFAULT_TV_WEIGHT_LAST / DEFAULT_TV_WEIGHT_FIRST)**fraction


def normalized_feature_error(features, target):
  """Per image ||features - target||^2 / ||target||^2 (float32 (n,))."""
  n = tf.shape(features)[0]
  difference = tf.reshape(features - target, (n, -1))
  energy = tf.reduce_sum(tf.square(tf.reshape(target, (n, -1))), axis=1)
  return tf.reduce_sum(tf.square(difference), axis=1) / tf.maximum(energy, 1e-12)


@dataclasses.dataclass(frozen=True)
class FeatureMatch:
  """Inversion's objective: minus the normalized error to the target features.

  Attributes:
    extractor: the model cut at the layer inverted.
  """
  extractor: features_lib.FeatureExtractor

  def __call__(self, candidates, target):
    return -normalized_feature_error(self.extractor(candidates), target)


def check_images(images, input_shape, value_range, what="images"):
  """Validates a batch of model inputs; returns it as float32.

  Raises:
    ValueError: if the shape does not match the model input, or values fall
      outside `value_range`.
  """
  images = np.asarray(images, dtype=np.float32)
  if images.ndim != len(input_shape) + 1 or tuple(images.shape[1:]) != tuple(input_shape):
    raise ValueError(
        f"{what} have shape {images.shape}; the model takes (N, "
        f"{', '.join(str(d) for d in input_shape)}).")
  if len(images) == 0:
    raise ValueError(f"{what} is empty; pass at least one image.")
  if not np.all(np.isfinite(images)):
    raise ValueError(f"{what} hold NaN or Inf values; pass finite images.")
  low, high = value_range
  if images.min() < low - 1e-6 or images.max() > high + 1e-6:
    raise ValueError(
        f"{what} hold values in [{images.min():.3g}, {images.max():.3g}], outside "
        f"value_range {tuple(value_range)}; pass the value_range your model "
        "was trained on.")
  return images


def invert(model, layer, images, *, steps=400, learning_rate=0.05, seed=0,
           value_range=(0.0, 1.0), alpha=6.0, alpha_weight=DEFAULT_ALPHA_WEIGHT,
           beta=2.0, tv_weight=None, jitter=0, display_shape=None,
           batch_size=64, jit_compile=False):
  """Reconstructs `images` from what `layer` makes of them.

  All images are inverted together in one compiled loop (chunked by
  `batch_size`), starting from seeded noise, with Adam and a learning rate that
  decays to 1% of `learning_rate` over `steps`.

  Args:
    model: a Keras 3 Functional or Sequential model with one input.
    layer: the name of the layer to invert (conv or Dense; softmax/sigmoid
      layers are read before the activation).
    images: (N, *input_shape) images inside `value_range`.
    steps: number of optimization steps.
    learning_rate: the first step size.
    seed: seeds the starting noise (and the jitter).
    value_range: (low, high) of the model's input pixels.
    alpha: the exponent of the alpha-norm (6 in the paper).
    alpha_weight: the weight of the alpha-norm term.
    beta: the exponent of total variation (2 in the paper; 1 gives spikes).
    tv_weight: the weight of total variation; None adapts it to depth
      (see `default_tv_weight`).
    jitter: if > 0, random shifts of up to this many pixels at each step
      (image inputs only), as in the IJCV version.
    display_shape: for vector inputs, the (H, W) used for total variation and
      for pictures; without it vector inputs get no total variation.
    batch_size: the most images inverted at once.
    jit_compile: compile the loop with XLA.

  Returns:
    An `InversionResult`.

  Raises:
    ValueError: for an unknown layer, images that do not fit the model's input
      or value range, or impossible options.
  """
  value_range = recipe.check_value_range(value_range)
  extractor = recipe.extractor(model, layer)
  input_shape = extractor.input_shape
  images = check_images(images, input_shape, value_range)
  display_shape = recipe.check_display_shape(display_shape, input_shape)
  image_input = len(input_shape) == 3
  if jitter and not image_input:
    raise ValueError("jitter needs image inputs (batch, height, width, channels).")
  if tv_weight is None:
    tv_weight = default_tv_weight(model, layer)
  regularizers = [reg_lib.AlphaNorm(alpha_weight, alpha, value_range)]
  if image_input or display_shape is not None:
    regularizers.append(reg_lib.TotalVariation(
        tv_weight, beta, value_range,
        display_shape=None if image_input else display_shape[:2]))
  transforms = transforms_lib.Compose([transforms_lib.Jitter(jitter)]) if jitter else None
  renderer = extractor.renderer(engine.Loop(
      FeatureMatch(extractor), param_lib.PixelParam(value_range),
      transforms=transforms, regularizers=regularizers,
      jit_compile=bool(jit_compile), final_learning_rate=0.01))
  targets = tf.concat([extractor(images[i:i + batch_size])
                       for i in range(0, len(images), batch_size)], axis=0)
  features_lib.check_finite(
      targets, f"The model's output at layer {layer!r} for the probe images")
  start = renderer.loop.param.initial(images.shape, seed=[seed, 1])
  reconstructions, values = renderer.run_batched(
      start, targets, batch_size=batch_size, steps=steps,
      learning_rate=learning_rate, seed=seed)
  features_lib.check_finite(
      values, f"The model's output at layer {layer!r} for the reconstructions")
  features_lib.check_finite(
      reconstructions, f"The reconstructions from layer {layer!r} (the model's gradient)")
  return InversionResult(images=reconstructions, errors=-values, layer=layer,
                         value_range=value_range, display_shape=display_shape)
