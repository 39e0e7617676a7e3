"""The budget: no visualization runs unless the time it earned pays for it.

Most tests drive FeatureVizCallback's hooks by hand on a fake clock, with the
visualizations replaced by stand-ins that take a given number of (fake)
seconds: they state behaviours, never real timings. One real short `fit`
checks what reaches the events files and the warning.
"""

import logging

import keras
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz import budget as budget_lib
from tb_featviz import callback as callback_lib
from tb_featviz import visualizer as visualizer_lib
from tests import digits as digits_lib
from tests import event_files

AM = {"conv2": 32, "conv3": 64, "logits": "all"}
SMALL = {"am": {"conv1": 4}, "am_options": {"steps": 64}}
SHARE_TAG = "featviz/budget/share"


class FakeClock:

  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


@pytest.fixture(scope="module")
def model():
  return digits_lib.cnn()


def _callback(tmp_path, fraction, clock, **options):
  """FeatureVizCallback on a fake clock; by default one small AM, which the
  pace of `_train` estimates at about 4 s the first time, 1 s once traced."""
  options = dict(SMALL, **options)
  callback = tb_featviz.FeatureVizCallback(str(tmp_path), budget=fraction, **options)
  callback.budget = budget_lib.CostBudget(fraction, clock=clock)
  return callback


class StandIn:
  """Replaces Visualizer.run: each call takes `costs[i]` fake seconds (the last
  one again after the list), shared out between the items, and writes two
  events for each (as a visualization writes its images and its record)."""

  def __init__(self, callback, clock, costs, error=None):
    self.visualizer = callback.visualizer
    self.clock = clock
    self.costs = list(costs)
    self.error = error
    self.steps = []
    callback.visualizer.run = self

  def __call__(self, model, step, *, writer, run_dir):
    seconds = self.costs[min(len(self.steps), len(self.costs) - 1)]
    self.steps.append(step)
    self.clock.now += seconds
    items = self.visualizer.items()
    with writer.as_default(step=step):
      for item in items:
        tf.summary.scalar(f"stand_in/{item.name}/images", seconds)
        tf.summary.scalar(f"stand_in/{item.name}/record", seconds)
    return [visualizer_lib.Outcome(item, seconds / len(items), self.error,
                                   "compute" if self.error else None)
            for item in items]


def _train(callback, model, clock, *, epochs, batches=10, batch=0.1, first=2.0):
  """Calls the hooks as `fit` would; every batch takes `batch` fake seconds,
  the very first `first` (it traces Keras's train function)."""
  callback.set_model(model)
  callback.set_params({"epochs": epochs, "steps": batches, "verbose": 0})
  callback.on_train_begin()
  for epoch in range(epochs):
    callback.on_epoch_begin(epoch)
    for index in range(batches):
      callback.on_train_batch_begin(index)
      clock.now += first if (epoch, index) == (0, 0) else batch
      callback.on_train_batch_end(index)
    callback.on_epoch_end(epoch)
  callback.on_train_end()


def _warnings(caplog):
  return [r.getMessage() for r in caplog.records
          if r.name == budget_lib.__name__ and r.levelno == logging.WARNING]


# -- the decision -------------------------------------------------------------


def test_a_visualization_runs_only_once_earned_time_pays_for_it():
  clock = FakeClock()
  budget = budget_lib.CostBudget(0.1, clock=clock)
  cost = budget_lib.Estimate(seconds=5.0, later=5.0, measured=True)
  clock.now = 44.0
  assert not budget.allows(0, cost)  # 5 of 49 s would be 10.2%
  clock.now = 45.0
  assert budget.allows(1, cost)      # 5 of 50 s: exactly 10%
  budget.charge(5.0, step=1)
  clock.now = 50.0
  assert not budget.allows(2, cost)
  assert budget.postponed == [0, 2] and budget.ran == [(1, 5.0)]
  assert budget.share == pytest.approx(0.1)


def test_an_unknown_cost_never_runs():
  clock = FakeClock()
  budget = budget_lib.CostBudget(0.5, clock=clock)
  clock.now = 1000.0
  assert not budget.allows(0, None)
  assert budget.postponed == [0]


def test_no_budget_allows_everything():
  budget = budget_lib.CostBudget(None, clock=FakeClock())
  budget.charge(100.0, step=0)
  assert all(budget.allows(step, None) for step in range(5))
  assert budget.postponed == [] and budget.report(None, ("every_n_epochs", 1), "") is None


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, "0.1", True])
def test_bad_fraction(fraction):
  with pytest.raises(ValueError, match="fraction in"):
    budget_lib.CostBudget(fraction)


# -- the estimate ---------------------------------------------------------------


def test_the_pace_comes_from_training_batches_and_tracing_from_the_first():
  clock = FakeClock()
  stopwatch = budget_lib.Stopwatch(clock)
  for seconds in (2.0, 0.1, 0.12, 0.1):
    stopwatch.begin()
    clock.now += seconds
    stopwatch.end()
  pace = stopwatch.pace()
  assert pace.step_seconds == pytest.approx(0.1)
  assert pace.trace_seconds == pytest.approx(1.9)
  assert pace.batch_size == budget_lib.DEFAULT_BATCH_SIZE
  # A later fit does not trace again: what the first one showed is kept.
  stopwatch.start()
  assert stopwatch.pace() is None
  for seconds in (0.4, 0.2):  # an execution of 2 batches each
    stopwatch.begin()
    clock.now += seconds
    stopwatch.end(batches=2)
  assert stopwatch.pace().step_seconds == pytest.approx(0.1)
  assert stopwatch.pace().trace_seconds == pytest.approx(1.9)


def test_with_steps_per_execution_the_first_execution_holds_the_tracing():
  clock = FakeClock()
  stopwatch = budget_lib.Stopwatch(clock)
  for seconds in (3.2, 0.4, 0.4):  # executions of 4 batches
    stopwatch.begin()
    clock.now += seconds
    stopwatch.end(batches=4)
  assert stopwatch.pace().step_seconds == pytest.approx(0.1)
  assert stopwatch.pace().trace_seconds == pytest.approx(2.8)


def test_model_share_grows_with_depth(model):
  shares = [budget_lib.model_share(model, name)
            for name in ("conv1", "conv2", "conv3", "embed", "logits")]
  assert 0 < shares[0] < shares[1] < shares[2] <= shares[3] <= shares[4] == 1.0


def _costs(model, pace, **sections):
  visualizer = visualizer_lib.Visualizer(**sections)
  visualizer.validate(model)
  return {(kind.name, item.name): kind.cost(model, item, pace)
          for kind in visualizer.kinds for item in kind.items()}


def test_am_costs_steps_times_units_and_one_traced_loop(model):
  pace = budget_lib.Pace(step_seconds=0.01, batch_size=32, trace_seconds=2.0)
  costs = _costs(model, pace, am={"conv3": 64})[("am", "conv3")]
  more_units = _costs(model, pace, am={"conv3": 32})[("am", "conv3")]
  more_steps = _costs(model, pace, am={"conv3": 64},
                      am_options={"steps": 512})[("am", "conv3")]
  assert costs.trace == 2.0 and costs.loops == 1
  assert more_units.compute < costs.compute
  assert more_steps.compute == pytest.approx(2 * costs.compute)
  assert costs.traced().total == costs.compute


def test_inversion_grows_with_probe_images_and_mfv_units_share_loops(model):
  images, labels = digits_lib.digits()
  pace = budget_lib.Pace(step_seconds=0.01, batch_size=32, trace_seconds=2.0)
  few = _costs(model, pace, inversion={"images": images[:4], "layers": ["conv2"]})
  many = _costs(model, pace, inversion={"images": images[:32], "layers": ["conv2"]})
  assert few[("inversion", "conv2")].compute < many[("inversion", "conv2")].compute
  mfv = _costs(model, pace, mfv={"images": images[:200], "labels": labels[:200],
                                 "layer": "logits", "units": [3, 7], "k": 3})
  first, second = mfv[("mfv", "logits/3")], mfv[("mfv", "logits/7")]
  assert first.loops == 3 and first.trace == 6.0  # one loop per centre-biased phase
  assert second.trace == 0 and second.compute > 0


def test_the_measured_cost_replaces_the_estimate(model):
  visualizer = visualizer_lib.Visualizer(am={"conv2": 4, "logits": 2})
  visualizer.validate(model)
  pace = budget_lib.Pace(step_seconds=0.01, batch_size=32, trace_seconds=2.0)
  estimator = budget_lib.Estimator()
  estimator.follow(model)
  first = estimator.estimate(visualizer, model, pace)
  assert not first.measured and first.loops == 2 and first.later < first.seconds
  costs = {item: kind.cost(model, item, pace)
           for kind in visualizer.kinds for item in kind.items()}
  # The first run traced: it is shared out between tracing and running in the
  # proportions estimated, and a later run is expected to pay the running only.
  cold = [visualizer_lib.Outcome(item, 3.0) for item in visualizer.items()]
  estimator.learn(cold, 6.5)
  second = estimator.estimate(visualizer, model, None)  # no pace needed now
  expected = 0.5 + sum(3.0 * c.compute / c.total for c in costs.values())
  assert second.measured and second.seconds == pytest.approx(expected)
  estimator.learn([visualizer_lib.Outcome(item, 1.0) for item in visualizer.items()], 2.0)
  assert estimator.estimate(visualizer, model, None).seconds == pytest.approx(2.0)
  estimator.follow(digits_lib.cnn())  # another model: measured again
  assert estimator.estimate(visualizer, model, None) is None


def test_an_estimate_is_redone_only_when_the_pace_moves(model, monkeypatch):
  visualizer = visualizer_lib.Visualizer(am={"conv2": 4})
  visualizer.validate(model)
  [kind] = visualizer.kinds
  calls = []
  cost = type(kind).cost
  monkeypatch.setattr(type(kind), "cost",
                      lambda self, *args: calls.append(1) or cost(self, *args))
  estimator = budget_lib.Estimator()
  estimator.follow(model)
  pace = budget_lib.Pace(step_seconds=0.01, batch_size=32, trace_seconds=2.0)
  first = estimator.estimate(visualizer, model, pace)
  near = budget_lib.Pace(step_seconds=0.0101, batch_size=32, trace_seconds=2.0)
  assert estimator.estimate(visualizer, model, near) is first and len(calls) == 1
  slower = budget_lib.Pace(step_seconds=0.02, batch_size=32, trace_seconds=2.0)
  assert estimator.estimate(visualizer, model, slower).seconds > first.seconds
  assert len(calls) == 2


# -- the callback -----------------------------------------------------------------


def test_a_fit_too_short_logs_none_says_so_once_and_pays_only_the_estimate(
    tmp_path, model, caplog, monkeypatch):
  clock = FakeClock()
  callback = _callback(tmp_path, 0.1, clock, am=AM, am_options=None)
  stand_in = StandIn(callback, clock, [10.0])
  estimates = []
  estimate = budget_lib.Estimator.estimate

  def costly_estimate(self, *args):
    clock.now += 0.001  # what estimating costs is charged
    estimates.append(estimate(self, *args))
    return estimates[-1]

  monkeypatch.setattr(budget_lib.Estimator, "estimate", costly_estimate)
  with caplog.at_level(logging.INFO, logger=budget_lib.__name__):
    _train(callback, model, clock, epochs=6)  # 2 s + 5.9 s of training
  assert stand_in.steps == []
  assert callback.budget.postponed == [0, 1, 2, 3, 4, 5]
  assert callback.budget.spent == pytest.approx(0.001 * len(estimates))
  [warning] = _warnings(caplog)
  assert "ran 0 of 6 visualizations" in warning
  assert f"{100 * callback.budget.share:.1f}% of the" in warning          # share
  assert f"One visualization costs {estimates[-1].describe()}" in warning  # cost
  assert "tracing 3 compiled loops included" in warning
  needed = budget_lib.CostBudget.needed(callback.budget, estimates[-1])
  assert f"would have fitted in budget={budget_lib._round_up(needed)}" in warning
  for change in ("a larger budget", "fewer units", "am_options={'steps': 128}",
                 "train longer"):
    assert change in warning
  run = event_files.read(tmp_path / "featviz")
  assert event_files.steps(run, SHARE_TAG) == [5]


def test_a_long_enough_fit_visualizes_once_paid_then_at_the_measured_cost(
    tmp_path, model, caplog):
  clock = FakeClock()
  callback = _callback(tmp_path, 0.25, clock)
  stand_in = StandIn(callback, clock, [3.0, 1.0])  # cold, then traced
  with caplog.at_level(logging.WARNING, logger=budget_lib.__name__):
    _train(callback, model, clock, epochs=60)  # 1 s of training an epoch
  steps = stand_in.steps
  assert steps[0] > 0  # not before its estimate was paid for
  assert len(steps) >= 10 and callback.budget.share <= 0.25
  # Measured, a visualization costs 1 s, which 3 s (epochs) of training pay for.
  assert {later - earlier for earlier, later in zip(steps[2:], steps[3:])} <= {3, 4}
  estimate = callback._estimator.estimate(  # pylint: disable=protected-access
      callback.visualizer, model, None)
  assert estimate.measured and estimate.seconds == pytest.approx(1.0)
  run = event_files.read(tmp_path / "featviz")
  assert event_files.steps(run, SHARE_TAG) == stand_in.steps + [59] * (59 not in stand_in.steps)
  [warning] = _warnings(caplog)
  assert "a longer interval (every_n_epochs=4," in warning
  assert "(measured)" in warning


def test_the_end_of_training_visualization_obeys_the_budget_too(tmp_path, model):
  clock = FakeClock()
  callback = _callback(tmp_path, 0.1, clock, every_n_epochs=4)
  stand_in = StandIn(callback, clock, [0.5])
  _train(callback, model, clock, epochs=6, first=0.1)
  assert stand_in.steps == []
  assert callback.budget.postponed == [3, 5]  # the interval, then the final model


def test_measured_costs_carry_over_to_the_next_fit(tmp_path, model):
  clock = FakeClock()
  callback = _callback(tmp_path, 0.25, clock)
  stand_in = StandIn(callback, clock, [6.0, 1.0])
  _train(callback, model, clock, epochs=40)
  ran = len(stand_in.steps)
  _train(callback, model, clock, epochs=4, first=0.1)
  # 1 s of visualization is paid for by 3 s of training: the new fit runs one.
  assert len(stand_in.steps) == ran + 1


def test_a_failing_visualization_warns_once_and_is_still_charged(tmp_path, model, caplog):
  clock = FakeClock()
  callback = _callback(tmp_path, 0.5, clock)
  stand_in = StandIn(callback, clock, [1.0], error=RuntimeError("boom"))
  with caplog.at_level(logging.WARNING):
    _train(callback, model, clock, epochs=8)
  failures = [r for r in caplog.records
              if r.name == callback_lib.__name__ and "boom" in r.getMessage()]
  assert len(stand_in.steps) > 1
  assert len(failures) == len(callback.visualizer.items())  # once per item
  assert callback.budget.spent >= len(stand_in.steps) * 1.0


def test_no_budget_visualizes_every_interval_and_writes_no_share(tmp_path, model, caplog):
  clock = FakeClock()
  callback = _callback(tmp_path, None, clock)
  stand_in = StandIn(callback, clock, [10.0])
  with caplog.at_level(logging.WARNING, logger=budget_lib.__name__):
    _train(callback, model, clock, epochs=3)
  assert stand_in.steps == [0, 1, 2] and not _warnings(caplog)
  assert SHARE_TAG not in event_files.read(tmp_path / "featviz").Tags()["tensors"]


def test_a_non_chief_worker_skips_and_says_nothing(tmp_path, model, caplog, monkeypatch):
  monkeypatch.setattr(callback_lib, "is_chief", lambda model: False)
  clock = FakeClock()
  callback = _callback(tmp_path, 0.1, clock)
  stand_in = StandIn(callback, clock, [1.0])
  with caplog.at_level(logging.WARNING, logger=budget_lib.__name__):
    _train(callback, model, clock, epochs=3)
  assert stand_in.steps == [] and callback.budget.postponed == []
  assert not _warnings(caplog)


def test_a_real_short_fit_logs_no_visualization_and_warns_once(tmp_path, caplog):
  images, labels = digits_lib.digits()
  keras.utils.set_random_seed(0)
  net = digits_lib.cnn()
  net.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
  callback = tb_featviz.FeatureVizCallback(
      str(tmp_path), am={"conv1": 2}, am_options={"steps": 8}, every_n_epochs=1,
      budget=1e-4)
  with caplog.at_level(logging.WARNING, logger=budget_lib.__name__):
    net.fit(images[:128], labels[:128], epochs=2, batch_size=16, verbose=0,
            callbacks=[callback])
  tags = event_files.steps_by_tag(tmp_path / "featviz")
  assert not [tag for tag in tags if tag.startswith("featviz/am")]
  assert tags[SHARE_TAG] == [1]
  assert callback.budget.postponed == [0, 1] and callback.budget.ran == []
  [warning] = _warnings(caplog)
  for part in ("ran 0 of 2 visualizations", "% of the", "One visualization costs",
               "would have fitted in budget=", "a larger budget", "fewer units",
               "fewer steps"):
    assert part in warning
  assert callback._stopwatch.pace().batch_size == 16  # pylint: disable=protected-access
