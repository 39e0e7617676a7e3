"""The kinds of visualization, in one table: how each is configured, computed,
written, and advised on when memory runs out.

A kind is a subclass of `Kind` listed in `KINDS`. Its name is its key in a
configuration (`am={...}`, with its options as `am_options={...}`), its part of
the tags (`featviz/am/<layer>`) and, in capitals, its value in
plugin_data.proto. Adding a kind is one entry here, its algorithm in `optvis/`,
its value in the proto and its view in the panel (docs/adding_a_kind.md).

The command line reads this table to check a configuration file before it
imports TensorFlow, so that a mistake is reported at once: the modules that
compute and write are imported when a kind first uses them.
"""

import dataclasses
import importlib.util
import inspect
import sys

from tb_featviz import metadata


def _lazy(name):
  """The module `name`, executed when one of its attributes is first read.

  Registered as an import would register it (in sys.modules, and as an
  attribute of its package), so that every way of reaching it finds it.
  """
  if name in sys.modules:
    return sys.modules[name]
  spec = importlib.util.find_spec(name)
  spec.loader = importlib.util.LazyLoader(spec.loader)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  package, _, child = name.rpartition(".")
  setattr(sys.modules[package], child, module)
  return module


am_lib = _lazy("tb_featviz.optvis.am")
inversion_lib = _lazy("tb_featviz.optvis.inversion")
mfv_lib = _lazy("tb_featviz.optvis.mfv")
examples_lib = _lazy("tb_featviz.optvis.examples")
features_lib = _lazy("tb_featviz.optvis.features")
recipe = _lazy("tb_featviz.optvis.recipe")
facet_tracker = _lazy("tb_featviz.facet_tracker")
summary = _lazy("tb_featviz.summary")


@dataclasses.dataclass(frozen=True)
class Settings:
  """What every kind of a configuration shares.

  Attributes:
    value_range: (low, high) of the model's input pixels.
    display_shape: for vector-input models, the (H, W) to draw inputs as
      pictures; None for image inputs.
  """
  value_range: tuple = (0.0, 1.0)
  display_shape: tuple = None


@dataclasses.dataclass(frozen=True)
class Item:
  """One visualization of a configuration: a layer, or one unit of a layer.

  Attributes:
    kind: the kind's name.
    layer: the layer's name.
    unit: the unit, for kinds that visualize units one at a time (MFV).
  """
  kind: str
  layer: str
  unit: int = None

  @property
  def name(self):
    """"conv2", or "logits/3" for a unit."""
    return self.layer if self.unit is None else f"{self.layer}/{self.unit}"

  @property
  def tag(self):
    """The tag of its images."""
    return metadata.image_tag(self.kind, self.layer, self.unit)


class Kind:
  """One kind of visualization, configured: its items and how each is done.

  A subclass sets the class attributes and implements `validate`, `items`,
  `compute`, `write` and `cost` (what the callback's budget expects an item to
  cost). An instance holds one configuration, and what the kind remembers from
  step to step.

  Class attributes:
    name: the kind's name (see the module docstring).
    config_keys: the keys of its configuration dict, or None when it is
      {layer: units}.
    required_keys: the keys that must be given.
    array_keys: the keys that hold arrays (file references in a configuration
      file).
    option_array_keys: the options that hold arrays.
    options_function: (module, function) whose keyword arguments its
      `<name>_options` are.
    fixed_options: keywords the visualizer gives that function itself.

  Args:
    config: its section of the configuration.
    options: its `<name>_options`, or None.
    settings: the configuration's `Settings`.

  Raises:
    ValueError: for unknown or missing keys, or unknown options.
  """

  name = None
  config_keys = None
  required_keys = ()
  array_keys = ()
  option_array_keys = ()
  options_function = None
  fixed_options = ("value_range", "display_shape")

  def __init__(self, config, options, settings):
    self.settings = settings
    self.options = dict(options or {})
    self.config = self._checked_config(config)
    self._check_options()

  # -- the configuration --------------------------------------------------------

  def _checked_config(self, config):
    if self.config_keys is None:
      if not isinstance(config, dict):
        raise ValueError(f"{self.name} takes {{layer name: units}}, got {config!r}.")
      return {layer: features_lib.parse_units(units, layer)
              for layer, units in config.items()}
    if not isinstance(config, dict):
      raise ValueError(f"{self.name} takes a dict with the keys "
                       f"{', '.join(self.config_keys)}; got {config!r}.")
    unknown = sorted(set(config) - set(self.config_keys))
    missing = [key for key in self.required_keys if config.get(key) is None]
    if unknown or missing:
      raise ValueError(
          f"{self.name} takes the keys {', '.join(self.config_keys)} "
          f"({', '.join(self.required_keys)} required)"
          + (f"; unknown {unknown}" if unknown else "")
          + (f"; missing {missing}" if missing else "") + ".")
    return dict(config)

  @classmethod
  def function(cls):
    """The library function whose keyword arguments `<name>_options` are."""
    module, name = cls.options_function
    return getattr(_lazy(module), name)

  def _check_options(self):
    parameters = inspect.signature(self.function()).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
      return
    allowed = sorted({p.name for p in parameters if p.kind == p.KEYWORD_ONLY}
                     - set(self.fixed_options))
    unknown = sorted(set(self.options) - set(allowed))
    if unknown:
      raise ValueError(f"{self.name}_options has unknown option(s) {unknown}; it "
                       f"takes {', '.join(allowed)}.")

  def library_options(self):
    """The options for the library function, with the shared settings."""
    return dict(self.options, value_range=self.settings.value_range,
                display_shape=self.settings.display_shape)

  def _default_option(self, name):
    parameter = inspect.signature(self.function()).parameters.get(name)
    return None if parameter is None else parameter.default

  def extractor(self, model, layer):
    """The model cut at `layer`, after checking that it can be drawn.

    Raises:
      ValueError: for an unknown layer, or a vector input without a
        display_shape that fits it.
    """
    extractor = recipe.extractor(model, layer)
    recipe.check_display_shape(self.settings.display_shape, extractor.input_shape)
    if len(extractor.input_shape) != 3 and self.settings.display_shape is None:
      raise ValueError(
          f"Model input {extractor.input_shape} is not an image; pass "
          "display_shape=(height, width) so that it can be drawn.")
    return extractor

  # -- what subclasses implement ------------------------------------------------

  def validate(self, model, visualizer):
    """Checks the configuration against `model`.

    Args:
      model: the model.
      visualizer: the Visualizer, for kinds that follow another's configuration.

    Raises:
      ValueError: naming the mistake and the fix.
    """
    raise NotImplementedError

  def items(self):
    """The Items of this configuration, in the order they are run."""
    raise NotImplementedError

  def compute(self, model, item):
    """The result of `item` for `model` in its current state."""
    raise NotImplementedError

  def write(self, item, result, *, step, seconds, run_dir, first):
    """Writes `result` as summaries at `step` (inside a default writer).

    Args:
      item: the Item.
      result: what `compute` returned.
      step: the step.
      seconds: how long `compute` took.
      run_dir: the writer's directory (for files beside the events).
      first: whether `once_tag(item)`'s data is still to be written in this run.
    """
    raise NotImplementedError

  def once_tag(self, item):
    """The tag of data written once per run beside `item`'s, or None."""
    del item
    return None

  def cost(self, model, item, pace):
    """What `item` will cost on `model` the first time, tracing included.

    Args:
      model: the model (`validate` has succeeded).
      item: one of `items()`.
      pace: a `budget.Pace`, which turns optimization steps and forward passes
        into seconds from training's own timing.

    Returns:
      A `budget.Cost`.
    """
    raise NotImplementedError

  def option(self, name):
    """The option `name`, given or the library function's default (or None)."""
    return self.options.get(name, self._default_option(name))

  def oom_advice(self):
    """What to change when the kind ran out of memory, with a leading space."""
    size = self.option("batch_size")
    if not isinstance(size, int):
      return f" Out of memory: pass a smaller batch_size in {self.name}_options."
    return (f" Out of memory: pass a smaller batch_size, e.g. {self.name}_options="
            f"{{'batch_size': {max(1, size // 2)}}} (now {size}).")


class ActivationMaximization(Kind):
  """`am={layer: units}`: for every unit, the input that drives it most."""

  name = "am"
  option_array_keys = ("init",)
  options_function = ("tb_featviz.optvis.am", "activation_maximization")

  def __init__(self, config, options, settings):
    super().__init__(config, options, settings)
    self.units = dict(self.config)

  def validate(self, model, visualizer):
    self.units = {layer: self.extractor(model, layer).check_units(units)
                  for layer, units in self.config.items()}

  def items(self):
    return [Item(self.name, layer) for layer in self.config]

  def compute(self, model, item):
    return am_lib.activation_maximization(model, item.layer, self.units[item.layer],
                                          **self.library_options())

  def write(self, item, result, *, step, seconds, run_dir, first):
    summary.am(item.layer, result, step=step, seconds=seconds)

  def cost(self, model, item, pace):
    units = _padded(len(self.units[item.layer]), self.option("batch_size"))
    return pace.loop(model, item.layer, units, self.option("steps"))


class Inversion(Kind):
  """`inversion={"images": probe, "layers": [names]}`: the probe images
  reconstructed from what each layer keeps of them."""

  name = "inversion"
  config_keys = ("images", "layers")
  required_keys = ("images", "layers")
  array_keys = ("images",)
  options_function = ("tb_featviz.optvis.inversion", "invert")

  def __init__(self, config, options, settings):
    super().__init__(config, options, settings)
    self.layers = list(self.config["layers"])
    self.images = self.config["images"]

  def validate(self, model, visualizer):
    for layer in self.layers:
      self.images = inversion_lib.check_images(
          self.images, self.extractor(model, layer).input_shape,
          self.settings.value_range, what="inversion probe images")

  def items(self):
    return [Item(self.name, layer) for layer in self.layers]

  def compute(self, model, item):
    return inversion_lib.invert(model, item.layer, self.images,
                                **self.library_options())

  def write(self, item, result, *, step, seconds, run_dir, first):
    summary.inversion(item.layer, result, step=step, seconds=seconds,
                      originals=self.images if first else None)

  def once_tag(self, item):
    return metadata.originals_tag(item.tag)

  def cost(self, model, item, pace):
    n = len(self.images)
    return (pace.forward(model, item.layer, n)  # the targets
            + pace.loop(model, item.layer, _padded(n, self.option("batch_size")),
                        self.option("steps")))


class Multifaceted(Kind):
  """`mfv={"images", "layer", "units", ...}`: for every unit, one picture per
  facet of what drives it (see FacetTracker for the keys)."""

  name = "mfv"
  config_keys = ("images", "labels", "layer", "units", "embedding_layer", "k",
                 "m", "n_images")
  required_keys = ("images", "layer", "units")
  array_keys = ("images", "labels")
  options_function = ("tb_featviz.optvis.mfv", "multifaceted")
  fixed_options = ("layer", "unit", "embedding_layer", "k", "m", "value_range",
                   "display_shape", "previous")
  # PCA, t-SNE and k-means run on the host, which training's timing says
  # nothing about: a rough allowance (fixed seconds, seconds per image), until
  # the measured cost replaces it (docs/benchmarks.md).
  host_seconds = (0.5, 0.03)

  def __init__(self, config, options, settings):
    super().__init__(config, options, settings)
    self.tracker = facet_tracker.FacetTracker(self.config, self.options)

  def validate(self, model, visualizer):
    self.extractor(model, self.tracker.layer)
    self.tracker.validate(model, self.settings.value_range)

  def items(self):
    return [Item(self.name, self.tracker.layer, unit) for unit in self.tracker.units]

  def compute(self, model, item):
    return self.tracker.run(model, item.unit,
                            value_range=self.settings.value_range,
                            display_shape=self.settings.display_shape)

  def write(self, item, result, *, step, seconds, run_dir, first):
    indices, facets = result
    self.tracker.write(run_dir, indices, facets, step=step, seconds=seconds)

  def oom_advice(self):
    return (" Out of memory: pass fewer mfv images (n_images) or a smaller "
            "batch_size, e.g. mfv_options={'am_options': {'batch_size': 8}}.")

  def cost(self, model, item, pace):
    tracker = self.tracker
    if tracker.labels is None:  # one pass over all images picks the unit's
      n, picking = min(tracker.n_images, len(tracker.images)), len(tracker.images)
    else:
      n, picking = int((tracker.labels == item.unit).sum()), 0
    embedding = tracker.embedding_layer or mfv_lib.previous_layer(model, tracker.layer)
    phases = len(mfv_lib.CENTRE_BIASED_PHASES) if self.option("centre_bias") else 1
    fixed, per_image = self.host_seconds
    cost = (pace.forward(model, tracker.layer, picking)
            + pace.forward(model, embedding, n) + pace.host(fixed + per_image * n)
            + pace.loop(model, tracker.layer, tracker.k, self.option("steps"),
                        loops=phases))
    # The units of one layer share their loops: the first traces them.
    return cost if item == self.items()[0] else cost.traced()


def _padded(n, batch_size):
  """The images a compiled loop runs for n, in chunks of `batch_size` padded to
  full size (see engine.Renderer.run_batched)."""
  chunk = max(1, min(int(batch_size), n))
  return -(-n // chunk) * chunk


class DatasetExamples(Kind):
  """`examples={"images": probe, "k": 9, "layers": [names]}`: for every unit,
  the probe images that drive it most (by default the units of every AM
  layer), shown beside its feature visualization."""

  name = "examples"
  config_keys = ("images", "k", "layers")
  required_keys = ("images",)
  array_keys = ("images",)
  options_function = ("tb_featviz.optvis.examples", "top_examples")
  fixed_options = ("units", "k")
  DEFAULT_K = 9

  def __init__(self, config, options, settings):
    super().__init__(config, options, settings)
    self.images = self.config["images"]
    self.k = self.config.get("k", self.DEFAULT_K)
    self.layers = list(self.config.get("layers") or [])
    self.units = {}
    self.receptive_fields = {}
    self.picture_shape = None

  def validate(self, model, visualizer):
    am = visualizer.kind(ActivationMaximization.name)
    if not self.layers:
      if am is None:
        raise ValueError("examples needs its layers: pass examples={'images': "
                         "probe, 'layers': [names]}, or am={layer: units} to take "
                         "the AM layers and units.")
      self.layers = list(am.units)
    for layer in self.layers:
      extractor = self.extractor(model, layer)
      self.units[layer] = (am.units[layer] if am is not None and layer in am.units
                           else extractor.check_units(None))
    self.images = inversion_lib.check_images(
        self.images, extractor.input_shape, self.settings.value_range,
        what="examples probe images")
    if (isinstance(self.k, bool) or not isinstance(self.k, int)
        or not 1 <= self.k <= len(self.images)):
      raise ValueError(f"examples k must be an integer from 1 to the number of "
                       f"probe images ({len(self.images)}), got {self.k!r}.")
    self.picture_shape = summary.picture_shape(self.images, self.settings.display_shape)
    self.receptive_fields = {layer: examples_lib.receptive_field(model, layer)
                             for layer in self.layers}

  def items(self):
    return [Item(self.name, layer) for layer in self.layers]

  def compute(self, model, item):
    return examples_lib.top_examples(model, item.layer, self.images,
                                     units=self.units[item.layer], k=self.k,
                                     **self.options)

  def write(self, item, result, *, step, seconds, run_dir, first):
    summary.examples(item.layer, result, step=step, seconds=seconds,
                     images=self.images if first else None,
                     value_range=self.settings.value_range,
                     display_shape=self.picture_shape,
                     receptive_field=self.receptive_fields[item.layer])

  def once_tag(self, item):
    return metadata.originals_tag(item.tag)

  def cost(self, model, item, pace):
    return pace.compiled_forward(model, item.layer, len(self.images))


KINDS = (ActivationMaximization, Inversion, Multifaceted, DatasetExamples)
BY_NAME = {kind.name: kind for kind in KINDS}

# The configuration's keys besides the kinds' own: those every kind shares,
# and those of FeatureVizCallback's schedule.
SHARED_KEYS = ("value_range", "display_shape")
SCHEDULE_KEYS = ("every_n_epochs", "every_n_steps", "budget", "run_name")
DEFAULT_RUN_NAME = "featviz"


def options_key(kind):
  """The configuration key of a kind's options: "am_options"."""
  return f"{kind.name}_options"


# What a Visualizer takes.
VISUALIZER_KEYS = tuple(key for kind in KINDS
                        for key in (kind.name, options_key(kind))) + SHARED_KEYS
# FeatureVizCallback's keyword arguments but log_dir, and a configuration
# file's keys.
CONFIG_KEYS = VISUALIZER_KEYS + SCHEDULE_KEYS
