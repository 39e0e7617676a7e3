"""Does FeatureVizCallback(budget=f) keep visualization within f of training time?

  .venv/bin/python bench/budget_overhead.py [--epochs 160] [--budgets 0.1,0.25]

Run by `make bench` (never by the tests). Trains the demo's digits CNN
(demo/train_digits.py: its data, model, compilation and fit) for `--epochs`
epochs, once without FeatureVizCallback and once per budget with the demo's
callback (AM of conv2, conv3 and the logits, inversion from four layers, the
facets of two classes, after every epoch) given `budget=f`.

budget.py's measure: the share of wall time, since training began, spent on
visualizations. It is reported twice for each budget:

  own share  the callback's accounting (CostBudget.share at the end of `fit`);
  measured   (with - without) / with, from the wall time of the two `fit`
             calls: what the callback added, training slowed down by it
             included.

Target: measured <= f + 0.02. Also printed: how many intervals ran and how
many were postponed, and the epochs the visualizations ran at.

Each case trains in a fresh process, and the cases alternate over `--rounds`
rounds (without, 0.1, 0.25, without, ...): one after another in one process,
later fits ran slower than earlier ones, whatever they were, and a single
baseline moved by several seconds between runs. Each round's budget cases are
measured against that round's baseline; the summary gives the median over
rounds.

A visualization's first call traces its compiled loops, and the first
interval always runs (its cost is unknown before), so a short training cannot
stay within the budget: it needs at least first cost x (1/f - 1) seconds of
training. Before the timed `fit`, every model therefore trains `--warmup-epochs`
epochs (1) with the same callback (which then traces), so that the timed run
measures the budget's steady state; the printout gives the cold first cost and
the training it would need. `--warmup-epochs 0` times the cold start instead.

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
                      help="timed training epochs (one takes about 0.5 s here)")
  parser.add_argument("--warmup-epochs", type=int, default=1,
                      help="untimed epochs first, with the callback when there "
                      "is one (0: time the cold start)")
  parser.add_argument("--budgets", default="0.1,0.25",
                      help="comma-separated budget fractions")
  parser.add_argument("--am-steps", type=int, default=256,
                      help="steps per activation maximization (the demo's)")
  parser.add_argument("--rounds", type=int, default=2,
                      help="rounds of all the cases, each case in a fresh process")
  parser.add_argument("--case", default=None,
                      help=argparse.SUPPRESS)  # "none" or a fraction: one case
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


def run_case(data, fraction, args, logdir):
  """Warms up, then times `args.epochs` epochs of a fresh demo model.

  Args:
    data: load_data()'s output.
    fraction: the callback's budget, or None to train without the callback.
    args: the parsed options.
    logdir: where the callback writes.

  Returns:
    A dict: wall_s, cpu_s; with a callback also own_share, spent_s, ran
    ([epoch, seconds] of each visualization), postponed (their epochs),
    intervals, and warmup_costs_s (the visualizations of the warm-up).
  """
  model = train_digits.compiled_model()
  callbacks, tally = [], None
  if fraction is not None:
    _, (x_val, y_val) = data
    callback = train_digits.featviz_callback(
        os.path.join(logdir, f"budget_{fraction:g}"), x_val, y_val,
        am_steps=args.am_steps, budget=fraction)
    callback.budget = tally = TallyBudget(fraction)
    callbacks = [callback]
  warmup_costs = []
  if args.warmup_epochs:
    train_digits.train(model, data, args.warmup_epochs, callbacks, verbose=0)
    warmup_costs = [seconds for _, seconds in tally.ran] if tally else []
  wall, cpu = timed_fit(model, data, args.epochs, callbacks)
  case = {"budget": fraction, "wall_s": wall, "cpu_s": cpu}
  if tally is not None:
    case.update(own_share=tally.share, spent_s=tally.spent,
                ran=[[step, seconds] for step, seconds in tally.ran],
                postponed=list(tally.postponed), intervals=args.epochs,
                warmup_costs_s=warmup_costs)
  return case


def add_measured(cases):
  """Adds to each budget case its share measured against the first case's."""
  without = cases[0]
  for case in cases[1:]:
    case["measured_share"] = (case["wall_s"] - without["wall_s"]) / case["wall_s"]
    case["measured_cpu_share"] = (case["cpu_s"] - without["cpu_s"]) / case["cpu_s"]
    case["target_share"] = case["budget"] + TOLERANCE


def print_table(cases):
  header = (f"{'case':<12s} {'wall s':>7s} {'cpu s':>7s} {'viz s':>6s} "
            f"{'ran':>4s} {'postp.':>6s} {'own share':>9s} {'measured':>8s} "
            f"{'(cpu)':>6s} {'target':>7s}")
  _common.print_header(header)
  for case in cases:
    if case["budget"] is None:
      print(f"{'without':<12s} {case['wall_s']:>7.1f} {case['cpu_s']:>7.1f}")
      continue
    verdict = _common.verdict(case["measured_share"], case["target_share"])
    print(f"{'budget ' + format(case['budget'], 'g'):<12s} "
          f"{case['wall_s']:>7.1f} {case['cpu_s']:>7.1f} {case['spent_s']:>6.1f} "
          f"{len(case['ran']):>4d} {len(case['postponed']):>6d} "
          f"{case['own_share']:>9.3f} {case['measured_share']:>8.3f} "
          f"{case['measured_cpu_share']:>6.3f} "
          f"{'<=' + format(case['target_share'], '.2f'):>7s}{verdict}")
  print("-" * len(header))
  print("viz s: seconds the callback charged to visualizations; ran / postp.: "
        "intervals (one per epoch) that ran / were postponed; own share: the "
        "callback's CostBudget.share; measured: (with - without) / with, wall "
        "time ((cpu): the same with process CPU time).")


def print_runs(cases, warmup_epochs):
  """Says when the visualizations ran, and what a cold start costs."""
  for case in cases[1:]:
    ran = ", ".join(f"epoch {step} ({seconds:.1f} s)" for step, seconds in case["ran"])
    print(f"budget {case['budget']:g}: ran at {ran}")
  # The first call of all: in the warm-up, or the first timed one without.
  cold = [(case["warmup_costs_s"] or [s for _, s in case["ran"]])[0]
          for case in cases[1:] if case["warmup_costs_s"] or case["ran"]]
  if cold:
    first = max(cold)
    where = f"in the {warmup_epochs}-epoch warm-up" if warmup_epochs else "timed"
    print(f"Cold start: the first visualization (tracing included, {where}) "
          f"took {first:.1f} s; from a cold start, "
          "a budget can hold only after "
          + ", ".join(f"{first * (1 / case['budget'] - 1):.0f} s (f={case['budget']:g})"
                      for case in cases[1:])
          + " of training.")


def run_one_case(args):
  """The child process: runs the case `args.case` and writes it to `args.json`."""
  logging.getLogger(budget_lib.__name__).setLevel(logging.ERROR)  # counted below
  fraction = None if args.case == "none" else float(args.case)
  data = train_digits.load_data()
  with tempfile.TemporaryDirectory(prefix="budget_overhead_") as logdir:
    case = run_case(data, fraction, args, logdir)
  _common.write_json(args.json, case)


def run_round(args, budgets, workdir, index):
  """Runs every case once, each in a fresh process; returns their dicts."""
  cases = []
  for fraction in [None] + budgets:
    out = os.path.join(workdir, f"{index}_{fraction}.json")
    child = ["--case", "none" if fraction is None else repr(fraction),
             "--epochs", args.epochs, "--warmup-epochs", args.warmup_epochs,
             "--am-steps", args.am_steps, "--json", out]
    cases.append(_common.run_fresh(__file__, child, out, quiet=True))
    name = "without" if fraction is None else f"budget {fraction:g}"
    print(f"  round {index + 1} {name:<12s} {cases[-1]['wall_s']:7.1f} s "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)
  add_measured(cases)
  return cases


def print_summary(rounds):
  """The median over rounds of each budget's measured and own shares."""
  print(f"\nOver {len(rounds)} rounds (each against its own round's baseline):")
  for position, first in enumerate(rounds[0][1:], start=1):
    measured = [r[position]["measured_share"] for r in rounds]
    own = [r[position]["own_share"] for r in rounds]
    target = first["target_share"]
    median = statistics.median(measured)
    print(f"  budget {first['budget']:g}: measured median {median:.3f} "
          f"({', '.join(f'{m:.3f}' for m in measured)}); own share median "
          f"{statistics.median(own):.3f}; target <= {target:.2f}"
          f"{_common.verdict(median, target)}")


def main():
  args = _parse_args()
  if args.case is not None:
    run_one_case(args)
    return
  budgets = [float(b) for b in args.budgets.split(",") if b]
  info = _common.machine()
  _common.print_machine(info)
  data = train_digits.load_data()
  print(f"Model: the demo's digits CNN, {len(data[0][0])} training digits, "
        f"batch {train_digits.BATCH_SIZE}; {args.warmup_epochs} warm-up + "
        f"{args.epochs} timed epochs; callback: the demo's, am_steps="
        f"{args.am_steps}, every epoch; {args.rounds} rounds, each case in a "
        "fresh process")
  rounds = []
  with tempfile.TemporaryDirectory(prefix="budget_overhead_") as workdir:
    for index in range(args.rounds):
      rounds.append(run_round(args, budgets, workdir, index))
  info["load_average_end"] = list(os.getloadavg())
  for index, cases in enumerate(rounds):
    print(f"\nRound {index + 1}:")
    print_table(cases)
    print_runs(cases, args.warmup_epochs)
  print_summary(rounds)
  _common.print_load_note(info)
  _common.write_json(args.json, {
      "machine": info,
      "work": {"epochs": args.epochs, "warmup_epochs": args.warmup_epochs,
               "am_steps": args.am_steps, "tolerance": TOLERANCE,
               "rounds": args.rounds},
      "rounds": rounds})


if __name__ == "__main__":
  main()
