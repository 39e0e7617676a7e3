"""The configured visualizations of a model, run at one step and logged.

Shared by `FeatureVizCallback` (during `fit`) and the `tb-featviz` command
(over saved checkpoints), so that both check the same configuration the same
way and write the same summaries under the same tags.
"""

import contextlib
import dataclasses
import inspect
import time

import tensorflow as tf

from tb_featviz import facet_tracker
from tb_featviz import metadata
from tb_featviz import summary
from tb_featviz.optvis import am as am_lib
from tb_featviz.optvis import inversion as inversion_lib
from tb_featviz.optvis import mfv as mfv_lib
from tb_featviz.optvis import recipe

INVERSION_KEYS = ("images", "layers")


@dataclasses.dataclass(frozen=True)
class Item:
  """One visualization of the configuration: an AM layer, an inversion layer
  or an MFV unit, and the tag of its images."""
  kind: str  # "am", "inversion" or "mfv"
  name: str  # the layer, or "<layer>/<unit>" for MFV
  tag: str


@dataclasses.dataclass(frozen=True)
class Outcome:
  """What became of one item at one step: its seconds, or the error it raised."""
  item: Item
  seconds: float = 0.0
  error: Exception = None
  phase: str = None  # where `error` arose: "compute" or "write"


def _option_names(function, given_by_caller):
  parameters = inspect.signature(function).parameters.values()
  if any(p.kind == p.VAR_KEYWORD for p in parameters):
    return None
  return sorted({p.name for p in parameters if p.kind == p.KEYWORD_ONLY}
                - set(given_by_caller))


def check_option_names(what, options, function, given_by_caller):
  """Raises ValueError if `options` has a key that `function` does not take."""
  allowed = _option_names(function, given_by_caller)
  if allowed is None:  # the function takes any keyword
    return
  unknown = sorted(set(options or {}) - set(allowed))
  if unknown:
    raise ValueError(f"{what} has unknown option(s) {unknown}; it takes "
                     f"{', '.join(allowed)}.")


class Visualizer:
  """AM, inversion and MFV of one model, as configured, step after step.

  The arguments are those of `FeatureVizCallback` (see there). The model is
  given to `validate` and `run`, so the same Visualizer can follow a model
  whose weights change (training, or checkpoints loaded one after another).

  Raises:
    ValueError: if there is nothing to visualize, or a configuration or option
      key is unknown.
  """

  def __init__(self, *, am=None, am_options=None, inversion=None,
               inversion_options=None, mfv=None, mfv_options=None,
               value_range=(0.0, 1.0), display_shape=None):
    if not am and not inversion and not mfv:
      raise ValueError("Nothing to visualize: pass am={layer: units}, "
                       "inversion={'images': probe, 'layers': [names]} and/or "
                       "mfv={'images': x, 'layer': name, 'units': [ids]}.")
    inversion = dict(inversion or {})
    unknown = set(inversion) - set(INVERSION_KEYS)
    if inversion and (unknown or "images" not in inversion
                      or not inversion.get("layers")):
      raise ValueError(
          "inversion takes {'images': probe images, 'layers': [layer names]}"
          + (f"; unknown keys {sorted(unknown)}" if unknown else "") + ".")
    check_option_names("am_options", am_options,
                       am_lib.activation_maximization, ("value_range", "display_shape"))
    check_option_names("inversion_options", inversion_options, inversion_lib.invert,
                       ("value_range", "display_shape"))
    check_option_names("mfv_options", mfv_options, mfv_lib.multifaceted,
                       ("layer", "unit", "embedding_layer", "k", "m", "value_range",
                        "display_shape", "previous"))
    self.am = dict(am or {})
    self.am_options = dict(am_options or {})
    self.inversion_layers = list(inversion.get("layers", []))
    self.inversion_images = inversion.get("images")
    self.inversion_options = dict(inversion_options or {})
    self.facets = facet_tracker.FacetTracker(mfv, mfv_options) if mfv else None
    self.value_range = recipe.check_value_range(value_range)
    self.display_shape = display_shape
    self.originals_written = set()  # inversion layers whose originals are logged
    self._units = {}

  # -- configuration ----------------------------------------------------------

  def validate(self, model):
    """Resolves every layer, unit list and image set against `model`.

    Raises:
      ValueError: naming the mistake (unknown layer, unit id beyond the layer's
        width, probe images of the wrong shape, ...) and the fix.
    """
    self._units = {layer: self._extractor(model, layer).check_units(units)
                   for layer, units in self.am.items()}
    for layer in self.inversion_layers:
      self.inversion_images = inversion_lib.check_images(
          self.inversion_images, self._extractor(model, layer).input_shape,
          self.value_range, what="inversion probe images")
    if self.facets is not None:
      self._extractor(model, self.facets.layer)
      self.facets.validate(model, self.value_range)

  def _extractor(self, model, layer):
    extractor = recipe.extractor(model, layer)
    recipe.check_display_shape(self.display_shape, extractor.input_shape)
    if len(extractor.input_shape) != 3 and self.display_shape is None:
      raise ValueError(
          f"Model input {extractor.input_shape} is not an image; pass "
          "display_shape=(height, width) so the callback can draw it.")
    return extractor

  def items(self):
    """The configured visualizations, in the order `run` does them."""
    found = [Item("am", layer, metadata.image_tag(metadata.AM, layer))
             for layer in self.am]
    found += [Item("inversion", layer, metadata.image_tag(metadata.INVERSION, layer))
              for layer in self.inversion_layers]
    if self.facets is not None:
      found += [Item("mfv", f"{self.facets.layer}/{unit}",
                     metadata.image_tag(metadata.MFV, self.facets.layer, unit))
                for unit in self.facets.units]
    return found

  # -- work -------------------------------------------------------------------

  def run(self, model, step, *, writer, run_dir, skip=(), guard=None,
          on_outcome=None):
    """Computes every item (but those whose tag is in `skip`) and logs it at `step`.

    `validate(model)` must have succeeded before. A failing item does not stop
    the others: its error is returned in its Outcome. KeyboardInterrupt and
    other BaseExceptions propagate.

    Args:
      model: the model, in the state to visualize.
      step: the step the summaries are logged at.
      writer: the tf.summary writer (not flushed here).
      run_dir: the writer's directory (for the Projector export of MFV).
      skip: image tags not to compute (e.g. already logged at this step).
      guard: optional context-manager factory entered around each item's
        writing (not its computation), e.g. to hold back signals so that an
        item is either written whole or not at all.
      on_outcome: optional function called with each Outcome as soon as it is
        known (inside `guard` for items that were written).

    Returns:
      A list of Outcome, one per item run.
    """
    outcomes = []
    units = {layer: self._units.get(layer, given) for layer, given in self.am.items()}
    with writer.as_default(step=step), tf.summary.record_if(True):
      for item in self.items():
        if item.tag in skip:
          continue
        if item.kind == "am":
          compute = lambda layer=item.name: am_lib.activation_maximization(  # noqa: E731
              model, layer, units[layer], **self._options(self.am_options))
          write = summary.am
        elif item.kind == "inversion":
          compute = lambda layer=item.name: inversion_lib.invert(  # noqa: E731
              model, layer, self.inversion_images,
              **self._options(self.inversion_options))
          write = self._write_inversion
        else:
          unit = int(item.name.rsplit("/", 1)[1])
          compute = lambda unit=unit: self.facets.run(  # noqa: E731
              model, unit, value_range=self.value_range,
              display_shape=self.display_shape)
          write = lambda name, computed, **kw: self._write_mfv(  # noqa: E731
              run_dir, computed, **kw)
        outcomes.append(self._run_one(item, step, compute, write, guard,
                                      on_outcome or (lambda outcome: None)))
    return outcomes

  @staticmethod
  def _run_one(item, step, compute, write, guard, on_outcome):
    started = time.perf_counter()
    try:
      result = compute()
    except Exception as error:  # pylint: disable=broad-except
      outcome = Outcome(item, time.perf_counter() - started, error, "compute")
      on_outcome(outcome)
      return outcome
    seconds = time.perf_counter() - started
    with guard() if guard is not None else contextlib.nullcontext():
      try:
        write(item.name, result, step=step, seconds=seconds)
        outcome = Outcome(item, seconds)
      except Exception as error:  # pylint: disable=broad-except
        outcome = Outcome(item, seconds, error, "write")
      on_outcome(outcome)
    return outcome

  def _options(self, options):
    options = dict(options)
    options.setdefault("value_range", self.value_range)
    options.setdefault("display_shape", self.display_shape)
    return options

  def _write_inversion(self, layer, result, *, step, seconds):
    first = layer not in self.originals_written
    summary.inversion(layer, result, step=step, seconds=seconds,
                      originals=self.inversion_images if first else None)
    self.originals_written.add(layer)

  def _write_mfv(self, run_dir, computed, *, step, seconds):
    indices, result = computed
    self.facets.write(run_dir, indices, result, step=step, seconds=seconds)
