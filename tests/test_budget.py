"""CostBudget: visualizations stay within a share of training wall time."""

import logging

import pytest

from tb_featviz import budget as budget_lib


class FakeClock:

  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def test_first_visualization_always_runs_then_the_share_is_kept():
  clock = FakeClock()
  budget = budget_lib.CostBudget(0.1, clock=clock)
  assert budget.allows(0)
  clock.now = 5.0
  budget.charge(5.0)            # 5 s of 5 s so far
  clock.now = 10.0
  assert not budget.allows(1)   # 10 s of 15 s would be 67%
  clock.now = 94.0
  assert not budget.allows(2)   # 10 of 99: 10.1%
  clock.now = 95.0
  assert budget.allows(3)       # 10 of 100: exactly 10%
  assert budget.postponed == [1, 2]


def test_share_and_restart():
  clock = FakeClock()
  budget = budget_lib.CostBudget(0.5, clock=clock)
  clock.now = 4.0
  budget.charge(1.0)
  assert budget.share == pytest.approx(0.25)
  budget.start()
  assert budget.spent == 0 and budget.last_cost is None and budget.postponed == []


def test_no_budget_allows_everything():
  budget = budget_lib.CostBudget(None, clock=FakeClock())
  budget.charge(100.0)
  assert all(budget.allows(step) for step in range(5))


def test_postponing_warns_once_then_informs(caplog):
  clock = FakeClock()
  budget = budget_lib.CostBudget(0.1, clock=clock)
  budget.charge(1.0)
  with caplog.at_level(logging.INFO, logger="tb_featviz.budget"):
    budget.allows(7)
    budget.allows(8)
  levels = [(r.levelno, r.getMessage()) for r in caplog.records]
  assert levels[0][0] == logging.WARNING and "step 7" in levels[0][1]
  assert levels[1][0] == logging.INFO and "step 8" in levels[1][1]


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_bad_fraction(fraction):
  with pytest.raises(ValueError, match="fraction in"):
    budget_lib.CostBudget(fraction)
