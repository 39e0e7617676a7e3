"""Visualizing saved checkpoints outside the training job (`tb-featviz run/watch`).

`CheckpointVisualizer` loads one checkpoint after another into the same model
and logs what FeatureVizCallback would have logged at that step (it runs the
same `Visualizer`), skipping whatever the run directory already holds
(`state.RunLog`). `Watcher` polls a folder for checkpoints, waits until
each is completely written, and hands them over in step order.
"""

import contextlib
import dataclasses
import os
import secrets
import signal
import sys
import time

import keras
import tensorflow as tf

from tb_featviz import checked_writer
from tb_featviz import failures
from tb_featviz import visualizer as visualizer_lib
from tb_featviz.watch import checkpoints
from tb_featviz.watch import config_file
from tb_featviz.watch import state as state_lib

# Test hook: seconds to sleep after each checkpoint, so that tests can stop a
# watcher between two checkpoints.
PAUSE_ENV = "_TB_FEATVIZ_TEST_PAUSE"


class UsageError(config_file.ConfigError):
  """A configuration that does not fit the model, or weights without a model."""


class Interrupted(KeyboardInterrupt):
  """SIGINT or SIGTERM arrived."""

  def __init__(self, signum):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


class SignalGuard:
  """Turns SIGINT and SIGTERM into `Interrupted`, held back inside `hold()`.

  Inside `hold()` (writing one visualization, flushing, saving the state) a
  signal is remembered and raised when the outermost `hold()` ends, so what
  reaches the disk is never half an item.
  """

  def __init__(self):
    self._depth = 0
    self._pending = None
    self._previous = {}

  def install(self):
    for signum in (signal.SIGINT, signal.SIGTERM):
      self._previous[signum] = signal.signal(signum, self._handle)

  def uninstall(self):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self._depth:
      self._pending = self._pending or signum
      return
    raise Interrupted(signum)

  @contextlib.contextmanager
  def hold(self):
    self._depth += 1
    try:
      yield
    finally:
      self._depth -= 1
      if not self._depth and self._pending is not None:
        signum, self._pending = self._pending, None
        raise Interrupted(signum)


class Progress:
  """One line per event on a stream (stderr), each starting with the program name."""

  def __init__(self, stream=None, prefix="tb-featviz: "):
    self.stream = stream
    self.prefix = prefix

  def line(self, text):
    stream = self.stream or sys.stderr
    stream.write(self.prefix + text + "\n")
    stream.flush()


@dataclasses.dataclass
class Report:
  """What `CheckpointVisualizer.process` did with one checkpoint."""
  path: str
  step: int
  source: str
  outcomes: list = dataclasses.field(default_factory=list)
  load_seconds: float = 0.0
  seconds: float = 0.0
  skipped: bool = False
  write_error: Exception = None  # the flush failed: nothing of it is recorded

  @property
  def failed(self):
    """The outcomes that failed, and the write error if there was one."""
    found = [o.error for o in self.outcomes if o.error is not None]
    return found + ([self.write_error] if self.write_error is not None else [])

  def describe(self):
    where = f"step {self.step} ({self.source}) {os.path.basename(self.path)}"
    if self.skipped:
      return f"{where}: already logged, skipped"
    parts = []
    for outcome in self.outcomes:
      name = f"{outcome.item.kind}/{outcome.item.name}"
      if outcome.error is None:
        parts.append(f"{name} {outcome.seconds:.1f}s")
      else:
        parts.append(f"{name} FAILED ({failures.one_line(outcome.error, limit=200)})")
    text = (f"{where}: {', '.join(parts)}; load {self.load_seconds:.1f}s, "
            f"total {self.seconds:.1f}s")
    if self.write_error is not None:
      text += (f"; NOT WRITTEN ({failures.one_line(self.write_error, limit=200)})."
               f"{failures.disk_advice(self.write_error)} It is tried again at the "
               "next run")
    return text


def load_model(path):
  """A Keras model from a `.keras` (or legacy `.h5`) file, without its optimizer."""
  if not os.path.isfile(path):
    raise UsageError(f"model file not found: {path}.")
  try:
    return keras.models.load_model(path, compile=False)
  except Exception as error:  # pylint: disable=broad-except
    raise checkpoints.CheckpointError(
        f"cannot load a model from {path}: "
        f"{failures.one_line(error, limit=400, with_type=False)}") from None


class CheckpointVisualizer:
  """Logs the configured visualizations of checkpoints into one run directory.

  Args:
    config: a `config_file.RunConfig`.
    logdir: the log directory; summaries go to `<logdir>/<run_name>`.
    architecture: a `.keras` file whose model the checkpoints' weights are
      loaded into; None to take the model from the first `.keras` checkpoint.
    run_name: overrides the configuration's run_name.
    guard: a SignalGuard (or None).

  Raises:
    UsageError: for configuration keys or options that cannot work, or an
      architecture that does not fit the configuration.
  """

  def __init__(self, config, logdir, *, architecture=None, run_name=None,
               guard=None):
    try:
      self.visualizer = visualizer_lib.Visualizer(**config.visualizer)
    except ValueError as error:
      raise UsageError(f"{config.path}: "
                       f"{failures.one_line(error, with_type=False)}") from None
    self.config = config
    self.run_dir = os.path.join(logdir, run_name or config.run_name)
    self.guard = guard
    name = f"featviz-watch-{os.getpid()}-{secrets.token_hex(3)}"
    try:
      self.run_log = state_lib.RunLog(self.run_dir, own_marker=name, lock=True)
    except state_lib.RunLocked as error:
      raise UsageError(str(error)) from None
    self.model = None
    # Events reach the disk only when a checkpoint is done, never half of one.
    self.events = checked_writer.CheckedWriter(self.run_dir, name=name,
                                               flush_only_when_asked=True)
    if architecture is not None:
      try:
        self._use(load_model(architecture), architecture)
      except BaseException:
        self.close()
        raise

  def _use(self, model, source):
    try:
      self.visualizer.validate(model)
    except ValueError as error:
      raise UsageError(f"{self.config.path} does not fit the model of {source}: "
                       f"{failures.one_line(error, with_type=False)}") from None
    self.model = model

  @property
  def tags(self):
    return [item.tag for item in self.visualizer.items()]

  def _load(self, path):
    """Puts the checkpoint's weights into `self.model` (loading it if needed)."""
    if not os.path.isfile(path):
      raise checkpoints.CheckpointError(f"{path} is gone.")
    kind = checkpoints.kind_of(path)
    if self.model is None:
      if kind == checkpoints.WEIGHTS:
        raise UsageError(f"{os.path.basename(path)} holds weights only; pass "
                         "--model MODEL.keras for the architecture.")
      self._use(load_model(path), path)
      return
    try:
      self.model.load_weights(path)
    except Exception as error:  # pylint: disable=broad-except
      raise checkpoints.CheckpointError(
          f"cannot load the weights of {os.path.basename(path)} into the model: "
          f"{failures.one_line(error, limit=400, with_type=False)}") from None

  def _hold(self):
    return self.guard.hold() if self.guard is not None else contextlib.nullcontext()

  def process(self, path, step, source):
    """Visualizes the checkpoint at `path` as step `step`, unless already logged.

    Returns:
      A Report.

    Raises:
      CheckpointError: if the checkpoint cannot be read.
      UsageError: if the model does not fit the configuration, or weights come
        without an architecture.
    """
    started = time.perf_counter()
    report = Report(path, step, source)
    self.run_log.refresh()
    missing = self.run_log.missing(step, self.tags)
    if not missing:
      report.skipped = True
      return report
    self._load(path)
    report.load_seconds = time.perf_counter() - started
    self.visualizer.written_once = self.run_log.once_logged()
    written = []  # the outcomes of the items written

    def note(outcome):
      if outcome.tags:
        written.append(outcome)

    try:
      writer = self.events.open()
    except (OSError, tf.errors.OpError) as error:  # WriteFailedError included
      report.write_error = error
      report.seconds = time.perf_counter() - started
      return report
    try:
      report.outcomes = self.visualizer.run(
          self.model, step, writer=writer, run_dir=self.run_dir,
          skip=set(self.tags) - set(missing), guard=self.guard and self.guard.hold,
          on_outcome=note)
    finally:
      with self._hold():
        try:
          # Each item written adds at least its IMAGES and RECORD events.
          self.events.flush(min_records=2 * len(written))
        except Exception as error:  # pylint: disable=broad-except
          self.events.discard()
          report.write_error = error
        else:
          if written:
            self.run_log.record(step, [tag for o in written for tag in o.tags])
    report.seconds = time.perf_counter() - started
    return report

  def close(self):
    """Flushes and closes the writer, and lets another process take the run."""
    self.events.close()
    self.run_log.close()


class Watcher:
  """Polls a folder and visualizes each complete checkpoint once, in step order.

  Args:
    directory: the checkpoint folder (it may not exist yet).
    processor: a CheckpointVisualizer.
    rule: a checkpoints.StepRule.
    poll: seconds between two looks at the folder.
    once: stop when every checkpoint there is done, instead of waiting for more.
    progress: a Progress.
  """

  def __init__(self, directory, processor, rule, *, poll=5.0, once=False,
               progress=None):
    self.directory = directory
    self.processor = processor
    self.rule = rule
    self.poll = poll
    self.once = once
    self.progress = progress or Progress()
    self.pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    self.stability = checkpoints.StabilityTracker()
    self.handled = {}  # path -> signature when it was handled
    self.visualized = self.skipped = self.failed = 0
    self._missing_dir_said = False

  def _look(self):
    """(ready [(step, path, source, signature)] in step order, number still changing)."""
    ready, changing = [], 0
    if not os.path.isdir(self.directory):
      if self.once:
        raise UsageError(f"checkpoint folder not found: {self.directory}.")
      if not self._missing_dir_said:
        self.progress.line(f"{self.directory} does not exist yet; waiting for it.")
        self._missing_dir_said = True
      return ready, changing
    for path in checkpoints.list_checkpoints(self.directory):
      current = checkpoints.signature(path)
      if current is None or self.handled.get(path) == current:
        continue
      if not self.stability.stable(path):
        changing += 1
        continue
      try:
        step, source = self.rule.step_of(path)
      except checkpoints.CheckpointError as error:
        self.progress.line(f"skipping {os.path.basename(path)}: {error}")
        self.handled[path] = current
        self.failed += 1
        continue
      ready.append((step, path, source, current))
    ready.sort()
    return ready, changing

  def run(self):
    """Watches until interrupted (or, with `once`, until all is done).

    Returns:
      The number of checkpoints that failed (0 when all went well).
    """
    where = self.processor.run_dir
    if self.once:
      self.progress.line(f"visualizing the checkpoints in {self.directory} "
                         f"(--once); writing to {where}")
    else:
      self.progress.line(f"watching {self.directory} for checkpoints every "
                         f"{self.poll:g} s (Ctrl-C to stop); writing to {where}")
    while True:
      ready, changing = self._look()
      for index, (step, path, source, signature) in enumerate(ready, 1):
        counter = f"[{index}/{len(ready)}] " if len(ready) > 1 else ""
        try:
          report = self.processor.process(path, step, source)
        except checkpoints.CheckpointError as error:
          self.progress.line(f"{counter}step {step} {os.path.basename(path)}: "
                             f"FAILED: {error}")
          self.failed += 1
        else:
          self.progress.line(counter + report.describe())
          if report.skipped:
            self.skipped += 1
          else:
            self.visualized += 1
            self.failed += bool(report.failed)
        self.handled[path] = signature
        if self.pause:
          time.sleep(self.pause)
      if ready:
        continue  # look again at once: more may have come meanwhile
      if self.once and not changing:
        break
      time.sleep(self.poll)
    self.progress.line(self.summary())
    return self.failed

  def summary(self):
    return (f"{self.visualized} checkpoint(s) visualized, {self.skipped} already "
            f"logged, {self.failed} failed.")
