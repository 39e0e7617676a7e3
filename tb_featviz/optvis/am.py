"""Activation maximization (Erhan, Bengio, Courville & Vincent 2009)."""

import dataclasses

import numpy as np
import tensorflow as tf

from tb_featviz.optvis import engine
from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import param as param_lib
from tb_featviz.optvis import recipe

DEFAULT_BATCH_SIZE = 128

# Default preset, layer read before a softmax: the objective is
# logit + CLASS_WEIGHT * log_softmax, so that the class image stays in its class.
# The pure logit is what a unit's weight vector pushes; on the digits CNNs it
# often pushes a neighbouring class even higher (class 8 of one model: logit 22
# against 27 for class 0). With a weight of 3, 6 digits models x 3 seeds gave
# 180 of 180 class images classified as their class, their logits still 1.4 to
# 1.9 times the best logit of any digit. `activations` stay the logits.
CLASS_WEIGHT = 3.0


@dataclasses.dataclass
class AMResult:
  """What `activation_maximization` found.

  Attributes:
    images: float32 (n_units, *input_shape), inside `value_range`.
    activations: float32 (n_units,), the objective each image reaches (no
      transforms, before any softmax/sigmoid).
    units: the unit ids, in the order of `images`.
    layer: the layer's name.
    value_range: the (low, high) of `images`.
    display_shape: how vector inputs are shown as pictures, or None.
  """
  images: np.ndarray
  activations: np.ndarray
  units: list
  layer: str
  value_range: tuple
  display_shape: tuple = None


def _starting_images(init, n, input_shape):
  if init is None:
    return None
  init = np.asarray(init, dtype=np.float32)
  if init.shape == tuple(input_shape):
    init = np.broadcast_to(init, (n, *input_shape))
  if init.shape != (n, *input_shape):
    raise ValueError(
        f"init has shape {init.shape}; expected {tuple(input_shape)} (one start "
        f"for every unit) or {(n, *input_shape)} (one per unit).")
  return init


@dataclasses.dataclass(frozen=True)
class UnitObjective:
  """AM's objective: the value of each image's own unit.

  Attributes:
    extractor: the model cut at the layer.
    reduction: "channel" (mean over positions) or "neuron" (centre position).
    keep_class: add CLASS_WEIGHT x the unit's log-softmax (a softmax layer
      under the default preset).
    term: None, or a callable (images, values, rows) -> what is maximized,
      given each image's unit value and its row of `objective_term` (see
      `activation_maximization`).
  """
  extractor: features_lib.FeatureExtractor
  reduction: str
  keep_class: bool = False
  term: object = None

  def __call__(self, images, targets):
    units, rows = targets, None
    if self.term is not None:  # targets hold [unit id, row...] per image
      units, rows = tf.cast(targets[:, 0], tf.int32), targets[:, 1:]
    if self.extractor.ends_in_relu:
      # Read before the relu, so that a unit silent on the starting image can
      # still be woken up (see woken_unit_objective).
      value = features_lib.woken_unit_objective(
          self.extractor.before_relu(images), units, self.reduction)
    else:
      features = self.extractor(images)
      value = features_lib.unit_objective(features, units, self.reduction)
      if self.keep_class:
        value += CLASS_WEIGHT * features_lib.unit_objective(
            tf.nn.log_softmax(features), units, self.reduction)
    return value if self.term is None else self.term(images, value, rows)


def activation_maximization(model, layer, units=None, *, steps=256,
                            learning_rate=0.05, seed=0, value_range=(0.0, 1.0),
                            objective=features_lib.CHANNEL, preset=recipe.DEFAULT,
                            param=None, transforms=recipe.DEFAULT,
                            regularizers=recipe.DEFAULT, optimizer=engine.ADAM,
                            init=None, norm_bound=None, display_shape=None,
                            batch_size=DEFAULT_BATCH_SIZE, jit_compile=False,
                            update_region=None, objective_term=None):
  """Finds, for each unit, an input that drives it as high as possible.

  All requested units are optimized together (one image per unit) in a single
  compiled loop; `batch_size` splits very wide layers into chunks. The model is
  run in inference mode and is never modified.

  Args:
    model: a Keras 3 Functional or Sequential model with one input.
    layer: name of the layer whose units are maximized. Softmax/sigmoid layers
      (and Activation layers holding one) are maximized before the activation.
    units: None for all units, an int n for the first n, or a list of ids.
    steps: number of optimization steps.
    learning_rate: the optimizer's step size.
    seed: seeds the starting noise and the random transforms; the same seed
      gives the same images for the same model.
    value_range: (low, high) of the model's input pixels.
    objective: "channel" (mean over positions) or "neuron" (centre position).
    preset: "default" (readable images) or "plain" (pixels, no transforms, no
      regularizers: the unregularized ascent of the original paper).
    param: "pixel", "fourier" or a parameterization object; None lets the
      preset and input decide.
    transforms: "default", None or a callable (images, seed) -> images.
    regularizers: "default", None or a list of callables images -> (n,).
    optimizer: "adam" or "sgd".
    init: optional starting image(s): one of the input's shape, or one per unit.
    norm_bound: keep every image's L2 norm at most this (pixel param only).
    display_shape: for vector inputs, the (H, W) used to see them as images.
    batch_size: the largest number of units optimized at once.
    jit_compile: compile the loop with XLA.
    update_region: if set (0 < f <= 1), only the central f of each side of the
      image is updated (pixel parameterization, image inputs): the centre bias
      of multifaceted visualization.
    objective_term: optional (term, rows), one float row per unit: what is
      maximized becomes term(images, values, rows) for each chunk of images,
      their units' values and their rows (multifaceted visualization caps the
      unit and pulls each image towards its cluster). The term is part of the
      compiled loop's key: pass an equal one (a frozen dataclass) on every
      call. `activations` stay the units' values.

  Returns:
    An `AMResult`.

  Raises:
    ValueError: for an unknown layer (the message lists the layers), unit ids
      outside the layer's width, a model without a layer graph, or options that
      cannot work together.
  """
  value_range = recipe.check_value_range(value_range)
  extractor = recipe.extractor(model, layer)
  unit_ids = extractor.check_units(units)
  if objective not in features_lib.OBJECTIVES:
    raise ValueError(f"Unknown objective {objective!r}; use one of "
                     f"{features_lib.OBJECTIVES}.")
  if objective == features_lib.NEURON and extractor.output_rank == 2:
    objective = features_lib.CHANNEL  # a Dense unit is already a single neuron
  input_shape = extractor.input_shape
  display_shape = recipe.check_display_shape(display_shape, input_shape)
  pieces = recipe.resolve(input_shape, preset=preset, param=param,
                          transforms=transforms, regularizers=regularizers,
                          value_range=value_range, norm_bound=norm_bound,
                          display_shape=display_shape)
  if update_region is not None and not (
      0 < update_region <= 1 and len(input_shape) == 3
      and isinstance(pieces.param, param_lib.PixelParam)):
    raise ValueError("update_region needs 0 < update_region <= 1, image inputs "
                     "and param='pixel' (it masks the pixels' gradient).")
  keep_class = (extractor.before_softmax and preset == recipe.DEFAULT
                and isinstance(regularizers, str) and regularizers == recipe.DEFAULT)
  term, targets = None, tf.constant(unit_ids, tf.int32)
  if objective_term is not None:
    term, rows = objective_term
    rows = np.asarray(rows, np.float32).reshape(len(unit_ids), -1)
    # One tensor, as the engine gathers targets by chunk; float32 holds the
    # unit ids exactly.
    targets = tf.constant(np.concatenate(
        [np.asarray(unit_ids, np.float32)[:, None], rows], axis=1))
  renderer = extractor.renderer(engine.Loop(
      UnitObjective(extractor, objective, keep_class, term), pieces.param,
      transforms=pieces.transforms, regularizers=pieces.regularizers,
      optimizer=optimizer, jit_compile=bool(jit_compile),
      update_region=update_region))

  n = len(unit_ids)
  start = _starting_images(init, n, input_shape)
  # One draw for all units, then chunks: the noise a unit starts from does not
  # depend on how the units are chunked.
  params = renderer.loop.param.initial((n, *input_shape), seed=[seed, 0],
                                       init_images=start)
  images, activations = renderer.run_batched(
      params, targets, batch_size=batch_size, steps=steps,
      learning_rate=learning_rate, seed=seed)
  if keep_class or term is not None:  # report the units' values themselves
    chunk = max(1, int(batch_size))
    activations = np.concatenate([features_lib.unit_objective(
        extractor(images[i:i + chunk]), tf.constant(unit_ids[i:i + chunk], tf.int32),
        objective).numpy() for i in range(0, n, chunk)]).astype(np.float32)
  features_lib.check_finite(
      activations, f"The model's output at layer {layer!r} for the optimized images")
  features_lib.check_finite(
      images, f"The optimized images of layer {layer!r} (the model's gradient)")
  return AMResult(images=images, activations=activations, units=unit_ids,
                  layer=layer, value_range=value_range, display_shape=display_shape)
