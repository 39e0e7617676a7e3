"""Activation maximization of a large model (ResNet50), chunked, next to a bare loop.

  .venv/bin/python bench/large_model.py [--steps 16] [--batch-size 16] [--rounds 3]

Run by `make bench` (never by the tests). The work: 64 channels of
"conv3_block4_out" of keras.applications.ResNet50(weights=None,
input_shape=(224, 224, 3)) (random weights, seeded: nothing is downloaded),
one image per channel, optimized `--batch-size` images at a time for `--steps`
steps per chunk. The cases:

  floor    the bare compiled loop of _common.make_floor (forward, backward,
           the engine's Adam on the pixels, clip) over the same truncated
           model, the same chunks and steps;
  plain    activation_maximization(model, LAYER, units=64, steps=S,
           batch_size=B, preset="plain");
  default  the same call with its defaults (Fourier parameterization,
           jitter/scale/rotation, total variation).

Every case runs in a process of its own, so that its peak resident memory
(VmHWM, read from /proc/self/status at its end) is its own. Such a process
builds the model, makes one untimed call of one step on one chunk (which pays
for tracing), then times the whole work once. The cases take turns, round
after round (floor, plain, default, floor, ...), so that a burst of load on
the shared machine falls on all of them alike; the table gives medians.

Results also go to bench/_results/large_model.json (git-ignored).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import _common  # first: puts the repository on sys.path

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

import tb_featviz  # noqa: E402

# The output of the last block of stage 3 (28x28x512): a block output, as
# lucid's "mixed" layers are, deep enough that the truncated model holds
# stages 1-3 (24 convolutions, 1.74 of ResNet50's 3.86 G multiply-adds per
# image: 45%) and cheap enough to run on 2 CPUs (stage 4's output would be
# 81%, 1.8x as much per step); and a ReLU (an Activation layer), so that AM
# takes its redirected-ReLU path.
LAYER = "conv3_block4_out"
INPUT_SHAPE = (224, 224, 3)
CASES = ("floor", "plain", "default")
TARGET = 1.2  # at most this times the floor, for plain and for default
_RESULT = "result.json"


def _parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=int, default=16,
                      help="steps per chunk (the library's default is 256; "
                      "one step of 16 images takes about 0.6 s here)")
  parser.add_argument("--batch-size", type=int, default=16,
                      help="images optimized at once (batch_size=)")
  parser.add_argument("--units", type=int, default=64)
  parser.add_argument("--rounds", type=int, default=3,
                      help="timed runs of each case, one process each")
  parser.add_argument("--learning-rate", type=float, default=0.05)
  parser.add_argument("--cases", default=",".join(CASES),
                      help="comma-separated subset of " + ", ".join(CASES))
  parser.add_argument("--json",
                      default=os.path.join(_common.RESULTS_DIR, "large_model.json"))
  parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
  parser.add_argument("--out", help=argparse.SUPPRESS)
  return parser.parse_args()


# ----------------------------------------------------------------------------
# One case, in its own process


def build_model():
  """ResNet50 with seeded random weights: the same in every process."""
  keras.utils.set_random_seed(0)
  return keras.applications.ResNet50(weights=None, input_shape=INPUT_SHAPE)


def case_function(name, model, args):
  """The work of case `name` as a function of (units, steps).

  Args:
    name: "floor", "plain" or "default".
    model: the ResNet50.
    args: the parsed options (batch size, learning rate).

  Returns:
    A function (n_units, steps) -> (images, values) as NumPy arrays, optimizing
    the first n_units channels of LAYER in chunks of args.batch_size.
  """
  if name == "floor":
    truncated = keras.Model(model.inputs, model.get_layer(LAYER).output)
    floor = _common.make_floor(_common.channel_objective(truncated),
                               args.learning_rate)

    def run_floor(n, steps):
      start = _common.starting_images(n, INPUT_SHAPE)
      return _common.floor_batched(floor, start, tf.range(n, dtype=tf.int32),
                                   steps, args.batch_size)

    return run_floor
  preset = {"plain": "plain", "default": "default"}[name]

  def run_am(n, steps):
    result = tb_featviz.activation_maximization(
        model, LAYER, units=n, steps=steps, learning_rate=args.learning_rate,
        batch_size=args.batch_size, preset=preset)
    return result.images, result.activations

  return run_am


def run_child(args):
  """Times one case once and writes what it measured to args.out.

  Writes <args.out>/result.json (wall and CPU seconds, the first call's
  seconds, resident memory before and at the end, mean final objective, a
  checksum of the weights) and <args.out>/images.npz (the final images and
  each one's objective).
  """
  tf.get_logger().setLevel("ERROR")
  model = build_model()
  base_kib = _common.proc_kib("/proc/self/status", "VmHWM")
  run = case_function(args.child, model, args)
  started = time.perf_counter()
  run(min(args.batch_size, args.units), 1)  # one chunk, one step: tracing
  first = time.perf_counter() - started
  wall, cpu = time.perf_counter(), time.process_time()
  images, values = run(args.units, args.steps)
  wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
  np.savez(os.path.join(args.out, "images.npz"), images=images, values=values)
  result = {
      "wall_s": wall, "cpu_s": cpu, "first_call_s": first,
      "base_kib": base_kib,
      "peak_kib": _common.proc_kib("/proc/self/status", "VmHWM"),
      "mean_activation": float(np.mean(values)),
      "weights_checksum": float(sum(np.sum(np.abs(w)) for w in model.get_weights())),
  }
  with open(os.path.join(args.out, _RESULT), "w", encoding="utf-8") as f:
    json.dump(result, f)


# ----------------------------------------------------------------------------
# The parent: rounds of child processes


def spawn(name, args, workdir):
  """Runs case `name` in a new process; returns its result dict and images.

  Returns:
    (result, {"images": ..., "values": ...}), or ({"error": text}, None) if
    the process failed.
  """
  command = [sys.executable, os.path.abspath(__file__), "--child", name,
             "--out", workdir, "--steps", str(args.steps),
             "--batch-size", str(args.batch_size), "--units", str(args.units),
             "--learning-rate", str(args.learning_rate)]
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  path = os.path.join(workdir, _RESULT)
  if done.returncode != 0 or not os.path.exists(path):
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    return {"error": f"exit {done.returncode}: {tail[-400:]}"}, None
  with open(path, encoding="utf-8") as f:
    result = json.load(f)
  os.remove(path)
  with np.load(os.path.join(workdir, "images.npz")) as out:
    return result, dict(out)


def run_rounds(names, args):
  """Runs every case once per round, in turn.

  Returns:
    ({name: [result dicts]}, {name: its last run's images and values}).
  """
  runs = {name: [] for name in names}
  images = {}
  with tempfile.TemporaryDirectory(prefix="large_model_") as workdir:
    for index in range(args.rounds):
      for name in names:
        result, out = spawn(name, args, workdir)
        if out is not None:
          images[name] = out
        runs[name].append(result)
        shown = (f"{result['wall_s']:7.2f} s (first call {result['first_call_s']:.1f} s), "
                 f"peak {result['peak_kib'] / 2**20:.2f} GiB"
                 if "error" not in result else f"FAILED ({result['error']})")
        print(f"  round {index + 1}/{args.rounds} {name:<8s} {shown} "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
  return runs, images


def summarize(name, results, memory_gib):
  """One row of the table: medians over the rounds (ratios come later).

  Args:
    name: the case.
    results: its child results (failed ones included).
    memory_gib: the machine's memory.

  Returns:
    A dict (the JSON row), or one with "error" if no run succeeded.
  """
  good = [r for r in results if "error" not in r]
  if not good:
    return {"case": name, "error": results[-1]["error"]}

  def median(key):
    return statistics.median(r[key] for r in good)

  peak = max(r["peak_kib"] for r in good) / 2**20
  row = {
      "case": name, "runs": len(good), "wall_s": [r["wall_s"] for r in good],
      "cpu_s": [r["cpu_s"] for r in good], "median_wall_s": median("wall_s"),
      "median_cpu_s": median("cpu_s"), "first_call_s": median("first_call_s"),
      "peak_gib": peak, "peak_share_of_memory": peak / memory_gib,
      "base_gib": median("base_kib") / 2**20,
      "mean_final_activation": median("mean_activation"),
      "weights_checksums": sorted({r["weights_checksum"] for r in good}),
      "target_ratio": None if name == "floor" else TARGET,
  }
  return row


def add_ratios(rows):
  """Adds each row's wall and CPU time over the floor's (nan without a floor)."""
  floor = next((r for r in rows if r["case"] == "floor" and "error" not in r),
               None)
  for row in rows:
    if "error" not in row:
      for key, ratio in (("median_wall_s", "ratio_to_floor"),
                         ("median_cpu_s", "cpu_ratio_to_floor")):
        row[ratio] = row[key] / floor[key] if floor else float("nan")


def print_table(rows, memory_gib):
  header = (f"{'case':<8s} {'runs':>4s} {'median s':>9s} {'x floor':>8s} "
            f"{'cpu s':>7s} {'x floor':>8s} {'target':>7s}       "
            f"{'peak GiB':>8s} {'of RAM':>7s} {'mean act':>8s}")
  _common.print_header(header)
  for row in rows:
    if "error" in row:
      print(f"{row['case']:<8s} failed: {row['error']}")
      continue
    target = f"<={row['target_ratio']:g}x" if row["target_ratio"] else ""
    verdict = _common.verdict(row["ratio_to_floor"], row["target_ratio"])
    print(f"{row['case']:<8s} {row['runs']:>4d} {row['median_wall_s']:>9.2f} "
          f"{row['ratio_to_floor']:>7.2f}x {row['median_cpu_s']:>7.1f} "
          f"{row['cpu_ratio_to_floor']:>7.2f}x {target:>7s}{verdict:<6s} "
          f"{row['peak_gib']:>8.2f} {100 * row['peak_share_of_memory']:>6.1f}% "
          f"{row['mean_final_activation']:>8.3f}")
  print("-" * len(header))
  print(f"peak GiB: the largest VmHWM of the case's processes (of RAM: of the "
        f"machine's {memory_gib:.1f} GiB); the model alone, built and "
        "before any AM, takes "
        + ", ".join(f"{r['case']} {r['base_gib']:.2f}" for r in rows
                    if "error" not in r) + " GiB.")
  print("first call (1 step on 1 chunk: tracing), median s: "
        + ", ".join(f"{r['case']} {r['first_call_s']:.1f}" for r in rows
                    if "error" not in r))


def plain_vs_floor(floor, plain):
  """Prints and returns how far plain's images are from the floor's.

  A unit silent everywhere on its starting image gets no gradient in the
  floor, whose image then stays where it started (its objective stays 0);
  plain's redirected ReLU wakes it. The gap is given apart for those units.

  Args:
    floor, plain: {"images": (n, ...), "values": (n,)} of the two cases.

  Returns:
    A dict for the JSON summary.
  """
  gaps = np.abs(plain["images"] - floor["images"]).reshape(len(plain["images"]), -1)
  gaps = gaps.max(axis=1)
  silent = np.flatnonzero(floor["values"] == 0)
  awake = np.setdiff1d(np.arange(len(gaps)), silent)
  gap = float(gaps[awake].max()) if len(awake) else float("nan")
  print(f"plain vs floor: max |image difference| = {gap:.2e} over the "
        f"{len(awake)} units the floor moves (0 when plain runs exactly the "
        "floor's update and gradient)")
  if len(silent):
    print(f"  {len(silent)} unit(s) {silent.tolist()} silent on their starting "
          "image: the floor leaves them there (objective 0); plain's redirected "
          "ReLU wakes them (objective "
          + ", ".join(f"{v:.3f}" for v in plain["values"][silent])
          + f"; image difference up to {gaps[silent].max():.2f})")
  return {"plain_vs_floor_max_image_diff": gap,
          "silent_units": silent.tolist(),
          "silent_units_plain_values": plain["values"][silent].tolist()}


def main():
  args = _parse_args()
  if args.child:
    run_child(args)
    return
  names = [name for name in CASES if name in args.cases.split(",")]
  info = _common.machine()
  _common.print_machine(info)
  model = build_model()
  truncated = keras.Model(model.inputs, model.get_layer(LAYER).output)
  chunks = -(-args.units // args.batch_size)
  print(f"Model: ResNet50 {INPUT_SHAPE} (weights=None, seeded), cut at {LAYER!r} "
        f"{tuple(truncated.outputs[0].shape[1:])}: {len(truncated.layers)} layers, "
        f"{truncated.count_params() / 1e6:.2f}M of {model.count_params() / 1e6:.1f}M "
        f"parameters; work: {args.units} units, {chunks} chunks of "
        f"{args.batch_size}, {args.steps} steps each")
  del model, truncated
  print(f"Timing ({args.rounds} rounds; each case a fresh process):")
  runs, images = run_rounds(names, args)
  info["load_average_end"] = list(os.getloadavg())

  rows = [summarize(name, runs[name], info["memory_gib"]) for name in names]
  add_ratios(rows)
  print_table(rows, info["memory_gib"])
  summary = {}
  if "floor" in images and "plain" in images:
    summary.update(plain_vs_floor(images["floor"], images["plain"]))
  checksums = {c for r in rows for c in r.get("weights_checksums", [])}
  if len(checksums) > 1:
    print(f"WARNING: the processes built different weights ({sorted(checksums)})")
  _common.print_load_note(info)
  _common.write_json(args.json, {
      "machine": info,
      "work": {"model": "ResNet50", "input_shape": INPUT_SHAPE, "layer": LAYER,
               "units": args.units, "batch_size": args.batch_size,
               "steps": args.steps, "learning_rate": args.learning_rate,
               "objective": "channel mean", "rounds": args.rounds},
      "rows": rows, "summary": summary})


if __name__ == "__main__":
  main()
