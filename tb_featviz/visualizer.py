"""The configured visualizations of a model, run at one step and logged.

Shared by `FeatureVizCallback` (during `fit`) and the `tb-featviz` command
(over saved checkpoints), so that both check the same configuration the same
way and write the same summaries under the same tags. What each kind does is
in `kinds.py`; this module runs them and keeps one failure from stopping the
others.
"""

import contextlib
import dataclasses
import time

import tensorflow as tf

from tb_featviz import kinds
from tb_featviz.optvis import recipe


@dataclasses.dataclass(frozen=True)
class Outcome:
  """What became of one item at one step.

  Attributes:
    item: the kinds.Item.
    seconds: how long its computation took.
    error: the exception it raised, or None.
    phase: where `error` arose: "compute" or "write".
    tags: the tags written for it (its images, and what is written once per
      run when it was), empty when nothing was.
  """
  item: kinds.Item
  seconds: float = 0.0
  error: Exception = None
  phase: str = None
  tags: tuple = ()


class Visualizer:
  """Every configured kind of visualization of one model, step after step.

  The keyword arguments are those of `FeatureVizCallback` (see there) but the
  schedule's: for each kind of `kinds.KINDS`, its configuration (`am=...`)
  and options (`am_options=...`), and `value_range` and `display_shape`. The
  model is given to `validate` and `run`, so the same Visualizer can follow a
  model whose weights change (training, or checkpoints loaded one after
  another).

  Raises:
    ValueError: if there is nothing to visualize, or a configuration or option
      key is unknown.
  """

  def __init__(self, *, value_range=(0.0, 1.0), display_shape=None, **sections):
    unknown = sorted(set(sections) - set(kinds.VISUALIZER_KEYS))
    if unknown:
      raise ValueError(f"Unknown argument(s) {unknown}; the visualizations take "
                       f"{', '.join(kinds.VISUALIZER_KEYS)}.")
    self.settings = kinds.Settings(recipe.check_value_range(value_range),
                                   display_shape)
    self.kinds = [kind(sections[kind.name], sections.get(kinds.options_key(kind)),
                       self.settings)
                  for kind in kinds.KINDS if sections.get(kind.name)]
    if not self.kinds:
      raise ValueError(
          "Nothing to visualize: pass am={layer: units}, inversion={'images': "
          "probe, 'layers': [names]}, mfv={'images': x, 'layer': name, "
          "'units': [ids]} and/or examples={'images': probe, 'layers': [names]}.")
    # Tags of what is written once per run (inversion's originals) that are
    # in the run already.
    self.written_once = set()

  @property
  def value_range(self):
    return self.settings.value_range

  def kind(self, name):
    """The configured kind called `name`, or None."""
    return next((kind for kind in self.kinds if kind.name == name), None)

  def validate(self, model):
    """Resolves every layer, unit list and image set against `model`.

    Raises:
      ValueError: naming the mistake (unknown layer, unit id beyond the layer's
        width, probe images of the wrong shape, ...) and the fix.
    """
    for kind in self.kinds:
      kind.validate(model, self)

  def items(self):
    """The configured visualizations, in the order `run` does them."""
    return [item for kind in self.kinds for item in kind.items()]

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
    with writer.as_default(step=step), tf.summary.record_if(True):
      for kind in self.kinds:
        for item in kind.items():
          if item.tag not in skip:
            outcomes.append(self._run_one(kind, model, item, step, run_dir, guard,
                                          on_outcome or (lambda outcome: None)))
    return outcomes

  def _run_one(self, kind, model, item, step, run_dir, guard, on_outcome):
    started = time.perf_counter()
    try:
      result = kind.compute(model, item)
    except Exception as error:  # pylint: disable=broad-except
      outcome = Outcome(item, time.perf_counter() - started, error, "compute")
      on_outcome(outcome)
      return outcome
    seconds = time.perf_counter() - started
    once_tag = kind.once_tag(item)
    first = once_tag is not None and once_tag not in self.written_once
    with guard() if guard is not None else contextlib.nullcontext():
      try:
        kind.write(item, result, step=step, seconds=seconds, run_dir=run_dir,
                   first=first)
      except Exception as error:  # pylint: disable=broad-except
        outcome = Outcome(item, seconds, error, "write")
      else:
        if first:
          self.written_once.add(once_tag)
        outcome = Outcome(item, seconds, tags=(item.tag, once_tag) if first
                          else (item.tag,))
      on_outcome(outcome)
    return outcome
