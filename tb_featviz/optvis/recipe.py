"""Turns user options into the pieces the engine runs, with input-aware defaults.

Shared by AM, inversion and MFV so that "default" means the same thing in all
three.
"""

import dataclasses
import weakref

import numpy as np

from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import param as param_lib
from tb_featviz.optvis import regularizers as reg_lib
from tb_featviz.optvis import transforms as transforms_lib

DEFAULT = "default"
PLAIN = "plain"
PRESETS = (DEFAULT, PLAIN)

_EXTRACTORS = weakref.WeakKeyDictionary()


def extractor(model, layer_name):
  """The cached FeatureExtractor of `model` at `layer_name` (see features.py)."""
  per_model = _EXTRACTORS.setdefault(model, {})
  if layer_name not in per_model:
    per_model[layer_name] = features_lib.FeatureExtractor(model, layer_name)
  return per_model[layer_name]


def check_value_range(value_range):
  """Returns `value_range` as a float pair; raises ValueError if low >= high."""
  try:
    low, high = (float(v) for v in value_range)
  except (TypeError, ValueError):
    raise ValueError(f"value_range must be a pair (low, high), got {value_range!r}.")
  if not low < high:
    raise ValueError(f"value_range must have low < high, got {value_range!r}.")
  return low, high


def check_display_shape(display_shape, input_shape):
  """Validates `display_shape` for a vector input of `input_shape`.

  Returns:
    A tuple (H, W) or (H, W, C), or None for image inputs.

  Raises:
    ValueError: if the shape does not hold exactly the input's values.
  """
  if display_shape is None:
    return None
  display_shape = tuple(int(d) for d in display_shape)
  if int(np.prod(display_shape)) != int(np.prod(input_shape)):
    raise ValueError(
        f"display_shape {display_shape} holds {int(np.prod(display_shape))} "
        f"values but the model input {input_shape} has "
        f"{int(np.prod(input_shape))}; give a shape with the same number of "
        "values, e.g. (8, 8) for 64 inputs.")
  return display_shape


@dataclasses.dataclass(frozen=True)
class Pieces:
  """What the engine runs besides the objective (see engine.Loop)."""
  param: object
  transforms: object
  regularizers: tuple


def resolve(input_shape, *, preset=DEFAULT, param=None, transforms=DEFAULT,
            regularizers=DEFAULT, value_range=(0.0, 1.0), norm_bound=None,
            display_shape=None):
  """Chooses the parameterization, transforms and regularizers.

  Defaults for image inputs: Fourier parameterization (colour-decorrelated for
  3 channels) and jitter/scale/rotation sized to the image, as in lucid; a
  light total variation only if the pixels are optimized directly (the
  Fourier spectrum's 1/f scale already favours smooth images). For vector
  inputs: pixels, no transforms, light L2 decay (and total variation when
  `display_shape` says how to see them as an image).
  `preset="plain"`: pixels, no transforms, no regularizers - the unregularized
  gradient ascent of Erhan et al. 2009.

  Args:
    input_shape: the model's input shape without the batch axis.
    preset: "default" or "plain"; explicit options below override it.
    param: None (preset's choice), "pixel", "fourier" or an object.
    transforms: "default", None, or a callable (images, seed) -> images.
    regularizers: "default", None, or a list of callables images -> (n,).
    value_range: (low, high).
    norm_bound: bound on each image's L2 norm (pixel parameterization only).
    display_shape: how vector inputs are seen as images.

  Returns:
    A `Pieces`.

  Raises:
    ValueError: for an unknown preset or an impossible combination.
  """
  if preset not in PRESETS:
    raise ValueError(f"Unknown preset {preset!r}; use one of {PRESETS}.")
  image_input = len(input_shape) == 3
  plain = preset == PLAIN
  if param is None:
    param = "pixel" if plain or not image_input or norm_bound is not None else "fourier"
  if param == "pixel":
    param_obj = param_lib.PixelParam(value_range, norm_bound=norm_bound)
  else:
    if norm_bound is not None:
      raise ValueError("norm_bound needs param='pixel' (the bound is kept by "
                       "projecting the pixels after each step).")
    param_obj = param_lib.make(param, value_range, len(input_shape) + 1)

  if transforms == DEFAULT:
    transforms = None if plain or not image_input else (
        transforms_lib.default_transforms(input_shape[0], input_shape[1]))
  else:
    if transforms is not None and not image_input:
      raise ValueError("Spatial transforms need image inputs (batch, height, "
                       "width, channels); pass transforms=None for vector inputs.")

  if regularizers == DEFAULT:
    regularizers = [] if plain else _default_regularizers(
        image_input, isinstance(param_obj, param_lib.FourierParam), value_range,
        display_shape)
  return Pieces(param_obj, transforms, tuple(regularizers or ()))


def _default_regularizers(image_input, fourier, value_range, display_shape):
  if image_input:
    return [] if fourier else [reg_lib.TotalVariation(0.5, value_range=value_range)]
  chosen = [reg_lib.L2(0.05, value_range=value_range)]
  if display_shape is not None and len(display_shape) >= 2:
    chosen.append(reg_lib.TotalVariation(0.5, value_range=value_range,
                                         display_shape=display_shape[:2]))
  return chosen
