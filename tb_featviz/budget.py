"""A cap on the share of training wall time spent on visualizations."""

import logging
import time

logger = logging.getLogger(__name__)


class CostBudget:
  """Decides whether a visualization fits in `fraction` of the wall time.

  The clock starts with training. A visualization is allowed when, at the cost
  of the last one, the time spent on visualizations would stay at or under
  `fraction` of all the time since training began; otherwise it is postponed to
  the next interval. The first visualization always runs (its cost is unknown).

  Args:
    fraction: the largest share of wall time for visualizations, in (0, 1];
      None for no cap.
    clock: a function returning seconds (for tests).
  """

  def __init__(self, fraction=None, clock=time.perf_counter):
    if fraction is not None and not 0 < fraction <= 1:
      raise ValueError(f"budget must be a fraction in (0, 1], got {fraction!r}.")
    self.fraction = fraction
    self._clock = clock
    self.start()

  def start(self):
    """Restarts the clock and the tally (at the beginning of training)."""
    self._started = self._clock()
    self.spent = 0.0
    self.last_cost = None
    self.postponed = []

  def allows(self, step):
    """Whether a visualization at `step` fits; records it as postponed if not."""
    if self.fraction is None or self.last_cost is None:
      return True
    elapsed = self._clock() - self._started
    if self.spent + self.last_cost <= self.fraction * (elapsed + self.last_cost):
      return True
    if not self.postponed:
      logger.warning(
          "tb_featviz: postponing the visualization of step %d to keep its cost "
          "within %.0f%% of training time (the last one took %.1f s); further "
          "postponed steps are logged at INFO level.", step, 100 * self.fraction,
          self.last_cost)
    else:
      logger.info("tb_featviz: postponed step %d (budget %.0f%%).", step,
                  100 * self.fraction)
    self.postponed.append(step)
    return False

  def charge(self, seconds):
    """Records that a visualization took `seconds`."""
    self.spent += seconds
    self.last_cost = seconds

  @property
  def share(self):
    """The share of wall time spent on visualizations so far."""
    elapsed = self._clock() - self._started
    return self.spent / elapsed if elapsed > 0 else 0.0
