"""Inversion against its bare compiled loop, and MFV stage by stage.

  .venv/bin/python bench/stages_speed.py [--reps 5]

Inversion: `tb_featviz.invert` of 64 digits from conv2, 256 steps, against the
floor: one tf.function with a tf.while_loop doing forward, the normalized
feature loss, backward and the engine's Adam on the pixels, nothing else.
Both are timed in alternating rounds after a warm-up call; medians are shown.
As in am_speed.py, processes on a shared machine differ, so the comparison
runs in `--processes` fresh processes and the summary gives the best process
of each against the other's, beside the median of per-process ratios.

MFV: 2,000 images (the 1,797 digits and shifted copies) of the digits CNN; the
time of each stage of `multifaceted` (features, PCA, t-SNE, k-means, AM), each
stage's library call made directly on the same data, and the whole call.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import _common  # noqa: E402  (puts the repository on sys.path)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn import cluster, decomposition, manifold  # noqa: E402

import tb_featviz  # noqa: E402
from tb_featviz.optvis import inversion as inversion_lib  # noqa: E402
from tb_featviz.optvis import mfv as mfv_lib  # noqa: E402
from tb_featviz.optvis import recipe  # noqa: E402
from tests import digits as digits_lib  # noqa: E402


def timed(function):
  started = time.perf_counter()
  function()
  return time.perf_counter() - started


def alternating_medians(ours, direct, reps=7):
  """Medians of `reps` alternating timings of two short calls."""
  times = ([], [])
  for _ in range(reps):
    times[0].append(timed(ours))
    times[1].append(timed(direct))
  return statistics.median(times[0]), statistics.median(times[1])


def inversion_floor(extractor, learning_rate=0.05):
  """The bare loop of the same inversion work (see _common.make_floor)."""
  return _common.make_floor(
      lambda images, target: -inversion_lib.normalized_feature_error(
          extractor(images), target), learning_rate)


def bench_inversion(model, images, reps, steps=256):
  extractor = recipe.extractor(model, "conv2")
  target = extractor(images)
  start = tf.clip_by_value(0.5 + 0.1 * tf.random.stateless_normal(images.shape, [0, 1]), 0, 1)
  floor = inversion_floor(extractor)
  cases = {
      "floor": lambda: floor(start, target, steps)[0].numpy(),
      "invert": lambda: tb_featviz.invert(model, "conv2", images, steps=steps),
  }
  for case in cases.values():
    case()  # tracing
  times = {name: [] for name in cases}
  for _ in range(reps):
    for name, case in cases.items():
      times[name].append(timed(case))
  return {name: statistics.median(values) for name, values in times.items()}


def inversion_in_processes(processes, reps, steps=256):
  """Runs bench_inversion in fresh processes; prints each and the summary."""
  runs = []
  with tempfile.TemporaryDirectory() as workdir:
    for index in range(processes):
      out = os.path.join(workdir, f"{index}.json")
      runs.append(_common.run_fresh(
          __file__, ["--reps", reps, "--inversion-only", out], out, quiet=True))
  print(f"\nInversion: 64 digits from conv2, {steps} steps, {reps} reps, "
        f"{processes} fresh processes")
  for index, run in enumerate(runs, start=1):
    print(f"  process {index}: floor {run['floor']:.3f} s, invert "
          f"{run['invert']:.3f} s, {run['invert'] / run['floor']:.2f}x")
  best = min(run["invert"] for run in runs) / min(run["floor"] for run in runs)
  median = statistics.median(run["invert"] / run["floor"] for run in runs)
  print(f"  invert, best process against the floor's best: {best:.2f}x; "
        f"median of per-process ratios: {median:.2f}x (target <= 1.15x)")


def bench_mfv(model, images, labels):
  """Times each MFV stage inside the library and as a direct library call."""
  n = len(images)
  print(f"\nMFV: {n} images, layer logits unit 3, embedding conv3, k=4")
  rows = []
  embedder = recipe.extractor(model, "conv3")
  features = None

  def our_features():
    nonlocal features
    features = mfv_lib._batched(embedder, images).reshape(n, -1)  # pylint: disable=protected-access

  # Features and k-means take tens of milliseconds: medians of 7 turns each.
  rows.append(("features", *alternating_medians(
      our_features, lambda: embedder(tf.constant(images)).numpy())))
  dims = min(50, n, features.shape[1])
  reduced = decomposition.PCA(dims, random_state=0).fit_transform(features)
  rows.append(("PCA", None,
               timed(lambda: decomposition.PCA(dims, random_state=0).fit_transform(features))))
  started = time.perf_counter()
  embedding = mfv_lib.embed(mfv_lib.reduce(features, seed=0), seed=0)
  ours_embed = time.perf_counter() - started
  direct_tsne = timed(lambda: manifold.TSNE(2, perplexity=30.0, random_state=0,
                                            init="pca").fit_transform(reduced))
  rows.append(("PCA+t-SNE", ours_embed, rows[1][2] + direct_tsne))
  cluster.KMeans(4, n_init=1, random_state=0).fit(embedding)  # warm-up: thread pools
  rows.append(("k-means", *alternating_medians(
      lambda: mfv_lib.cluster(embedding, 4, seed=0),
      lambda: cluster.KMeans(4, n_init=10, random_state=0).fit(embedding))))
  labels4, _ = mfv_lib.cluster(embedding, 4, seed=0)
  means = np.stack([images[i].mean(0) for i in mfv_lib.nearest_members(embedding, labels4, 4, 15)])
  rows.append(("AM (3 phases)", timed(lambda: mfv_lib._facets(  # pylint: disable=protected-access
      model, "logits", 3, means, steps=256, learning_rate=0.02, seed=0,
      value_range=(0.0, 1.0), centre_bias=True, display_shape=None, am_options={})),
               None))
  whole = timed(lambda: tb_featviz.multifaceted(model, images, layer="logits", unit=3,
                                                embedding_layer="conv3", k=4))
  print(f"  {'stage':14s} {'ours s':>8s} {'direct s':>9s} {'ratio':>6s}")
  for name, ours, direct in rows:
    ratio = f"{ours / direct:5.2f}x" if ours and direct else ""
    print(f"  {name:14s} {ours if ours else float('nan'):8.3f} "
          f"{direct if direct else float('nan'):9.3f} {ratio:>6s}")
  print(f"  whole multifaceted() call: {whole:.2f} s (AM compiled already)")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--reps", type=int, default=5)
  parser.add_argument("--processes", type=int, default=3,
                      help="fresh processes for the inversion comparison")
  parser.add_argument("--inversion-only", metavar="JSON",
                      help=argparse.SUPPRESS)  # a child of --processes
  args = parser.parse_args()
  images, labels = digits_lib.digits()
  model = digits_lib.trained_cnn(images, labels, epochs=5)
  if args.inversion_only:
    _common.write_json(args.inversion_only,
                       bench_inversion(model, images[:64], args.reps))
    return
  print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}")
  inversion_in_processes(args.processes, args.reps)
  extra = np.roll(images[:2000 - len(images)], 1, axis=2)
  bench_mfv(model, np.concatenate([images, extra]), np.concatenate([labels, labels[:len(extra)]]))


if __name__ == "__main__":
  main()
