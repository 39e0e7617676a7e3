"""Does FeatureVizCallback(budget=f) keep visualization within f of training time?

  .venv/bin/python bench/budget_overhead.py [--epochs 160] [--budgets 0.1,0.25]

Run by `make bench` (never by the tests). Trains the demo's digits CNN
(demo/train_digits.py: its data, model, compilation and fit) in `fit` calls of
`--epochs` epochs each: without FeatureVizCallback, and with the demo's
callback (AM of conv2, conv3 and the logits, inversion from four layers, the
facets of two classes, after every epoch) given `budget=f`, in turns.

budget.py's measure: the share of wall time, since training began, spent on
visualizations. It is reported twice for each budget:

  own share  the callback's accounting (CostBudget.share at the end of `fit`);
  measured   (with - without) / with, from the wall time of the `fit` with
             the callback and of the `fit` calls without it just before and
             just after (their mean): what the callback added, training slowed
             down by it included.

Target: measured <= f + 0.02. Also printed: how many intervals ran and how
many were postponed, and the epochs the visualizations ran at.

Why in turns, in one process: on this shared machine the same 160 epochs take
+-4% from one minute to the next (+-2 s, while 0.02 of the run is 1.4 s), and
in fresh processes as much again. So every `fit` with a callback sits between
two without it, in one process and on one model (one compiled training step),
and the budgets swap order from round to round (without, 0.1, without, 0.25,
without, 0.25, without, 0.1, without, ...). The summary gives the median over
`--rounds` rounds.

A visualization's first call traces its compiled loops, and the first
interval of a `fit` always runs (its cost is unknown before), so a short
training cannot stay within the budget from a cold start: it needs at least
first cost x (1/f - 1) seconds of training. The model and every callback
therefore first train `--warmup-epochs` untimed epochs (1), where the loops are
traced, and the timed fits measure the budget's steady state; the printout
gives the cold first cost and the training it would need.

Results also go to bench/_results/budget_overhead.json (git-ignored).
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

import _common  # first: puts the repository on sys.path

sys.path.insert(0, os.path.join(_common.REPO_ROOT, "demo"))

import train_digits  # noqa: E402  (demo/train_digits.py)
from tb_featviz import budget as budget_lib  # noqa: E402

TOLERANCE = 0.02  # the measured share may exceed the budget by this much


def _parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--epochs", type=int, default=160,
                      help="epochs of each timed fit (one takes about 0.3 s here)")
  parser.add_argument("--warmup-epochs", type=int, default=1,
                      help="untimed epochs first, once without a callback and "
                      "once with each")
  parser.add_argument("--budgets", default="0.1,0.25",
                      help="comma-separated budget fractions")
  parser.add_argument("--am-steps", type=int, default=256,
                      help="steps per activation maximization (the demo's)")
  parser.add_argument("--rounds", type=int, default=3,
                      help="rounds: each budget's fit once per round")
  parser.add_argument("--json",
                      default=os.path.join(_common.RESULTS_DIR, "budget_overhead.json"))
  return parser.parse_args()


class TallyBudget(budget_lib.CostBudget):
  """A CostBudget that also records what ran: (step, seconds) in `ran`."""

  def start(self):
    super().start()
    self.ran = []
    self._allowed = None

  def allows(self, step):
    allowed = super().allows(step)
    if allowed:
      self._allowed = step
    return allowed

  def charge(self, seconds):
    super().charge(seconds)
    self.ran.append((self._allowed, seconds))


def timed_fit(model, data, epochs, callbacks):
  """Trains `model` for `epochs`; returns (wall seconds, process CPU seconds)."""
  wall, cpu = time.perf_counter(), time.process_time()
  train_digits.train(model, data, epochs, callbacks, verbose=0)
  return time.perf_counter() - wall, time.process_time() - cpu


def budget_callbacks(data, budgets, am_steps, logdir):
  """The demo's callback for each budget, each with a TallyBudget; by budget."""
  _, (x_val, y_val) = data
  callbacks = {}
  for fraction in budgets:
    callback = train_digits.featviz_callback(
        os.path.join(logdir, f"budget_{fraction:g}"), x_val, y_val,
        am_steps=am_steps, budget=fraction)
    callback.budget = TallyBudget(fraction)
    callbacks[fraction] = callback
  return callbacks


def warm_up(model, data, callbacks, epochs):
  """Trains `epochs` without a callback, then with each; returns each's costs."""
  train_digits.train(model, data, epochs, [], verbose=0)
  costs = {}
  for fraction, callback in callbacks.items():
    train_digits.train(model, data, epochs, [callback], verbose=0)
    costs[fraction] = [seconds for _, seconds in callback.budget.ran]
  return costs


def schedule(budgets, rounds):
  """The budget of each timed fit, None for one without: every budget between two."""
  order = [None]
  for index in range(rounds):
    for fraction in (budgets if index % 2 == 0 else budgets[::-1]):
      order += [fraction, None]
  return order


def run_fit(model, data, fraction, callbacks, epochs):
  """One timed fit (with the callback for `fraction`, unless None); its dict."""
  callback = callbacks.get(fraction)
  wall, cpu = timed_fit(model, data, epochs, [callback] if callback else [])
  case = {"budget": fraction, "wall_s": wall, "cpu_s": cpu}
  if callback is not None:
    tally = callback.budget
    case.update(own_share=tally.share, spent_s=tally.spent,
                ran=[[step, seconds] for step, seconds in tally.ran],
                postponed=list(tally.postponed), intervals=epochs)
  return case


def add_measured(fits):
  """Adds to each fit with a budget its share against the fits around it."""
  for before, case, after in zip(fits, fits[1:], fits[2:]):
    if case["budget"] is None:
      continue
    case["without_s"] = (before["wall_s"] + after["wall_s"]) / 2
    case["without_cpu_s"] = (before["cpu_s"] + after["cpu_s"]) / 2
    case["measured_share"] = (case["wall_s"] - case["without_s"]) / case["wall_s"]
    case["measured_cpu_share"] = (case["cpu_s"] - case["without_cpu_s"]) / case["cpu_s"]
    case["target_share"] = case["budget"] + TOLERANCE


def print_table(cases):
  header = (f"{'case':<12s} {'wall s':>7s} {'without':>7s} {'viz s':>6s} "
            f"{'ran':>4s} {'postp.':>6s} {'own share':>9s} {'measured':>8s} "
            f"{'(cpu)':>6s} {'target':>7s}")
  _common.print_header(header)
  for case in cases:
    verdict = _common.verdict(case["measured_share"], case["target_share"])
    print(f"{'budget ' + format(case['budget'], 'g'):<12s} "
          f"{case['wall_s']:>7.1f} {case['without_s']:>7.1f} {case['spent_s']:>6.1f} "
          f"{len(case['ran']):>4d} {len(case['postponed']):>6d} "
          f"{case['own_share']:>9.3f} {case['measured_share']:>8.3f} "
          f"{case['measured_cpu_share']:>6.3f} "
          f"{'<=' + format(case['target_share'], '.2f'):>7s}{verdict}")
  print("-" * len(header))
  print("without: the mean wall time of the fits without the callback just "
        "before and after; viz s: seconds the callback charged to "
        "visualizations; ran / postp.: intervals (one per epoch) that ran / "
        "were postponed; own share: the callback's CostBudget.share; measured: "
        "(with - without) / with, wall time ((cpu): the same with process CPU "
        "time).")
  for case in cases:
    ran = ", ".join(f"epoch {step} ({seconds:.1f} s)" for step, seconds in case["ran"])
    print(f"budget {case['budget']:g}: ran at {ran}")


def print_cold_start(warmup_costs, warmup_epochs):
  """Says what the first visualization cost, and the training it would need."""
  first = max((costs[0] for costs in warmup_costs.values() if costs), default=None)
  if first is None:
    return
  print(f"Cold start: the first visualization (tracing included, in the "
        f"{warmup_epochs}-epoch warm-up) took {first:.1f} s; from a cold start, "
        "a budget can hold only after "
        + ", ".join(f"{first * (1 / fraction - 1):.0f} s (f={fraction:g})"
                    for fraction in warmup_costs)
        + " of training.")


def print_summary(budget_fits):
  """The median over rounds of each budget's measured and own shares."""
  print(f"\nOver {len(next(iter(budget_fits.values())))} rounds (each fit "
        "against the fits without just before and after):")
  for fraction, cases in budget_fits.items():
    measured = [case["measured_share"] for case in cases]
    own = [case["own_share"] for case in cases]
    target = cases[0]["target_share"]
    median = statistics.median(measured)
    print(f"  budget {fraction:g}: measured median {median:.3f} "
          f"({', '.join(f'{m:.3f}' for m in measured)}); own share median "
          f"{statistics.median(own):.3f}; target <= {target:.2f}"
          f"{_common.verdict(median, target)}")


def main():
  args = _parse_args()
  budgets = [float(b) for b in args.budgets.split(",") if b]
  logging.getLogger(budget_lib.__name__).setLevel(logging.ERROR)  # counted below
  info = _common.machine()
  _common.print_machine(info)
  data = train_digits.load_data()
  order = schedule(budgets, args.rounds)
  print(f"Model: the demo's digits CNN, {len(data[0][0])} training digits, "
        f"batch {train_digits.BATCH_SIZE}; callback: the demo's, am_steps="
        f"{args.am_steps}, every epoch; {len(order)} timed fits of "
        f"{args.epochs} epochs in turns ({args.rounds} rounds), after "
        f"{args.warmup_epochs} warm-up epoch(s) without and with each callback")
  model = train_digits.compiled_model()
  fits = []
  with tempfile.TemporaryDirectory(prefix="budget_overhead_") as logdir:
    callbacks = budget_callbacks(data, budgets, args.am_steps, logdir)
    warmup_costs = warm_up(model, data, callbacks, args.warmup_epochs)
    for fraction in order:
      fits.append(run_fit(model, data, fraction, callbacks, args.epochs))
      name = "without" if fraction is None else f"budget {fraction:g}"
      print(f"  fit {len(fits):2d} {name:<12s} {fits[-1]['wall_s']:7.1f} s "
            f"(load {os.getloadavg()[0]:.1f})", flush=True)
  info["load_average_end"] = list(os.getloadavg())
  add_measured(fits)
  budget_fits = {fraction: [f for f in fits if f["budget"] == fraction]
                 for fraction in budgets}
  rounds = [[fits_of[index] for fits_of in budget_fits.values()]
            for index in range(args.rounds)]
  for index, cases in enumerate(rounds):
    print(f"\nRound {index + 1}:")
    print_table(cases)
  print_cold_start(warmup_costs, args.warmup_epochs)
  print_summary(budget_fits)
  _common.print_load_note(info)
  _common.write_json(args.json, {
      "machine": info,
      "work": {"epochs": args.epochs, "warmup_epochs": args.warmup_epochs,
               "am_steps": args.am_steps, "tolerance": TOLERANCE,
               "rounds": args.rounds, "warmup_costs_s": {
                   f"{fraction:g}": costs for fraction, costs in warmup_costs.items()}},
      "fits": fits})


if __name__ == "__main__":
  main()
