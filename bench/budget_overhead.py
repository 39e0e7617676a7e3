"""Does FeatureVizCallback(budget=f) keep visualization within f of training time?

  .venv/bin/python bench/budget_overhead.py [--fits short,long] [--budgets 0.1,0.25]
      [--processes 3] [--epochs 160] [--short-epochs 6]

Run by `make bench` (never by the tests). Trains the demo's digits CNN
(demo/train_digits.py: its data, model, compilation and fit) without
FeatureVizCallback and with it given `budget=f`, for two lengths of training:

  short  `--short-epochs` (6) epochs, about 10 s of training, with
         am={"conv2": 32, "conv3": 64, "logits": "all"} after every epoch, from
         a cold start: every fit, with the callback or without, is the only
         fit of a fresh process (nothing traced before). This is the case a
         budget that always ran the first visualization overran several times.
  long   `--epochs` (160) epochs with the demo's callback (AM of conv2, conv3
         and the logits, inversion from four layers, the facets of two classes,
         after every epoch), in its steady state: in each fresh process the
         model and every callback first train `--warmup-epochs` (2) untimed
         epochs with no cap, which trace the compiled loops and measure what a
         visualization costs, then the timed fits run in one process in turns
         (without, 0.1, without, 0.25, without; the budgets swap order in the
         next process).

budget.py's measure: the share of wall time, since training began, spent on
visualizations. It is reported twice for each budget:

  own share  the callback's accounting (CostBudget.share at the end of `fit`);
  measured   (with - without) / with, from the wall time of the `fit` with
             the callback and of the fits without it just before and just
             after (their mean): what the callback added, training slowed
             down by it included.

Target: the median of the measured shares over the fresh processes <= f + 0.02.
Also printed: how many intervals ran and how many were postponed, and the
callback's end-of-training warning (short fit).

Why in turns: on this shared machine the same fit takes +-4% from one minute
to the next and as much again between fresh processes, so every fit with a
callback is compared with the fits without it just before and after. The short
fits are fresh processes in turns (without, 0.1, without, 0.25, without, ...),
so their "before" and "after" are processes too.

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
import tb_featviz  # noqa: E402
from tb_featviz import budget as budget_lib  # noqa: E402

TOLERANCE = 0.02  # the measured share may exceed the budget by this much
SHORT_AM = {"conv2": 32, "conv3": 64, "logits": "all"}


def _parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--fits", default="short,long",
                      help="comma-separated: short, long")
  parser.add_argument("--budgets", default="0.1,0.25",
                      help="comma-separated budget fractions")
  parser.add_argument("--processes", type=int, default=3,
                      help="fresh processes: long fit, one round each; short "
                      "fit, one fit with each budget each")
  parser.add_argument("--epochs", type=int, default=160,
                      help="epochs of each timed long fit")
  parser.add_argument("--warmup-epochs", type=int, default=2,
                      help="long fit: untimed epochs first, once without a "
                      "callback and once with each (no cap)")
  parser.add_argument("--short-epochs", type=int, default=6,
                      help="epochs of each short fit")
  parser.add_argument("--am-steps", type=int, default=256,
                      help="steps per activation maximization (the demo's)")
  parser.add_argument("--json",
                      default=os.path.join(_common.RESULTS_DIR, "budget_overhead.json"))
  parser.add_argument("--child", choices=("short", "long"), help=argparse.SUPPRESS)
  parser.add_argument("--budget", help=argparse.SUPPRESS)  # short child: "none" or f
  parser.add_argument("--order", help=argparse.SUPPRESS)  # long child: budgets
  return parser.parse_args()


class _Warnings(logging.Handler):
  """Keeps the budget's warnings."""

  def __init__(self):
    super().__init__(logging.WARNING)
    self.texts = []

  def emit(self, record):
    self.texts.append(record.getMessage())


def timed_fit(model, data, epochs, callbacks):
  """Trains `model` for `epochs`; returns (wall seconds, process CPU seconds)."""
  wall, cpu = time.perf_counter(), time.process_time()
  train_digits.train(model, data, epochs, callbacks, verbose=0)
  return time.perf_counter() - wall, time.process_time() - cpu


def tally(callback):
  """What the callback's budget says about the fit it just ran."""
  budget = callback.budget
  return {"own_share": budget.share, "spent_s": budget.spent,
          "ran": [[step, seconds] for step, seconds in budget.ran],
          "postponed": list(budget.postponed)}


# ----------------------------------------------------------------------------
# The children: one fresh process each


def short_child(args):
  """One cold 6-epoch fit, with the callback (budget args.budget) or without."""
  fraction = None if args.budget == "none" else float(args.budget)
  data = train_digits.load_data()
  model = train_digits.compiled_model()
  warnings = _Warnings()
  logging.getLogger(budget_lib.__name__).addHandler(warnings)
  with tempfile.TemporaryDirectory(prefix="budget_short_") as logdir:
    callbacks = [] if fraction is None else [tb_featviz.FeatureVizCallback(
        logdir, am=SHORT_AM, am_options={"steps": args.am_steps},
        every_n_epochs=1, budget=fraction)]
    wall, cpu = timed_fit(model, data, args.short_epochs, callbacks)
  case = {"budget": fraction, "wall_s": wall, "cpu_s": cpu,
          "load": os.getloadavg()[0]}
  if callbacks:
    case.update(tally(callbacks[0]), warnings=warnings.texts)
  _common.write_json(args.json, case)


def long_child(args):
  """Warm-up, then timed long fits in turns: without, f1, without, f2, without."""
  budgets = [float(b) for b in args.order.split(",")]
  data = train_digits.load_data()
  _, (x_val, y_val) = data
  model = train_digits.compiled_model()
  fits = []
  with tempfile.TemporaryDirectory(prefix="budget_long_") as logdir:
    callbacks = {}
    for fraction in budgets:
      callbacks[fraction] = train_digits.featviz_callback(
          os.path.join(logdir, f"budget_{fraction:g}"), x_val, y_val,
          am_steps=args.am_steps, budget=fraction)
    train_digits.train(model, data, args.warmup_epochs, [], verbose=0)
    warmup = {}
    for fraction, callback in callbacks.items():
      callback.budget.fraction = None  # no cap: trace and measure every loop
      train_digits.train(model, data, args.warmup_epochs, [callback], verbose=0)
      callback.budget.fraction = fraction
      warmup[fraction] = [seconds for _, seconds in callback.budget.ran]
    for fraction in [None] + [f for b in budgets for f in (b, None)]:
      callback = callbacks.get(fraction)
      wall, cpu = timed_fit(model, data, args.epochs, [callback] if callback else [])
      case = {"budget": fraction, "wall_s": wall, "cpu_s": cpu,
              "load": os.getloadavg()[0]}
      if callback is not None:
        case.update(tally(callback))
      fits.append(case)
      print(f"  fit {len(fits)} {'without' if fraction is None else f'budget {fraction:g}'}"
            f" {wall:.1f} s (load {case['load']:.1f})", flush=True)
  _common.write_json(args.json, {"warmup_s": {f"{f:g}": s for f, s in warmup.items()},
                                 "fits": fits})


# ----------------------------------------------------------------------------
# The driver


def add_measured(fits):
  """Adds to each fit with a budget its share against the fits around it."""
  for before, case, after in zip(fits, fits[1:], fits[2:]):
    if case["budget"] is None:
      continue
    case["without_s"] = (before["wall_s"] + after["wall_s"]) / 2
    case["without_cpu_s"] = (before["cpu_s"] + after["cpu_s"]) / 2
    case["measured_share"] = (case["wall_s"] - case["without_s"]) / case["wall_s"]
    case["measured_cpu_share"] = (case["cpu_s"] - case["without_cpu_s"]) / case["cpu_s"]


def turns(budgets, count):
  """The budget of each fit, None for one without: every budget between two.

  Returns:
    A list of lists: the order of each of `count` groups (a process of the
    long fit, or a run of short processes), budgets swapping order each time.
  """
  return [budgets if index % 2 == 0 else budgets[::-1] for index in range(count)]


def run_short(args, budgets):
  """The short fit: fresh processes in turns; returns every fit's dict."""
  order = [None]
  for group in turns(budgets, args.processes):
    for fraction in group:
      order += [fraction, None]
  fits = []
  with tempfile.TemporaryDirectory(prefix="budget_short_json_") as folder:
    for index, fraction in enumerate(order):
      out = os.path.join(folder, f"{index}.json")
      case = _common.run_fresh(
          __file__, ["--child", "short", "--budget",
                     "none" if fraction is None else fraction,
                     "--short-epochs", args.short_epochs,
                     "--am-steps", args.am_steps, "--json", out], out, quiet=True)
      fits.append(case)
      print(f"  process {index + 1:2d} "
            f"{'without' if fraction is None else f'budget {fraction:g}':<12s}"
            f" {case['wall_s']:6.2f} s"
            + ("" if fraction is None else
               f" ran {len(case['ran'])} postponed {len(case['postponed'])}")
            + f" (load {case['load']:.1f})", flush=True)
  add_measured(fits)
  return fits


def run_long(args, budgets):
  """The long fit: fresh processes, each warm-up + one round; every fit's dict."""
  fits, warmups = [], []
  with tempfile.TemporaryDirectory(prefix="budget_long_json_") as folder:
    for index, group in enumerate(turns(budgets, args.processes)):
      out = os.path.join(folder, f"{index}.json")
      print(f" process {index + 1}:", flush=True)
      result = _common.run_fresh(
          __file__, ["--child", "long", "--order", ",".join(map(str, group)),
                     "--epochs", args.epochs, "--warmup-epochs", args.warmup_epochs,
                     "--am-steps", args.am_steps, "--json", out], out)
      add_measured(result["fits"])
      for case in result["fits"]:
        case["process"] = index + 1
      fits += result["fits"]
      warmups.append(result["warmup_s"])
  return fits, warmups


def print_fits(title, fits, budgets, show_ran=False):
  """A table of the fits with a budget, then each budget's median."""
  header = (f"{'process':>7s} {'budget':>6s} {'wall s':>7s} {'without':>7s} "
            f"{'viz s':>6s} {'ran':>4s} {'postp.':>6s} {'own share':>9s} "
            f"{'measured':>8s} {'(cpu)':>6s}")
  print(f"\n{title}")
  _common.print_header(header)
  for index, case in enumerate(fits):
    if case["budget"] is None:
      continue
    print(f"{case.get('process', index + 1):>7} {case['budget']:>6g} "
          f"{case['wall_s']:>7.2f} {case['without_s']:>7.2f} {case['spent_s']:>6.2f} "
          f"{len(case['ran']):>4d} {len(case['postponed']):>6d} "
          f"{case['own_share']:>9.3f} {case['measured_share']:>8.3f} "
          f"{case['measured_cpu_share']:>6.3f}")
    if show_ran and case["ran"]:
      print("        ran at " + ", ".join(f"epoch {step} ({seconds:.1f} s)"
                                         for step, seconds in case["ran"]))
  print("-" * len(header))
  summary = {}
  for fraction in budgets:
    cases = [case for case in fits if case["budget"] == fraction]
    measured = [case["measured_share"] for case in cases]
    median = statistics.median(measured)
    target = fraction + TOLERANCE
    summary[f"{fraction:g}"] = {"measured": measured, "median": median,
                                "ran": [len(c["ran"]) for c in cases],
                                "postponed": [len(c["postponed"]) for c in cases]}
    print(f"  budget {fraction:g}: measured median {median:.3f} "
          f"({', '.join(f'{m:.3f}' for m in measured)}); own share median "
          f"{statistics.median(c['own_share'] for c in cases):.3f}; ran "
          f"{'/'.join(str(len(c['ran'])) for c in cases)}, postponed "
          f"{'/'.join(str(len(c['postponed'])) for c in cases)}; target <= "
          f"{target:.2f}{_common.verdict(median, target)}")
  return summary


def main():
  args = _parse_args()
  if args.child == "short":
    return short_child(args)
  if args.child == "long":
    return long_child(args)
  budgets = [float(b) for b in args.budgets.split(",") if b]
  chosen = [fit for fit in args.fits.split(",") if fit]
  info = _common.machine()
  _common.print_machine(info)
  results = {"machine": info, "work": vars(args)}
  if "short" in chosen:
    print(f"\nShort fit: {args.short_epochs} epochs of the demo's digits CNN "
          f"(batch {train_digits.BATCH_SIZE}) from a cold start, am={SHORT_AM} "
          f"({args.am_steps} steps) every epoch; each fit a fresh process, in turns:")
    fits = run_short(args, budgets)
    results["short"] = {"fits": fits,
                        "summary": print_fits("Short fit (each row a fresh process; "
                                              "without: the processes just before "
                                              "and after)", fits, budgets)}
    last = next((case for case in reversed(fits) if case.get("warnings")), None)
    if last is not None:
      print(f"  its warning (process {fits.index(last) + 1}): {last['warnings'][0]}")
  if "long" in chosen:
    print(f"\nLong fit: {args.epochs} epochs with the demo's callback, am_steps="
          f"{args.am_steps}, every epoch; {args.processes} fresh processes, each "
          f"{args.warmup_epochs} warm-up epochs without a cap, then without, "
          "f1, without, f2, without:")
    fits, warmups = run_long(args, budgets)
    results["long"] = {"fits": fits, "warmup_s": warmups,
                       "summary": print_fits("Long fit (steady state)", fits,
                                             budgets, show_ran=True)}
  info["load_average_end"] = list(os.getloadavg())
  _common.print_load_note(info)
  _common.write_json(args.json, results)
  return 0


if __name__ == "__main__":
  sys.exit(main())
