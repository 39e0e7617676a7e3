"""A cap on the share of training wall time spent on visualizations.

`CostBudget` decides: a visualization runs only when the time the budget has
earned so far pays for its estimated cost, so that the share of wall time
spent on visualizations, since training began, stays at or under the budget.

Before a visualization has run its cost is estimated from training's own
timing (`Pace`): one optimization step over n images is about one forward and
backward pass of a batch of n images through the model cut at the layer, i.e.
(n / batch size) x (a training step's time) x (the share of the model up to the
layer); tracing one compiled loop is about what tracing Keras's train function
cost (the first batch of `fit` minus a typical one). Each kind of visualization
adds up its loops and passes (`kinds.Kind.cost`). `Estimator` keeps those
estimates and replaces them with what each visualization measured once it has
run (a second run of the same loop pays no tracing).
"""

import dataclasses
import logging
import math
import numbers
import statistics
import time
import weakref

import keras

from tb_featviz.optvis import features as features_lib

logger = logging.getLogger(__name__)

# Keras's default batch size, assumed when the model's loss metric does not say.
DEFAULT_BATCH_SIZE = 32
# Batch times kept for the typical one (their median).
RECENT_BATCHES = 64
# Unmeasured estimates are multiplied by this before they are compared with
# what the budget earned: a measured cost can only come after one has run, and
# one run that costs more than estimated is the budget's only overshoot.
ESTIMATE_MARGIN = 1.5
# A forward pass is about a third of a training step (forward + backward).
FORWARD_SHARE = 1.0 / 3.0
# What one optimization step costs besides its images' passes (the loop, the
# parameterization, transforms and update), as a share of a training step:
# it dominates for a few images through a few layers (docs/benchmarks.md).
LOOP_STEP_SHARE = 0.1


@dataclasses.dataclass(frozen=True)
class Cost:
  """Estimated seconds of some work.

  Attributes:
    compute: seconds of running it.
    trace: seconds of tracing its compiled loops (paid on the first run only).
    loops: how many compiled loops it traces.
  """
  compute: float = 0.0
  trace: float = 0.0
  loops: int = 0

  @property
  def total(self):
    return self.compute + self.trace

  def __add__(self, other):
    return Cost(self.compute + other.compute, self.trace + other.trace,
                self.loops + other.loops)

  def traced(self):
    """The same work, its loops already traced."""
    return Cost(self.compute)


def _elements(shape):
  return math.prod(int(d) for d in shape if d is not None)


def _layer_work(layer):
  """Multiply-adds of one image through `layer` (or its output size if it has
  no weights): a relative measure, for shares of a model."""
  try:
    shape = tuple(layer.output.shape[1:])
  except (AttributeError, ValueError):  # called several times, or never
    shape = ()
  params = layer.count_params() if layer.built else 0
  if params:
    return float(params * _elements(shape[:-1]))
  return float(_elements(shape))


_SHARES = weakref.WeakKeyDictionary()


def model_share(model, layer):
  """The share of a forward pass through `model` spent up to `layer`'s output.

  Layers count in the order `features.layer_names` lists them (a topological
  order), each by its multiply-adds; layers of parallel branches listed before
  `layer` count too, so the share errs high.

  Args:
    model: a Keras model with a layer graph.
    layer: a layer name ("outer/inner" for a nested layer).

  Returns:
    A float in (0, 1].
  """
  per_model = _SHARES.setdefault(model, {})
  if layer not in per_model:
    names = features_lib.layer_names(model)
    # A nested model's own entry follows its layers, which count already.
    work = [0.0 if any(n.startswith(name + "/") for n in names)
            else _layer_work(features_lib.find_layer(model, name)) for name in names]
    total = sum(work)
    upto = sum(work[:names.index(layer) + 1]) if layer in names else total
    per_model[layer] = min(1.0, upto / total) if total > 0 else 1.0
  return per_model[layer]


@dataclasses.dataclass(frozen=True)
class Pace:
  """What training's own timing says about the model on this machine.

  Attributes:
    step_seconds: a typical training step (one batch: forward, backward and
      update).
    batch_size: the images in a training batch.
    trace_seconds: what tracing Keras's train function took (its first batch
      minus a typical one); 0 when this training did not trace it.
  """
  step_seconds: float
  batch_size: int
  trace_seconds: float

  def loop(self, model, layer, images, steps, loops=1):
    """`steps` optimization steps over `images` images at `layer`.

    Args:
      model: the model.
      layer: the layer the objective reads.
      images: the images optimized together (padding included).
      steps: the steps, in all.
      loops: how many compiled loops the steps are split into.

    Returns:
      A Cost.
    """
    passes = images / self.batch_size * model_share(model, layer)
    seconds = steps * self.step_seconds * (passes + LOOP_STEP_SHARE)
    return Cost(seconds, loops * self.trace_seconds, loops)

  def forward(self, model, layer, images):
    """A forward pass of `images` images up to `layer` (nothing to trace)."""
    return Cost(FORWARD_SHARE * images / self.batch_size * self.step_seconds
                * model_share(model, layer))

  def compiled_forward(self, model, layer, images):
    """A forward pass in a compiled function, which the first run traces."""
    return self.forward(model, layer, images) + Cost(trace=self.trace_seconds,
                                                     loops=1)

  @staticmethod
  def host(seconds):
    """Work on the host that training's timing says nothing about."""
    return Cost(seconds)

  def near(self, other, tolerance=0.05):
    """Whether `other` (a Pace or None) gives estimates within `tolerance`."""
    return (other is not None and self.batch_size == other.batch_size
            and all(abs(a - b) <= tolerance * max(abs(a), abs(b))
                    for a, b in ((self.step_seconds, other.step_seconds),
                                 (self.trace_seconds, other.trace_seconds))))


def samples_per_batch(model, batches):
  """The images per batch, from the samples counted by the model's loss metric.

  Args:
    model: the model being trained.
    batches: the batches trained since its metrics were last reset.

  Returns:
    An int, or None if the model has no such metric.
  """
  for metric in getattr(model, "metrics", ()):
    count = getattr(metric, "count", None)
    if metric.name == "loss" and count is not None and batches > 0:
      try:
        return max(1, int(round(float(keras.ops.convert_to_numpy(count)) / batches)))
      except (TypeError, ValueError):
        return None
  return None


class Stopwatch:
  """Times training's batches to give a `Pace`.

  The first batch of a `fit` that traces Keras's train function is slower than
  the others by the tracing; the largest such difference seen is kept across
  `fit` calls (a later one does not trace again).

  Args:
    clock: a function returning seconds.
  """

  def __init__(self, clock=time.perf_counter):
    self._clock = clock
    self.trace_seconds = 0.0
    self.batch_size = None
    self.start()

  def start(self):
    """Forgets the batch times (at the beginning of a `fit`)."""
    self._first = None
    self._recent = []
    self._began = None

  def begin(self):
    self._began = self._clock()

  def end(self, batches=1):
    """Records a batch (or an execution of `batches` batches) that just ended."""
    if self._began is None:
      return
    seconds, batches = self._clock() - self._began, max(1, batches)
    self._began = None
    if self._first is None:
      self._first = (seconds, batches)
      return
    self._recent.append(seconds / batches)
    del self._recent[:-RECENT_BATCHES]
    first, first_batches = self._first
    self.trace_seconds = max(self.trace_seconds, first - first_batches * self.typical)

  @property
  def typical(self):
    """The median time of this fit's batches after the first, or None."""
    return statistics.median(self._recent) if self._recent else None

  def pace(self):
    """The Pace, or None before a second batch has ended."""
    if self.typical is None:
      return None
    return Pace(self.typical, self.batch_size or DEFAULT_BATCH_SIZE,
                self.trace_seconds)


@dataclasses.dataclass(frozen=True)
class Estimate:
  """What the next visualization will cost.

  Attributes:
    seconds: the cost the budget compares (margin included if not measured).
    later: what a visualization after that one will cost (no tracing).
    measured: whether every part was measured (not estimated).
    loops: compiled loops still to trace.
  """
  seconds: float
  later: float
  measured: bool
  loops: int = 0

  def describe(self):
    """E.g. "4.2 s (measured)"."""
    if self.measured:
      return f"{_seconds(self.seconds)} (measured)"
    text = f"about {_seconds(self.seconds)} (estimated from training's own step time"
    if self.loops:
      text += (f", tracing {self.loops} compiled loop{'s' * (self.loops > 1)} "
               f"included; {_seconds(self.later)} once traced")
    return text + ")"


class Estimator:
  """The cost of one visualization of every item: estimated, then measured.

  An item's estimate comes from its kind (`cost(model, item, pace)`); once the
  item has run, what it took replaces it. The first run of an item also traced
  its loops, which later runs do not: what that run took is split between
  running and tracing in the proportions estimated, and the running part kept.
  """

  def __init__(self):
    self._model = None
    self.reset()

  def reset(self):
    self._measured = {}  # item -> seconds of a run without tracing
    self._overhead = 0.0  # seconds of a visualization besides its items'
    self._estimates = {}  # item -> the last Cost estimated
    self._last = None  # (pace, Estimate) of the last estimate

  def follow(self, model):
    """Forgets what was measured if `model` is not the one measured."""
    if self._model is None or self._model() is not model:
      self.reset()
      self._model = weakref.ref(model)

  def estimate(self, visualizer, model, pace):
    """What running every item of `visualizer` on `model` will cost.

    Args:
      visualizer: the Visualizer.
      model: the model.
      pace: training's Pace, or None if not known yet.

    Returns:
      An Estimate, or None if some item is unmeasured and `pace` is None.
    """
    # Every interval asks (every batch, with every_n_steps=1), while the pace
    # of training barely moves: the kinds' arithmetic is redone only if it did.
    if self._last is not None and pace is not None and pace.near(self._last[0]):
      return self._last[1]
    seconds = later = self._overhead
    loops = 0
    measured = True
    for kind in visualizer.kinds:
      for item in kind.items():
        if item in self._measured:
          seconds += self._measured[item]
          later += self._measured[item]
          continue
        if pace is None:
          return None
        cost = self._estimates[item] = kind.cost(model, item, pace)
        seconds += ESTIMATE_MARGIN * cost.total
        later += ESTIMATE_MARGIN * cost.compute
        loops += cost.loops
        measured = False
    estimate = Estimate(seconds, later, measured, loops)
    self._last = (pace, estimate)
    return estimate

  def learn(self, outcomes, seconds):
    """Takes in what a visualization measured.

    Args:
      outcomes: the Visualizer's Outcomes (each item's seconds).
      seconds: what the whole visualization took (writing included).
    """
    self._last = None
    for outcome in outcomes:
      cost = self._estimates.get(outcome.item)
      if outcome.item in self._measured or cost is None or cost.total <= 0:
        self._measured[outcome.item] = outcome.seconds
      else:  # its first run: it traced
        self._measured[outcome.item] = outcome.seconds * cost.compute / cost.total
    if outcomes:
      self._overhead = max(0.0, seconds - sum(o.seconds for o in outcomes))


class CostBudget:
  """Decides whether a visualization fits in `fraction` of the wall time.

  The clock starts with training. A visualization runs when, at its estimated
  cost, the time spent on visualizations would stay at or under `fraction` of
  all the time since training began; otherwise it is postponed to the next
  interval (an unknown cost is postponed too). Everything the callback does
  is charged: its checks at the start, estimates, visualizations and writing.

  Args:
    fraction: the largest share of wall time for visualizations, in (0, 1];
      None for no cap.
    clock: a function returning seconds (for tests).

  Raises:
    ValueError: for a fraction outside (0, 1].
  """

  def __init__(self, fraction=None, clock=time.perf_counter):
    if fraction is not None and not (
        isinstance(fraction, numbers.Real) and not isinstance(fraction, bool)
        and 0 < fraction <= 1):
      raise ValueError(f"budget must be a fraction in (0, 1], got {fraction!r}.")
    self.fraction = fraction
    self.clock = clock
    self.start()

  def start(self):
    """Restarts the clock and the tally (at the beginning of training)."""
    self._started = self.clock()
    self.spent = 0.0
    self.ran = []  # (step, seconds) of each visualization that ran
    self.postponed = []  # steps postponed or skipped

  @property
  def elapsed(self):
    """Seconds since training began."""
    return self.clock() - self._started

  def fits(self, seconds):
    """Whether `seconds` more of visualization keep the share within the budget."""
    return (self.fraction is None
            or self.spent + seconds <= self.fraction * (self.elapsed + seconds))

  def allows(self, step, estimate):
    """Whether a visualization at `step` fits; records it as postponed if not.

    Args:
      step: the step.
      estimate: its Estimate, or None if its cost is not known yet.

    Returns:
      A bool.
    """
    if self.fraction is None:
      return True
    if estimate is not None and self.fits(estimate.seconds):
      return True
    self.postponed.append(step)
    logger.info("tb_featviz: postponed step %d (budget %g; a visualization "
                "costs %s).", step, self.fraction,
                "an unknown time" if estimate is None else estimate.describe())
    return False

  def charge(self, seconds, step=None):
    """Records `seconds` of the callback's work; with `step`, a visualization."""
    self.spent += seconds
    if step is not None:
      self.ran.append((step, seconds))

  @property
  def share(self):
    """The share of wall time spent on visualizations so far."""
    elapsed = self.elapsed
    return self.spent / elapsed if elapsed > 0 else 0.0

  def needed(self, estimate):
    """The budget that would have fitted every visualization, or None.

    What ran, plus every postponed one at the cost of a visualization whose
    loops are traced (one of them untraced, if none ran), against training's
    wall time without visualizations.
    """
    if estimate is None:
      return None
    missing = 0.0
    if self.postponed:
      first = estimate.later if self.ran else estimate.seconds
      missing = first + (len(self.postponed) - 1) * estimate.later
    total = self.spent + missing
    return total / (self.elapsed + missing) if total > 0 else 0.0

  def affordable(self):
    """Seconds of visualization this training's wall time would pay for."""
    training = max(0.0, self.elapsed - self.spent)
    return self.fraction / (1 - self.fraction) * training if self.fraction < 1 else math.inf

  def report(self, estimate, interval, fewer):
    """The one warning at the end of training, or None if nothing was postponed.

    Args:
      estimate: the Estimate of a visualization now (None if never known).
      interval: (keyword, n) of the schedule, e.g. ("every_n_epochs", 1).
      fewer: what fewer units and fewer steps mean for this configuration,
        e.g. "fewer units or images (am), fewer steps (am_options=...)".

    Returns:
      A str, or None.
    """
    if self.fraction is None or not self.postponed:
      return None
    count = len(self.ran) + len(self.postponed)
    text = (f"tb_featviz: budget={self.fraction:g} ran {len(self.ran)} of {count} "
            f"visualizations ({_steps_text(self.postponed)} postponed or "
            f"skipped). The callback spent {_seconds(self.spent)}, "
            f"{100 * self.share:.1f}% of the {_seconds(self.elapsed)} since "
            "training began.")
    if estimate is None:
      return (text + " What a visualization costs is unknown: training gave no "
              "step time to estimate it from (it needs two batches). To "
              "visualize, train longer.")
    needed = self.needed(estimate)
    text += (f" One visualization costs {estimate.describe()}. All {count} would "
             f"have fitted in budget={_round_up(needed)}")
    advice = [fewer]
    if needed > self.fraction:
      text += "."
      advice.insert(0, f"a larger budget (budget={_round_up(needed)})")
    else:
      text += " (they were postponed while their cost was estimated higher)."
    afford = self.affordable()
    if not self.ran and estimate.seconds > afford:
      advice.append(f"train longer (one visualization needs "
                    f"{_seconds(estimate.seconds)}; {_seconds(self.elapsed)} of "
                    f"training earned {_seconds(afford)})")
    else:
      key, every = interval
      longer = every * math.ceil(count / self._how_many(estimate, afford))
      if longer > every:
        advice.append(f"a longer interval ({key}={longer}, which this training "
                      "would have paid for)")
    if len(advice) == 1:
      return f"{text} To see more, pass {advice[0]}."
    return f"{text} To see more, pass {', '.join(advice[:-1])} or {advice[-1]}."

  def _how_many(self, estimate, afford):
    """How many visualizations `afford` seconds pay for (at least 1)."""
    later = max(estimate.later, 1e-9)
    if self.ran:
      return max(1, len(self.ran) + int(max(0.0, afford - self.spent) // later))
    return 1 + int(max(0.0, afford - estimate.seconds) // later)


def _seconds(seconds):
  """"19 s", "2.2 s", "0.07 s"."""
  if seconds >= 10:
    return f"{seconds:.0f} s"
  return f"{seconds:.1f} s" if seconds >= 0.1 else f"{seconds:.2g} s"


def _round_up(fraction):
  return f"{min(1.0, math.ceil(fraction * 100) / 100):g}"


def _steps_text(steps):
  """"step 3", "steps 0, 1, 2", "12 steps: 0, 1, 2, ..., 59"."""
  if len(steps) == 1:
    return f"step {steps[0]}"
  if len(steps) <= 6:
    return f"steps {', '.join(str(s) for s in steps)}"
  return f"{len(steps)} steps: {', '.join(str(s) for s in steps[:3])}, ..., {steps[-1]}"
