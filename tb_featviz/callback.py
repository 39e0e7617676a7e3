"""FeatureVizCallback: feature visualizations logged to TensorBoard during `fit`."""

import logging
import os

import keras
import tensorflow as tf

from tb_featviz import budget as budget_lib
from tb_featviz import checked_writer
from tb_featviz import failures
from tb_featviz import kinds
from tb_featviz import summary
from tb_featviz import visualizer as visualizer_lib

logger = logging.getLogger(__name__)


class FeatureVizCallback(keras.callbacks.Callback):
  """Runs feature visualizations at intervals during training and logs them.

  At every interval, and once more at the end of training, each configured
  visualization runs on the current model and is written under
  `<log_dir>/<run_name>` with the tags of `tb_featviz.summary`. Step numbers are
  those of `keras.callbacks.TensorBoard` for the same schedule: the epoch index
  with `every_n_epochs`, the number of batches trained in this `fit` with
  `every_n_steps`. Both callbacks can be given the same `log_dir`. With
  `steps_per_execution` > 1, `every_n_steps` still counts batches (the
  visualization runs after the first execution that reaches a multiple of n),
  and the step logged is, like keras.callbacks.TensorBoard's, the number of
  executions so far.

  The configuration is checked when training starts (unknown layers or units
  fail then, before the first step; unknown keys and options fail at once). A visualization that fails later is
  reported as a warning and training goes on. (A failure is warned about once
  per visualization and kind of error, naming the reason: NaN/Inf in the model,
  out of memory, an error in the optimization, a full disk; results that are not
  finite are never written, and events that did not reach the disk are noticed
  and a new events file is started.) The callback never changes the
  model's weights, the random state or the optimizer: visualizations start from
  the same seeded noise at every interval, so pictures change only because the
  model did.

  Example:

    cb = tb_featviz.FeatureVizCallback(
        "logs/run1", am={"conv2": 16, "logits": "all"}, every_n_epochs=1)
    model.fit(x, y, epochs=10, callbacks=[cb])

  Args:
    log_dir: the run's log directory (the same as keras.callbacks.TensorBoard's).
    am: {layer name: units}, units being an int n (the first n), a list of ids
      or "all". A layer of a nested model (a Functional or Sequential model
      used as a layer) is named "outer/inner", here and everywhere a layer is.
    am_options: keyword arguments for `tb_featviz.activation_maximization`
      (steps, preset, seed, ...), shared by all AM layers.
    inversion: {"images": probe images (N, *input_shape), "layers": [names]}:
      the same probe images are inverted from each layer at every interval.
    inversion_options: keyword arguments for `tb_featviz.invert`.
    mfv: {"images": x, "labels": y, "layer": name, "units": [ids], ...}:
      multifaceted visualization of those units (see FacetTracker for all
      keys). With labels, each unit is a class and gets that class's images;
      without, the images that drive it most. Also exported for the Projector.
    mfv_options: keyword arguments for `tb_featviz.multifaceted` (steps, ...).
    examples: {"images": probe images, "k": 9, "layers": [names]}: at every
      interval, the k probe images that drive each unit most (see
      `tb_featviz.top_examples`). Without "layers", the units of every AM
      layer. The probe images are logged once per run; each step logs their
      indices, activations and strongest positions.
    examples_options: keyword arguments for `tb_featviz.top_examples`
      (batch_size).
    every_n_epochs: visualize after every n-th epoch.
    every_n_steps: visualize after every n-th training batch instead.
    value_range: (low, high) of the model's input pixels.
    display_shape: for vector-input models, the (H, W) to show inputs as images.
    budget: the largest fraction of training wall time to spend on
      visualizations (e.g. 0.1), in (0, 1]. A visualization runs only when
      the time the budget has earned so far (the fraction times the wall time
      since training began) pays for its cost: estimated from training's own
      step time before it has run, measured after. Intervals it does not pay
      for are postponed to the next one, the one at the end of training
      included; training then ends with one warning that says what it would
      take to see them. The share spent is logged as the scalar
      `featviz/budget/share`. Everything the callback does is charged (its
      checks at the start too). None: no cap.
    run_name: the subdirectory of `log_dir` written to.

  Under `tf.distribute`, the callback runs once per process; with a
  MultiWorkerMirroredStrategy only the chief (the worker whose strategy says
  `should_save_summary`) computes and writes the visualizations: they need no
  collective ops, so the other workers skip them (they still check the
  configuration, so a mistake stops every worker before the first step).

  The visualizations themselves are a `tb_featviz.visualizer.Visualizer`
  (`self.visualizer`), which the `tb-featviz` command also uses to visualize
  saved checkpoints outside the training job.
  """

  def __init__(self, log_dir, *, am=None, am_options=None, inversion=None,
               inversion_options=None, mfv=None, mfv_options=None,
               examples=None, examples_options=None,
               every_n_epochs=None, every_n_steps=None,
               value_range=(0.0, 1.0), display_shape=None, budget=None,
               run_name=kinds.DEFAULT_RUN_NAME):
    super().__init__()
    if every_n_epochs is not None and every_n_steps is not None:
      raise ValueError("Give every_n_epochs or every_n_steps, not both.")
    if every_n_epochs is None and every_n_steps is None:
      every_n_epochs = 1
    for name, value in (("every_n_epochs", every_n_epochs),
                        ("every_n_steps", every_n_steps)):
      if value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    self.visualizer = visualizer_lib.Visualizer(
        am=am, am_options=am_options, inversion=inversion,
        inversion_options=inversion_options, mfv=mfv, mfv_options=mfv_options,
        examples=examples, examples_options=examples_options,
        value_range=value_range, display_shape=display_shape)
    self.log_dir = os.fspath(log_dir)
    self.budget = budget_lib.CostBudget(budget)
    self._stopwatch = budget_lib.Stopwatch(clock=lambda: self.budget.clock())
    self._estimator = budget_lib.Estimator()
    self._share_step = None  # the step featviz/budget/share was last logged at
    self.every_n_epochs = every_n_epochs
    self.every_n_steps = every_n_steps
    self.value_range = self.visualizer.value_range
    self.display_shape = display_shape
    self.run_name = run_name
    self._events = None  # a checked_writer.CheckedWriter, made on the chief
    self._chief = True
    self._batches = 0  # executions, counted like keras.callbacks.TensorBoard
    self._trained = 0  # batches trained in this fit
    self._epoch_start = 0
    self._intervals = 0
    self._last_visited_step = None
    self._failed = set()

  # -- configuration ----------------------------------------------------------

  def _validate(self):
    """Resolves every layer, unit list and probe, raising ValueError on mistakes."""
    self.visualizer.validate(self.model)

  # -- schedule ---------------------------------------------------------------

  @property
  def _budgeted(self):
    return self.budget.fraction is not None and self._chief

  def on_train_begin(self, logs=None):
    self.budget.start()
    started = self.budget.clock()
    self._validate()
    self._chief = is_chief(self.model)
    self._batches = self._trained = self._epoch_start = self._intervals = 0
    self._last_visited_step = self._share_step = None
    self._run_dir = os.path.join(self.log_dir, self.run_name)
    if not self._chief:
      return
    self._stopwatch.start()
    self._estimator.follow(self.model)
    try:
      self._open_events()
    finally:
      self.budget.charge(self.budget.clock() - started)

  def _open_events(self):
    if self._events is None:
      self._events = checked_writer.CheckedWriter(self._run_dir)
    try:
      self._events.open()
    except (checked_writer.WriteFailedError, tf.errors.ResourceExhaustedError) as error:
      self._warn_once(("write",),
                      f"tb_featviz: cannot write to {self._run_dir} yet "
                      f"({failures.one_line(error)}).{failures.disk_advice(error)} Training goes "
                      "on and every interval will try again.")
    except (tf.errors.OpError, OSError) as error:
      raise ValueError(f"Cannot write summaries to {self._run_dir!r} ({error}); "
                       "pass a log_dir that can be written.") from error

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch_start = self._trained

  def on_train_batch_begin(self, batch, logs=None):
    self._batches += 1  # counted like keras.callbacks.TensorBoard's steps
    if self._budgeted:
      self._stopwatch.begin()

  def on_train_batch_end(self, batch, logs=None):
    # Keras calls back once per execution of `steps_per_execution` batches,
    # `batch` being the index in the epoch of the execution's last batch.
    in_epoch = batch + 1
    steps = (self.params or {}).get("steps")
    if steps:
      in_epoch = min(in_epoch, steps)
    if self._budgeted:
      self._time_batches(in_epoch)
    self._trained = self._epoch_start + in_epoch
    if self.every_n_steps and self._trained // self.every_n_steps > self._intervals:
      self._intervals = self._trained // self.every_n_steps
      self._visualize(self._batches)

  def _time_batches(self, in_epoch):
    """Gives the stopwatch the execution that just ended (`in_epoch` batches
    of this epoch trained now)."""
    executed = self._epoch_start + in_epoch - self._trained
    self._stopwatch.end(max(1, executed))
    if self._trained == 0:  # the first of this fit: metrics count its images
      self._stopwatch.batch_size = budget_lib.samples_per_batch(self.model, in_epoch)

  def on_epoch_end(self, epoch, logs=None):
    self._last_epoch = epoch
    if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
      self._visualize(epoch)

  def on_train_end(self, logs=None):
    final_step = self._batches if self.every_n_steps else getattr(
        self, "_last_epoch", None)
    if final_step is not None and final_step != self._last_visited_step:
      self._visualize(final_step)
    if self._budgeted and final_step is not None and final_step != self._share_step:
      self._log_share(final_step)
    if self._chief and self._events is not None:
      try:
        self._events.flush()
      except Exception as error:  # pylint: disable=broad-except
        self._events.discard()
        self._warn_once(("write",),
                        f"tb_featviz: flushing {self._run_dir} at the end of "
                        f"training failed ({failures.one_line(error)}).{failures.disk_advice(error)}")
    if self._budgeted:
      self._report_budget()

  # -- work -------------------------------------------------------------------

  def _visualize(self, step):
    self._last_visited_step = step
    if not self._chief:
      return  # a non-chief worker of a multi-worker job: the chief logs
    started = self.budget.clock()
    if self._budgeted:
      estimate = self._estimator.estimate(self.visualizer, self.model,
                                          self._stopwatch.pace())
      if not self.budget.allows(step, estimate):
        self.budget.charge(self.budget.clock() - started)
        return
    outcomes = self._run(step)
    seconds = self.budget.clock() - started
    self.budget.charge(seconds, step)
    self._estimator.learn(outcomes, seconds)
    if self._budgeted:
      self._log_share(step)

  def _run(self, step):
    """Computes and writes every visualization at `step`; returns the Outcomes."""
    outcomes = []
    try:
      writer = self._events.open()
      with checked_writer.restoring_default_writer():
        outcomes = self.visualizer.run(self.model, step, writer=writer,
                                       run_dir=self._run_dir)
      for outcome in outcomes:
        if outcome.error is not None:
          self._warn_failed(outcome, step)
      # Each visualization written adds at least its IMAGES and RECORD events.
      self._events.flush(min_records=2 * sum(o.error is None for o in outcomes))
    except Exception as error:  # pylint: disable=broad-except
      self._events.discard()
      self._warn_once(
          ("write",),
          f"tb_featviz: logging step {step} to {self._run_dir} failed "
          f"({failures.one_line(error)}); what was computed for that step is lost."
          f"{failures.disk_advice(error)} Training goes on; the next interval writes "
          "to a new events file.")
    return outcomes

  def _log_share(self, step):
    """Writes the budget's share so far as the scalar featviz/budget/share."""
    started = self.budget.clock()
    try:
      writer = self._events.open()
      with checked_writer.restoring_default_writer():
        with writer.as_default(step=step):
          summary.budget_share(self.budget.share, step=step)
      self._events.flush(min_records=1)
      self._share_step = step
    except Exception as error:  # pylint: disable=broad-except
      self._events.discard()
      self._warn_once(("write",),
                      f"tb_featviz: logging the budget's share at step {step} to "
                      f"{self._run_dir} failed ({failures.one_line(error)})."
                      f"{failures.disk_advice(error)}")
    self.budget.charge(self.budget.clock() - started)

  def _report_budget(self):
    """Warns once if any visualization was postponed or skipped."""
    if not self.budget.postponed:
      return
    interval = (("every_n_steps", self.every_n_steps) if self.every_n_steps
                else ("every_n_epochs", self.every_n_epochs))
    # What a visualization costs now that every run so far has been measured.
    started = self.budget.clock()
    estimate = self._estimator.estimate(self.visualizer, self.model,
                                        self._stopwatch.pace())
    self.budget.charge(self.budget.clock() - started)
    budget_lib.logger.warning(self.budget.report(estimate, interval, self._fewer()))

  def _fewer(self):
    """What fewer units and fewer steps mean for this configuration."""
    steps = []
    for kind in self.visualizer.kinds:
      now = kind.option("steps")
      if isinstance(now, int) and now > 1:
        steps.append(f"{kind.name}_options={{'steps': {now // 2}}}; now {now}")
    names = ", ".join(kind.name for kind in self.visualizer.kinds)
    return (f"fewer units or images ({names})"
            + (f", fewer steps ({', '.join(steps)})" if steps else ""))

  def _warn_failed(self, outcome, step):
    """Warns about a failed visualization, once per item and kind of error."""
    item, error = outcome.item, outcome.error
    lost = (f"its summaries at step {step} may be incomplete"
            if outcome.phase == "write" else f"nothing was logged for step {step}")
    self._warn_once(
        (item.kind, item.name, type(error).__name__),
        f"tb_featviz: {item.kind} of layer {item.name!r} at step {step} failed "
        f"({failures.one_line(error)}); {lost}."
        f"{self._advice(item.kind, error, outcome.phase)} Training goes on and "
        "later intervals will try again.")

  def _warn_once(self, key, text):
    if key in self._failed:
      logger.info(text)  # warned already
    else:
      self._failed.add(key)
      logger.warning(text)

  def _advice(self, kind, error, phase):
    """A sentence on what to do about `error`, or ""."""
    if phase == "write":
      return failures.disk_advice(error)
    if phase != "compute" or not failures.is_out_of_memory(error):
      return ""
    return self.visualizer.kind(kind).oom_advice()


def is_chief(model):
  """Whether this process logs: False only on the non-chief workers of a
  multi-worker strategy (whose `extended.should_save_summary` is False)."""
  try:
    strategy = model.distribute_strategy
  except (AttributeError, ValueError):
    strategy = tf.distribute.get_strategy()
  return bool(getattr(strategy.extended, "should_save_summary", True))
