"""Layer lookup, truncated feature models and per-unit objectives.

A *unit* is the last axis of a layer's output: a channel of a feature map or a
neuron of a Dense layer. Layers whose activation squashes (softmax, sigmoid) are
read before the activation, so that maximizing a class unit maximizes its logit.
"""

import contextlib
import numbers

import keras
import numpy as np
import tensorflow as tf

from tb_featviz.optvis import engine

_SQUASHING_ACTIVATIONS = ("softmax", "sigmoid", "log_softmax")

CHANNEL = "channel"
NEURON = "neuron"
OBJECTIVES = (CHANNEL, NEURON)


def _has_graph(layer):
  """Whether `layer` is a model with a layer graph (Functional or Sequential)."""
  if not isinstance(layer, keras.Model):
    return False
  try:
    return bool(layer.inputs)
  except (AttributeError, ValueError):
    return False


def layer_names(model):
  """Returns the names of the layers of `model`, in order, without the input.

  The layers of a nested model (a Functional or Sequential model used as a
  layer, like a keras.applications base) are listed as "outer/inner", before
  the nested model's own name.
  """
  names = []
  for layer in model.layers:
    if isinstance(layer, keras.layers.InputLayer):
      continue
    if _has_graph(layer):
      names.extend(f"{layer.name}/{inner}" for inner in layer_names(layer))
    names.append(layer.name)
  return names


def _child(model, name):
  for layer in model.layers:
    if layer.name == name:
      return layer
  return None


def find_layer(model, name):
  """Returns the layer of `model` called `name`.

  Args:
    model: a Keras model.
    name: the layer's name; "outer/inner" for a layer of a nested model.

  Returns:
    The `keras.layers.Layer`.

  Raises:
    ValueError: if no layer has that name; the message lists the names that exist.
  """
  parts = str(name).split("/")
  layer = model
  for depth, part in enumerate(parts):
    if depth and not _has_graph(layer):
      layer = None
      break
    layer = _child(layer, part)
    if layer is None:
      break
  if layer is not None:
    return layer
  raise ValueError(
      f"Model {model.name!r} has no layer named {name!r}. "
      f"Its layers are: {', '.join(layer_names(model))}.")


def _only_call(model, layer):
  """The node where the graph of `model` calls `layer`; it must call it once."""
  graph = getattr(model, "_functional", None) or model  # Sequential wraps one
  nodes = list(layer._inbound_nodes)  # pylint: disable=protected-access
  in_graph = getattr(graph, "_nodes", None)
  if in_graph is not None:
    nodes = [node for index, node in enumerate(nodes)
             if f"{id(layer)}_ib-{index}" in in_graph]
  if len(nodes) != 1:
    raise ValueError(
        f"Layer {layer.name!r} is called {len(nodes)} times in model "
        f"{model.name!r}; tb_featviz reads nested models that are called once. "
        "Build a single-input Functional model around the part you want to see.")
  if len(nodes[0].input_tensors) != 1:
    raise ValueError(
        f"Nested model {layer.name!r} takes {len(nodes[0].input_tensors)} "
        "inputs; tb_featviz reads nested models with a single input.")
  return nodes[0]


def _truncated_model(model, parts, output):
  """A keras.Model from the input of `model` to `output`.

  `output` is a tensor of the graph that holds the layer named by `parts`
  (["conv1"], or ["base", "conv1"] for a layer of the nested model "base").
  Nested models are reached by composing: `model` up to the nested model's
  input, then the nested model up to `output`.
  """
  layer = _child(model, parts[0])
  if len(parts) == 1:
    if _has_graph(layer) and output is layer.output:  # a nested model, read whole
      output = _only_call(model, layer).output_tensors[0]
    return keras.Model(model.inputs[0], output)
  node = _only_call(model, layer)
  inner = _truncated_model(layer, parts[1:], output)
  if node.input_tensors[0] is model.inputs[0]:
    return inner
  prefix = keras.Model(model.inputs[0], node.input_tensors[0])
  images = keras.Input(batch_shape=model.inputs[0].shape,
                       dtype=model.inputs[0].dtype)
  return keras.Model(images, inner(prefix(images)))


class NotFiniteError(FloatingPointError):
  """The model gave NaN or Inf: a visualization of it would be garbage."""


def check_finite(values, what):
  """Raises NotFiniteError, saying `what` is not finite, if `values` hold NaN/Inf."""
  values = np.asarray(values)
  finite = np.isfinite(values)
  if not np.all(finite):
    raise NotFiniteError(
        f"{what} is not finite (NaN/Inf) ({values.size - int(np.sum(finite))} of "
        f"{values.size} values); the model's weights hold NaN/Inf (did training "
        "diverge?) or the layer overflows.")


def _activation_name(activation):
  return getattr(activation, "__name__", type(activation).__name__).lower()


def is_squashing(layer):
  """Whether `layer` ends in a softmax/sigmoid (its own or as an Activation layer)."""
  activation = getattr(layer, "activation", None)
  if activation is None:
    return False
  return _activation_name(activation) in _SQUASHING_ACTIVATIONS


def _is_relu(layer):
  activation = getattr(layer, "activation", None)
  return activation is not None and _activation_name(activation) == "relu"


@contextlib.contextmanager
def _activation_removed(layer):
  """Makes `layer` (if not None) linear until the block ends.

  The activation is read when the graph is traced, so swapping it for the
  duration of a call changes what is traced without copying any weights.
  """
  if layer is None:
    yield
    return
  saved = layer.activation
  layer.activation = keras.activations.linear
  try:
    yield
  finally:
    layer.activation = saved


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
    name: the name it was asked by ("outer/inner" for a nested layer).
    input_shape: the model's input shape without the batch axis.
    width: the number of units of the layer (the size of its last axis).
    output_rank: the rank of the layer's output, batch axis included.
    grid_shape: the layer's spatial axes (rows, columns of a feature map);
      () for a Dense layer.
  """

  def __init__(self, model, layer_name):
    """Builds the truncated model.

    Args:
      model: a Keras 3 Functional or Sequential model with one input.
      layer_name: the name of the layer to read; "outer/inner" for the layer
        "inner" of a nested model "outer" (e.g. a keras.applications base used
        as a layer), which is read through the outer model's graph.

    Raises:
      ValueError: if the model has no graph, several inputs, or no such layer
        (the message lists the layers, nested ones included).
    """
    _check_graph(model)
    self.model = model
    self.layer = find_layer(model, layer_name)
    self.name = str(layer_name)  # "outer/inner" for a layer of a nested model
    target = self.layer
    self._unsquash = None
    self._relu = target if _is_relu(target) else None
    # Whether the layer is read before a softmax (its outputs are logits).
    self.before_softmax = is_squashing(target) and _activation_name(
        target.activation) in ("softmax", "log_softmax")
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
    self._truncated = _truncated_model(model, str(layer_name).split("/"), output)
    output = self._truncated.outputs[0]
    self.input_shape = tuple(model.inputs[0].shape[1:])
    self.width = int(output.shape[-1])
    self.output_rank = len(output.shape)
    self.grid_shape = tuple(output.shape[1:-1])
    self._renderers = {}

  def renderer(self, loop):
    """The compiled loop of `loop` (an engine.Loop), built on first use.

    Loops are cached per extractor (one per model and layer) under the Loop
    itself, so a visualization called again with the same options reuses its
    trace, and any option that changes the loop gets a loop of its own.
    """
    if loop not in self._renderers:
      self._renderers[loop] = engine.Renderer(loop)
    return self._renderers[loop]

  @property
  def ends_in_relu(self):
    """Whether the layer's own activation is a relu (see `before_relu`)."""
    return self._relu is not None

  def __call__(self, images):
    """Returns the layer's output for `images`, float32, in inference mode.

    A softmax or sigmoid of the layer is left out: the output is the logits.
    """
    with _activation_removed(self._unsquash):
      out = self._truncated(images, training=False)
    return tf.cast(out, tf.float32)

  def before_relu(self, images):
    """The layer's output for `images` without its relu (see `ends_in_relu`).

    The relu is swapped out for the duration of the call: the activation is
    read when the call is traced, so no weights are copied, and the user's
    model is as it was once the call returns.
    """
    with _activation_removed(self._relu):
      return self(images)

  def check_units(self, units):
    """Validates a units spec against the layer's width.

    Args:
      units: None or "all" (all units), an int n (the first n units) or a
        list of ids.

    Returns:
      A list of ints.

    Raises:
      ValueError: for a spec of another form (see `parse_units`), or an id
        outside [0, width).
    """
    units = parse_units(units, self.name, self.width)
    if units == ALL_UNITS:
      return list(range(self.width))
    if isinstance(units, int):
      if units > self.width:
        raise ValueError(
            f"Asked for the first {units} units of layer {self.name!r}, "
            f"which has {self.width} units; ask for 1 to {self.width}.")
      return list(range(units))
    bad = [u for u in units if u >= self.width]
    if bad:
      raise ValueError(
          f"Unit id(s) {bad} out of range for layer {self.name!r}, which "
          f"has {self.width} units (valid ids 0..{self.width - 1}).")
    return units


ALL_UNITS = "all"
UNITS_FORMS = f'an int n (the first n units), a list of unit ids, or "{ALL_UNITS}"'


def parse_units(units, layer, width=None):
  """Checks the form of a units spec (the layer's width need not be known).

  Args:
    units: None or "all", an int n >= 1, or a non-empty list (or 1-D array) of
      ids >= 0.
    layer: the layer's name, for the message.
    width: the layer's number of units, for the message, if known.

  Returns:
    "all", an int or a list of ints.

  Raises:
    ValueError: naming the layer, what was given and the accepted forms.
  """
  def integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)

  if units is None or (isinstance(units, str) and units == ALL_UNITS):
    return ALL_UNITS
  if integer(units):
    problem = "a count below 1" if units < 1 else None
  elif isinstance(units, (list, tuple, np.ndarray)) and np.ndim(units) == 1:
    problem = None
    if not len(units):
      problem = "an empty list"
    elif not all(integer(u) for u in units):
      problem = "ids that are not integers"
    elif any(u < 0 for u in units):
      problem = "negative ids"
  else:
    problem = f"a {type(units).__name__}"
  if problem is not None:
    size = "" if width is None else f" ({width} units)"
    raise ValueError(f"Units of layer {layer!r}{size}: got {units!r} ({problem}); "
                     f"give {UNITS_FORMS}.")
  return int(units) if integer(units) else [int(u) for u in units]


def _unit_values(features, units, objective):
  """Each image's own unit at the positions `objective` reads: float32 (n, P)."""
  n = tf.shape(features)[0]
  if features.shape.rank == 2:
    return tf.gather(features, units, axis=1, batch_dims=1)[:, None]
  if objective == NEURON:
    spatial = tf.shape(features)[1:-1]
    index = tf.concat([tf.reshape(tf.range(n), (-1, 1)),
                       tf.tile(tf.reshape(spatial // 2, (1, -1)), [n, 1]),
                       tf.reshape(units, (-1, 1))], axis=1)
    return tf.gather_nd(features, index)[:, None]
  flat = tf.reshape(features, (n, -1, features.shape[-1]))
  return tf.gather(flat, units, axis=2, batch_dims=1)


def unit_objective(features, units, objective=CHANNEL):
  """Per-image value of each image's own unit.

  Args:
    features: float32 tensor (n, ..., C), the layer's output for n images.
    units: int32 tensor (n,), the unit that image i should drive.
    objective: "channel" (mean over positions) or "neuron" (the centre position).

  Returns:
    float32 tensor (n,).
  """
  return tf.reduce_mean(_unit_values(features, units, objective), axis=1)


def woken_unit_objective(pre_activation, units, objective=CHANNEL):
  """`unit_objective` of relu(pre_activation), able to wake silent units.

  The value is that of the relu'd unit. For an image whose unit is silent at
  every position (as it may be on the nearly uniform starting image) the relu
  gradient is zero; there the gradient is that of the pre-activation's mean
  plus its largest position instead, so the unit can wake up: lucid's
  redirected ReLU (lucid/optvis/overrides/redirected_relu_grad.py), written as
  a forward surrogate. The unit is picked out first, so the relu runs on its
  positions only, not on the whole layer.

  Args:
    pre_activation: float32 (n, ..., C), the layer's output before its relu.
    units: int32 (n,).
    objective: "channel" or "neuron".

  Returns:
    float32 (n,).
  """
  positions = _unit_values(pre_activation, units, objective)
  value = tf.reduce_mean(tf.nn.relu(positions), axis=1)
  # The mean of the positions alone sees only the layer below averaged over
  # the image, blind to the spatial pattern a unit needs (a centre against its
  # surround); the position nearest to firing carries that pattern.
  wake = tf.reduce_mean(positions, axis=1) + tf.reduce_max(positions, axis=1)
  silent = tf.equal(value, 0.0)  # a mean of relus is 0 only if all are off
  return value + tf.where(silent, wake - tf.stop_gradient(wake),
                          tf.zeros_like(wake))
