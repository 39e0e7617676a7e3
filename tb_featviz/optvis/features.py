"""Layer lookup, truncated feature models and per-unit objectives.

A *unit* is the last axis of a layer's output: a channel of a feature map or a
neuron of a Dense layer. Layers whose activation squashes (softmax, sigmoid) are
read before the activation, so that maximizing a class unit maximizes its logit.
"""

import contextlib

import keras
import tensorflow as tf

_SQUASHING_ACTIVATIONS = ("softmax", "sigmoid", "log_softmax")

CHANNEL = "channel"
NEURON = "neuron"
OBJECTIVES = (CHANNEL, NEURON)


def layer_names(model):
  """Returns the names of the layers of `model`, in order, without the input."""
  return [
      layer.name for layer in model.layers
      if not isinstance(layer, keras.layers.InputLayer)
  ]


def find_layer(model, name):
  """Returns the layer of `model` called `name`.

  Args:
    model: a Keras model.
    name: the layer's name.

  Returns:
    The `keras.layers.Layer`.

  Raises:
    ValueError: if no layer has that name; the message lists the names that exist.
  """
  for layer in model.layers:
    if layer.name == name:
      return layer
  raise ValueError(
      f"Model {model.name!r} has no layer named {name!r}. "
      f"Its layers are: {', '.join(layer_names(model))}.")


def _activation_name(activation):
  return getattr(activation, "__name__", type(activation).__name__).lower()


def is_squashing(layer):
  """Whether `layer` ends in a softmax/sigmoid (its own or as an Activation layer)."""
  activation = getattr(layer, "activation", None)
  if activation is None:
    return False
  return _activation_name(activation) in _SQUASHING_ACTIVATIONS


def _check_graph(model):
  try:
    inputs = model.inputs
  except (AttributeError, ValueError):
    inputs = None
  if not inputs:
    raise ValueError(
        f"Model {model.name!r} has no layer graph (a subclassed model, or a "
        "Sequential model never built). Build it on a symbolic input first, "
        "e.g. start a Sequential model with keras.Input(shape=...), or wrap the "
        "layers you want to see in a Functional model: "
        "keras.Model(inputs, outputs).")
  if len(inputs) != 1:
    raise ValueError(
        f"Model {model.name!r} has {len(inputs)} inputs; tb_featviz visualizes "
        "models with a single image or vector input. Build a single-input "
        "Functional model around the part you want to see.")


class FeatureExtractor:
  """The model cut at one layer, returning pre-squashing activations as float32.

  Attributes:
    model: the full model.
    layer: the layer read.
    input_shape: the model's input shape without the batch axis.
    width: the number of units of the layer (the size of its last axis).
    output_rank: the rank of the layer's output, batch axis included.
  """

  def __init__(self, model, layer_name):
    """Builds the truncated model.

    Args:
      model: a Keras 3 Functional or Sequential model with one input.
      layer_name: the name of the layer to read.

    Raises:
      ValueError: if the model has no graph, several inputs, or no such layer.
    """
    _check_graph(model)
    self.model = model
    self.layer = find_layer(model, layer_name)
    target = self.layer
    self._unsquash = None
    if isinstance(target, keras.layers.Activation) and is_squashing(target):
      output = target.input
    else:
      output = target.output
      if is_squashing(target):
        self._unsquash = target
    if isinstance(output, (list, tuple)):
      raise ValueError(
          f"Layer {layer_name!r} has {len(output)} outputs; choose a layer with "
          "a single output.")
    self._truncated = keras.Model(model.inputs[0], output)
    self.input_shape = tuple(model.inputs[0].shape[1:])
    self.width = int(output.shape[-1])
    self.output_rank = len(output.shape)
    self._renderers = {}

  def renderer(self, key, build):
    """The compiled loop cached under `key`, made by `build()` on first use.

    Loops are cached per extractor (one per model and layer), so calling a
    visualization again with the same options and shapes does not retrace.
    """
    if key not in self._renderers:
      self._renderers[key] = build()
    return self._renderers[key]

  @contextlib.contextmanager
  def _linear_activation(self):
    # The activation is read when the graph is traced, so swapping it for the
    # duration of a call yields the logits without copying any weights.
    if self._unsquash is None:
      yield
      return
    saved = self._unsquash.activation
    self._unsquash.activation = keras.activations.linear
    try:
      yield
    finally:
      self._unsquash.activation = saved

  def tracing(self):
    """A context to enter around any call that may trace `__call__`."""
    return self._linear_activation()

  def __call__(self, images):
    """Returns the layer's output for `images`, float32, in inference mode."""
    with self._linear_activation():
      out = self._truncated(images, training=False)
    return tf.cast(out, tf.float32)

  def check_units(self, units):
    """Validates unit ids against the layer's width.

    Args:
      units: None (all units), an int n (the first n units) or a list of ids.

    Returns:
      A list of ints.

    Raises:
      ValueError: if an id is outside [0, width) or the list is empty.
    """
    if units is None or (isinstance(units, str) and units == "all"):
      return list(range(self.width))
    if isinstance(units, int):
      if not 0 < units <= self.width:
        raise ValueError(
            f"Asked for the first {units} units of layer {self.layer.name!r}, "
            f"which has {self.width} units; ask for 1 to {self.width}.")
      return list(range(units))
    ids = [int(u) for u in units]
    if not ids:
      raise ValueError(f"No units given for layer {self.layer.name!r}.")
    bad = [u for u in ids if not 0 <= u < self.width]
    if bad:
      raise ValueError(
          f"Unit id(s) {bad} out of range for layer {self.layer.name!r}, which "
          f"has {self.width} units (valid ids 0..{self.width - 1}).")
    return ids


def unit_objective(features, units, objective=CHANNEL):
  """Per-image value of each image's own unit.

  Args:
    features: float32 tensor (n, ..., C), the layer's output for n images.
    units: int32 tensor (n,), the unit that image i should drive.
    objective: "channel" (mean over positions) or "neuron" (the centre position).

  Returns:
    float32 tensor (n,).
  """
  n = tf.shape(features)[0]
  if features.shape.rank == 2:
    return tf.gather(features, units, axis=1, batch_dims=1)
  if objective == NEURON:
    spatial = tf.shape(features)[1:-1]
    index = tf.concat([tf.reshape(tf.range(n), (-1, 1)),
                       tf.tile(tf.reshape(spatial // 2, (1, -1)), [n, 1]),
                       tf.reshape(units, (-1, 1))], axis=1)
    return tf.gather_nd(features, index)
  flat = tf.reshape(features, (n, -1, features.shape[-1]))
  per_position = tf.gather(flat, units, axis=2, batch_dims=1)
  return tf.reduce_mean(per_position, axis=1)
