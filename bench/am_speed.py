"""How fast is activation maximization, next to a bare loop and to tf-keras-vis?

Run by `make bench` (never by the tests). One run prints, side by side, the
median of several timed repetitions of:

  floor        a bare compiled loop: one tf.function around a tf.while_loop,
               forward + backward + Adam on the pixels of 64 images, nothing
               else (no parameterization, transforms or regularizers);
  plain        tb_featviz.activation_maximization(..., preset="plain");
  default      tb_featviz.activation_maximization(...) with its defaults
               (Fourier parameterization, jitter/scale/rotation);
  ... (XLA)    the same three with jit_compile=True;
  tf-keras-vis its ActivationMaximization on the same work, when importable.

The work is the same everywhere: the demo-sized digits CNN of tests/digits.py
(trained for a few epochs first, not timed), cut at "conv3"; 64 units, one
image per unit, all 64 in one batch; objective = the unit's channel mean;
256 steps. Every case is called once first (that call pays tracing and
compilation, and is reported apart), then the cases are timed in turn, round
after round, so that a burst of load on a shared machine hits all of them
alike. Wall time is the headline; process CPU time is printed beside it
because it moves less when other processes compete for the cores.

A compiled loop's speed also depends on the process it runs in. An inlined
loop body lands in one of two modes, about 35% apart, per tracing:
ONEDNN_VERBOSE=1 shows that in the slow one TensorFlow's oneDNN graph rewrite
has left the max-pool gradient to the plain Eigen kernel. The engine's loop
and the floor both call their step as a separate, non-inlined function, which
the rewrite always handles (see Renderer.__init__). Processes on a shared VM
still differ by 10-20%, so by default the whole comparison runs in five
fresh processes (`--processes`), and the summary compares each case's best
process with the floor's best process (both minima of per-process medians),
and also gives the median over processes of the per-process ratios. The
slow cases (XLA, tf-keras-vis) run in the first process only.

Results also go to bench/_results/am_speed.json (git-ignored).
"""

import argparse
import inspect
import math
import os
import statistics
import sys
import tempfile
import time

import _common  # first: puts the repository on sys.path

# `make bench` installs tf-keras-vis here rather than into the venv: its wheel
# ships a top-level `tests` package that would shadow this repository's
# `tests` in the venv. Appended, so the repository always comes first.
TFKV_SITE = os.path.join(_common.RESULTS_DIR, "site")
if os.path.isdir(TFKV_SITE):
  sys.path.append(TFKV_SITE)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

import tb_featviz  # noqa: E402
from tb_featviz.optvis import regularizers as reg_lib  # noqa: E402
from tb_featviz.optvis import transforms as transforms_lib  # noqa: E402
from tests import digits as digits_lib  # noqa: E402

LAYER = "conv3"
TARGETS = {"plain": 1.15, "default": 1.3}  # at most this times the floor
TFKV_TARGET = 8.0  # ours at least this many times faster than tf-keras-vis


def _parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--reps", type=int, default=5,
                      help="timed repetitions of each compiled case")
  parser.add_argument("--slow-reps", type=int, default=3,
                      help="timed repetitions of the slow cases (XLA on CPU, "
                      "tf-keras-vis)")
  parser.add_argument("--steps", type=int, default=256)
  parser.add_argument("--units", type=int, default=64)
  parser.add_argument("--epochs", type=int, default=10,
                      help="training epochs of the digits CNN (not timed)")
  parser.add_argument("--learning-rate", type=float, default=0.05)
  parser.add_argument("--no-xla", action="store_true", help="skip the XLA cases")
  parser.add_argument("--no-tfkv", action="store_true", help="skip tf-keras-vis")
  parser.add_argument("--breakdown", action="store_true",
                      help="also time the default call piece by piece")
  parser.add_argument("--processes", type=int, default=5,
                      help="fresh processes that each run the whole "
                      "comparison (1: just this one)")
  parser.add_argument("--json",
                      default=os.path.join(_common.RESULTS_DIR, "am_speed.json"))
  return parser.parse_args()


def channel_means(model, images, units):
  """Each image's own unit, channel mean of conv3 (what every case maximizes)."""
  features = tb_featviz_extractor(model)(tf.convert_to_tensor(images))
  means = tf.reduce_mean(features, axis=[1, 2]).numpy()
  return means[np.arange(len(units)), units]


def tb_featviz_extractor(model):
  from tb_featviz.optvis import recipe  # the cached, truncated model
  return recipe.extractor(model, LAYER)


# ----------------------------------------------------------------------------
# tf-keras-vis


def _describe(objects):
  """Describes objects as "Jitter(jitter=4), Rotate2D(degree=1.0)"."""
  shown = ("jitter", "degree", "low", "high", "weight", "p")
  return ", ".join(
      type(o).__name__ + "(" + ", ".join(
          f"{k}={v}" for k, v in vars(o).items() if k in shown) + ")"
      for o in objects)


def tfkv_case(model, n, steps):
  """tf-keras-vis's ActivationMaximization on the same work, or (None, why).

  Its documented recipe for a convolutional filter: cut the model at the
  layer with ExtractIntermediateLayer, CategoricalScore over the unit ids, one
  seed image per unit in a single batch; its own defaults otherwise.
  """
  try:
    import tf_keras_vis
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer
    from tf_keras_vis.utils.scores import CategoricalScore
  except Exception as error:  # ImportError, or anything its imports raise
    return None, (f"not importable ({type(error).__name__}: {error}); "
                  "`make bench` installs it")
  try:
    visualizer = ActivationMaximization(
        model, model_modifier=[ExtractIntermediateLayer(LAYER)], clone=True)
    how = "ExtractIntermediateLayer('conv3'), clone=True"
  except Exception as error:
    print(f"  tf-keras-vis: cloning failed ({type(error).__name__}: {error}); "
          "passing keras.Model(inputs, conv3.output) instead")
    visualizer = ActivationMaximization(
        keras.Model(model.inputs, model.get_layer(LAYER).output))
    how = "keras.Model(inputs, conv3.output)"
  score = CategoricalScore(list(range(n)))
  seeds = tf.random.uniform((n, *model.inputs[0].shape[1:]), 0.0, 1.0, seed=0)

  def run(run_steps=steps):
    out = visualizer(score, seed_input=seeds, input_range=(0.0, 1.0),
                     steps=run_steps)
    return np.asarray(out)

  defaults = inspect.signature(ActivationMaximization.__call__).parameters
  info = {
      "version": getattr(tf_keras_vis, "__version__", "?"),
      "model": how,
      "input_modifiers": _describe(defaults["input_modifiers"].default),
      "regularizers": _describe(defaults["regularizers"].default),
      "optimizer": "RMSprop(learning_rate=1.0, rho=0.999) (its default)",
      "loop": "eager Python; rotation in SciPy on the host every step",
  }
  # Errors with Keras 3 show up on the first call, not on import: try a short one.
  try:
    run(2)
  except Exception as error:
    return None, f"fails with Keras {keras.__version__}: {type(error).__name__}: {error}"
  return (run, info), None


def xplique_status():
  try:
    import xplique
  except ImportError:
    return ("not installable with TensorFlow " + tf.__version__.rsplit(".", 1)[0]
            + " (xplique pins tensorflow <= 2.20); not measured")
  return (f"xplique {getattr(xplique, '__version__', '?')} is importable, but "
          "this benchmark does not drive it yet")


# ----------------------------------------------------------------------------
# Timing


class Case:
  """One thing to time: a callable that returns numpy images when done."""

  def __init__(self, name, fn, reps, group, target=None):
    self.name, self.fn, self.reps, self.group = name, fn, reps, group
    self.target = target
    self.first = None
    self.wall, self.cpu = [], []
    self.result = None
    self.error = None

  def call(self):
    wall, cpu = time.perf_counter(), time.process_time()
    self.result = self.fn()
    return time.perf_counter() - wall, time.process_time() - cpu

  @property
  def median_wall(self):
    return statistics.median(self.wall) if self.wall else math.nan

  @property
  def median_cpu(self):
    return statistics.median(self.cpu) if self.cpu else math.nan


def run_cases(cases):
  """First calls, then round-robin timed calls; returns the cases that ran."""
  for case in cases:
    try:
      case.first = case.call()
    except Exception as error:  # e.g. an op XLA cannot compile on this device
      case.error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
      print(f"  first call  {case.name:<28s} FAILED ({case.error})", flush=True)
      continue
    print(f"  first call  {case.name:<28s} {case.first[0]:7.2f} s "
          "(includes tracing/compiling)", flush=True)
  cases = [case for case in cases if case.error is None]
  rounds = max(case.reps for case in cases)
  for index in range(rounds):
    for case in cases:
      if index < case.reps:
        wall, cpu = case.call()
        case.wall.append(wall)
        case.cpu.append(cpu)
    print(f"  round {index + 1}/{rounds} done (load {os.getloadavg()[0]:.1f})",
          flush=True)
  return cases


# ----------------------------------------------------------------------------


def run_processes(args):
  """Runs the comparison in `args.processes` fresh processes; prints medians.

  Returns:
    The rows of every process, as written to their JSON files.
  """
  runs = []
  with tempfile.TemporaryDirectory() as workdir:
    for index in range(args.processes):
      print(f"=== process {index + 1}/{args.processes}", flush=True)
      out = os.path.join(workdir, f"{index}.json")
      child = ["--reps", args.reps, "--slow-reps", args.slow_reps,
               "--steps", args.steps, "--units", args.units,
               "--epochs", args.epochs, "--learning-rate", args.learning_rate,
               "--processes", 1, "--json", out]
      child += [flag for flag, on in (
          ("--breakdown", args.breakdown),
          ("--no-xla", args.no_xla or index > 0),
          ("--no-tfkv", args.no_tfkv or index > 0)) if on]
      runs.append(_common.run_fresh(__file__, child, out))
  print(f"\n=== over {len(runs)} processes: each case's best process against "
        "the floor's best process, and the median of per-process ratios")
  header = (f"{'case':<26s} {'procs':>5s} {'best s':>7s} {'best x floor':>12s} "
            f"{'median ratio':>12s} {'each process (x its floor)':>30s}  target")
  _common.print_header(header)
  summary = []
  floor_best = min(r["median_wall_s"] for run in runs for r in run["rows"]
                   if r["case"] == "floor")
  for row in runs[0]["rows"]:
    same = [r for run in runs for r in run["rows"]
            if r["case"] == row["case"] and "ratio_to_floor" in r]
    if not same or row["group"] not in ("graph", "breakdown"):
      continue
    best = min(r["median_wall_s"] for r in same)
    ratios = [r["ratio_to_floor"] for r in same]
    ratio = statistics.median(ratios)
    target = row.get("target_ratio")
    each = " ".join(f"{r:.2f}" for r in ratios)
    print(f"{row['case']:<26s} {len(same):>5d} {best:>7.3f} "
          f"{best / floor_best:>11.2f}x {ratio:>11.2f}x {each:>30s}  "
          f"{f'<={target:g}x' if target else ''}"
          f"{_common.verdict(best / floor_best, target)}")
    summary.append({"case": row["case"], "best_wall_s": best,
                    "best_ratio_to_best_floor": best / floor_best,
                    "ratios": ratios, "median_ratio": ratio,
                    "times": [r["median_wall_s"] for r in same],
                    "target_ratio": target})
  print("-" * len(header))
  speedups = [run["summary"]["tfkv_speedup_vs_default"] for run in runs
              if "tfkv_speedup_vs_default" in run["summary"]]
  if speedups:
    print(f"tf-keras-vis against ours (default), process 1: {speedups[0]:.2f}x "
          f"slower (target >= {TFKV_TARGET:g}x: "
          f"{'ok' if speedups[0] >= TFKV_TARGET else 'BELOW target'})")
  _common.write_json(args.json, {"processes": runs, "summary": summary})


def main():
  args = _parse_args()
  if args.processes > 1:
    run_processes(args)
    return
  tf.get_logger().setLevel("ERROR")  # retracing notes: each case traces once
  info = _common.machine()
  _common.print_machine(info)

  started = time.perf_counter()
  images, labels = digits_lib.digits()
  model = digits_lib.trained_cnn(images, labels, epochs=args.epochs)
  accuracy = float(np.mean(np.argmax(model.predict(images, verbose=0), 1) == labels))
  print(f"Model: digits CNN {model.inputs[0].shape[1:]}, trained {args.epochs} "
        f"epochs in {time.perf_counter() - started:.1f} s (training accuracy "
        f"{accuracy:.2f}); work: {args.units} units of {LAYER!r}, one image each, "
        f"one batch, {args.steps} steps")

  n, steps, lr = args.units, args.steps, args.learning_rate
  units = tf.range(n, dtype=tf.int32)
  start = _common.starting_images(n, model.inputs[0].shape[1:])
  truncated = keras.Model(model.inputs, model.get_layer(LAYER).output)

  def floor_fn(jit):
    loop = _common.make_floor(_common.channel_objective(truncated), lr, jit)
    return lambda: loop(start, units, steps)[0].numpy()

  def ours(jit=False, **options):
    def run():
      return tb_featviz.activation_maximization(
          model, LAYER, units=n, steps=steps, learning_rate=lr,
          jit_compile=jit, **options).images
    return run

  cases = [
      Case("floor", floor_fn(False), args.reps, "graph"),
      Case("plain", ours(preset="plain"), args.reps, "graph", TARGETS["plain"]),
      Case("default", ours(), args.reps, "graph", TARGETS["default"]),
  ]
  if args.breakdown:
    # The default pieces, given explicitly: with preset="plain", "default"
    # would mean none.
    tv = [reg_lib.TotalVariation(0.5)]
    jitter_scale_rotate = transforms_lib.default_transforms(*start.shape[1:3])
    cases += [
        Case("  fourier only", ours(param="fourier", transforms=None,
                                    regularizers=None), args.reps, "breakdown"),
        Case("  pixel + transforms", ours(preset="plain",
                                          transforms=jitter_scale_rotate),
             args.reps, "breakdown"),
        Case("  pixel + TV", ours(preset="plain", regularizers=tv), args.reps,
             "breakdown"),
        Case("  default, no TV", ours(regularizers=None), args.reps, "breakdown"),
        Case("  default, no transforms", ours(transforms=None), args.reps,
             "breakdown"),
    ]
  if not args.no_xla:
    cases += [
        Case("floor (XLA)", floor_fn(True), args.slow_reps, "xla"),
        Case("plain (XLA)", ours(True, preset="plain"), args.slow_reps, "xla",
             TARGETS["plain"]),
        Case("default (XLA)", ours(True), args.slow_reps, "xla",
             TARGETS["default"]),
    ]
  tfkv_info, tfkv_why = None, None
  if args.no_tfkv:
    tfkv_why = "skipped (--no-tfkv)"
  else:
    made, tfkv_why = tfkv_case(model, n, steps)
    if made:
      run, tfkv_info = made
      cases.append(Case("tf-keras-vis", run, args.slow_reps, "tfkv"))
  xplique = xplique_status()

  print("Timing (first calls, then round-robin repetitions):")
  all_cases = cases
  cases = run_cases(all_cases)
  failed = [case for case in all_cases if case.error is not None]
  info["load_average_end"] = list(os.getloadavg())

  by_name = {case.name: case for case in cases}
  floors = {"graph": by_name["floor"], "breakdown": by_name["floor"],
            "tfkv": by_name["floor"]}
  if "floor (XLA)" in by_name:
    floors["xla"] = by_name["floor (XLA)"]

  # Same work? The final objective of every case, and plain against the floor.
  values = {case.name: float(np.mean(channel_means(model, case.result,
                                                   np.arange(n))))
            for case in cases}
  plain_gap = float(np.max(np.abs(by_name["plain"].result - by_name["floor"].result)))

  rows = []
  header = (f"{'case':<26s} {'reps':>4s} {'median s':>9s} {'x floor':>8s} "
            f"{'cpu s':>7s} {'x floor':>8s} {'target':>7s}  {'mean act':>8s}")
  _common.print_header(header)
  for case in cases:
    floor = floors.get(case.group)
    ratio = case.median_wall / floor.median_wall if floor else math.nan
    cpu_ratio = case.median_cpu / floor.median_cpu if floor else math.nan
    target = f"<={case.target:g}x" if case.target else ""
    verdict = _common.verdict(ratio, case.target)
    print(f"{case.name:<26s} {len(case.wall):>4d} {case.median_wall:>9.3f} "
          f"{ratio:>7.2f}x {case.median_cpu:>7.2f} {cpu_ratio:>7.2f}x "
          f"{target:>7s}{verdict:<6s} {values[case.name]:>8.3f}")
    rows.append({
        "case": case.name.strip(), "group": case.group, "reps": len(case.wall),
        "wall_s": case.wall, "cpu_s": case.cpu, "first_call_s": case.first[0],
        "median_wall_s": case.median_wall, "median_cpu_s": case.median_cpu,
        "floor": floor.name if floor else None, "ratio_to_floor": ratio,
        "cpu_ratio_to_floor": cpu_ratio, "target_ratio": case.target,
        "mean_final_activation": values[case.name],
    })
  for case in failed:
    print(f"{case.name:<26s} failed: {case.error}")
    rows.append({"case": case.name.strip(), "group": case.group,
                 "error": case.error})
  print("-" * len(header))
  print("x floor: median over the floor's median (XLA rows: over the XLA floor); "
        "mean act: mean final channel mean of conv3 over the 64 images.")
  print(f"plain vs floor: max |image difference| = {plain_gap:.2e} (0 when "
        "plain runs exactly the floor's update and gradient)")

  summary = {}
  if all(f"{name} (XLA)" in by_name for name in ("floor", "plain", "default")):
    xla_gain = {}
    for name in ("floor", "plain", "default"):
      graph, xla = by_name[name], by_name[f"{name} (XLA)"]
      xla_gain[name] = graph.median_wall / xla.median_wall
    winner = "XLA" if xla_gain["default"] > 1 else "graph (no XLA)"
    detail = ", ".join(
        f"{name} {max(g, 1 / g):.1f}x {'faster' if g > 1 else 'slower'} with XLA"
        for name, g in xla_gain.items())
    print(f"XLA on this CPU: {winner} wins ({detail}).")
    summary["xla_speedup"] = xla_gain
    summary["xla_winner"] = winner
  if "tf-keras-vis" in by_name:
    tfkv = by_name["tf-keras-vis"]
    speedup = tfkv.median_wall / by_name["default"].median_wall
    verdict = "ok" if speedup >= TFKV_TARGET else "BELOW target"
    print(f"tf-keras-vis {tfkv_info['version']}: ours (default) is "
          f"{speedup:.2f}x faster (target >= {TFKV_TARGET:g}x: {verdict}); "
          f"plain is {tfkv.median_wall / by_name['plain'].median_wall:.1f}x faster.")
    print(f"  its model: {tfkv_info['model']}; transforms it applied (its "
          f"defaults): {tfkv_info['input_modifiers']}; regularizers: "
          f"{tfkv_info['regularizers']}; {tfkv_info['optimizer']}; "
          f"{tfkv_info['loop']}.")
    summary["tfkv_speedup_vs_default"] = speedup
    summary["tfkv"] = tfkv_info
  else:
    print(f"tf-keras-vis: {tfkv_why}")
    summary["tfkv"] = tfkv_why
  print(f"xplique: {xplique}")
  summary["xplique"] = xplique
  _common.print_load_note(info)

  _common.write_json(args.json, {
      "machine": info,
      "work": {"layer": LAYER, "units": n, "steps": steps, "batch": n,
               "objective": "channel mean", "learning_rate": lr,
               "training_epochs": args.epochs},
      "rows": rows, "summary": summary,
      "plain_vs_floor_max_image_diff": plain_gap})


if __name__ == "__main__":
  main()
