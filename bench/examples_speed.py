"""top_examples against a plain forward pass of the truncated model.

  .venv/bin/python bench/examples_speed.py [--rounds 9] [--resnet-rounds 5]
      [--cases digits,resnet]

Run by `make bench` (never by the tests). `tb_featviz.top_examples` makes one
pass over the images up to the layer and keeps a running top-k per unit; the
least any such function can cost is the pass itself. So each case times:

  plain     keras.Model(model.input, layer.output) in a tf.function, called on
            the same chunks as top_examples uses (its last chunk unpadded),
            nothing else: no reduction, no top-k, no positions;
  examples  tb_featviz.top_examples(model, layer, images, k=9) (all units).

The cases:

  digits    10,000 images of 28x28x1 (the 1,797 digits and shifted copies)
            through the demo's CNN (demo/train_digits.py: build_model(),
            seeded, untrained), at "conv3" (7x7x64) and at "logits" (10
            units, read before the softmax);
  resnet    --resnet-images (256) 224x224x3 images (digits, upscaled, in
            random colours, with noise) through
            keras.applications.ResNet50(weights=None) (seeded; nothing is
            downloaded), at "conv3_block4_out" (28x28x512).

Both functions of a case are called once first (tracing, printed apart), then
timed in turns for --rounds rounds (--resnet-rounds for ResNet50, whose rounds
take tens of seconds) in this one process, so that a burst of load falls on
both alike; the order swaps every round (plain first, then examples first), so
that neither always runs in the wake of the other. The summary gives the
best ratio (best examples time over best plain time) and the median of the
per-round ratios, with process CPU time beside wall time. Target: at most 1.2x.
For feature maps one more plain pass checks the result against a brute-force
top-k of its output (channel means); the printout says how many indices agree
and how far the activations are from the plain pass's top-k values.
"""

import argparse
import os
import statistics
import sys
import time

import _common  # first: puts the repository on sys.path

sys.path.insert(0, os.path.join(_common.REPO_ROOT, "demo"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tb_featviz  # noqa: E402
import train_digits  # noqa: E402  (demo/train_digits.py)
from tb_featviz.optvis import examples as examples_lib  # noqa: E402
from tb_featviz.optvis import recipe  # noqa: E402
from tests import digits as digits_lib  # noqa: E402

K = 9
TARGET = 1.2


def timed(function):
  """(wall seconds, process CPU seconds, result) of one call of `function`."""
  wall, cpu = time.perf_counter(), time.process_time()
  result = function()
  return time.perf_counter() - wall, time.process_time() - cpu, result


def plain_pass(model, layer, images, chunk):
  """The floor: the truncated model over `images` in chunks of `chunk`.

  Returns:
    A function (consume=None) -> None that runs the pass, giving each chunk's
    output to `consume` if set (outputs are dropped as they come otherwise).
  """
  truncated = keras.Model(model.input, model.get_layer(layer).output)
  forward = tf.function(lambda batch: truncated(batch, training=False))

  def run(consume=None):
    for begin in range(0, len(images), chunk):
      out = forward(images[begin:begin + chunk])
      if consume is not None:
        consume(out)

  return run


def check(result, plain, units):
  """Compares top_examples' answer with a brute-force one from the plain pass.

  Random weights and similar images leave near-ties (values a rounding apart)
  that the two passes may order differently, so the ranking is judged by its
  values: those of the returned images must be the k best (to rounding).
  """
  means = []
  plain(lambda out: means.append(np.asarray(tf.reduce_mean(out, axis=[1, 2]))))
  means = np.concatenate(means)[:, units]
  best = -np.sort(-means, axis=0)[:K].T
  at_indices = np.take_along_axis(means.T, result.indices, axis=1)
  scale = np.abs(means).max()
  same = np.mean(result.indices == np.argsort(-means, axis=0, kind="stable")[:K].T)
  print(f"  check against the plain pass: {same:.1%} of indices equal; largest "
        f"difference, relative to the largest |activation| ({scale:.3g}), of "
        f"the activations from the plain pass's values of the same images "
        f"{np.abs(result.activations - at_indices).max() / scale:.1e} and from "
        f"its top-{K} values {np.abs(result.activations - best).max() / scale:.1e}")


def bench_case(name, model, layer, images, rounds):
  """Times plain and examples in turns; prints the rounds and returns ratios."""
  extractor = recipe.extractor(model, layer)
  output_shape = tuple(model.get_layer(layer).output.shape[1:])
  chunk = examples_lib.chunk_size(
      len(images), examples_lib.values_per_image(extractor, images.shape[1:]))
  chunks = -(-len(images) // chunk)
  padding = chunks * chunk - len(images)
  print(f"\n{name}: {len(images)} images {images.shape[1:]}, layer {layer!r} "
        f"{output_shape}, {extractor.width} units, k={K}; {chunks} chunk(s) of "
        f"{chunk} (examples pads the last with {padding})")
  cases = {
      "plain": plain_pass(model, layer, images, chunk),
      "examples": lambda: tb_featviz.top_examples(model, layer, images, k=K),
  }
  first = {}
  for case, function in cases.items():
    first[case], _, result = timed(function)
  if len(output_shape) == 3:
    check(result, cases["plain"], np.arange(extractor.width))
  print(f"  first call (tracing): plain {first['plain']:.2f} s, examples "
        f"{first['examples']:.2f} s")
  times = {case: {"wall": [], "cpu": []} for case in cases}
  for index in range(rounds):
    line = []
    order = list(cases) if index % 2 == 0 else list(cases)[::-1]
    for case in order:
      wall, cpu, _ = timed(cases[case])
      times[case]["wall"].append(wall)
      times[case]["cpu"].append(cpu)
      line.append(f"{case} {wall:.3f} s (cpu {cpu:.2f})")
    ratio = times["examples"]["wall"][-1] / times["plain"]["wall"][-1]
    print(f"  round {index + 1}/{rounds}: {', '.join(line)}: {ratio:.2f}x "
          f"(load {os.getloadavg()[0]:.1f})")
  summary = {}
  for clock in ("wall", "cpu"):
    ours, plain = times["examples"][clock], times["plain"][clock]
    summary[clock] = (min(ours) / min(plain),
                      statistics.median(o / p for o, p in zip(ours, plain)))
  return {"case": f"{name} {layer}", "plain": min(times["plain"]["wall"]),
          "examples": min(times["examples"]["wall"]), **summary}


def digits_images(n):
  """`n` digits (28x28x1, in [0, 1]): the 1,797 and copies shifted by 1-3 px."""
  images, _ = digits_lib.digits()
  copies = [np.roll(images, shift, axis=axis) for shift in (1, 2, 3)
            for axis in (1, 2)]
  return np.concatenate([images] + copies)[:n]


def resnet_images(n):
  """`n` 224x224x3 images in [0, 1]: digits, upscaled, in random colours."""
  digits, _ = digits_lib.digits(size=8)
  rng = np.random.default_rng(0)
  grey = tf.image.resize(digits[np.arange(n) % len(digits)], (224, 224)).numpy()
  colour = rng.uniform(0.2, 1.0, (n, 1, 1, 3)).astype(np.float32)
  return np.clip(grey * colour + rng.uniform(0, 0.1, (n, 224, 224, 3)),
                 0.0, 1.0).astype(np.float32)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=9)
  parser.add_argument("--resnet-rounds", type=int, default=5)
  parser.add_argument("--cases", default="digits,resnet")
  parser.add_argument("--digits-images", type=int, default=10000)
  parser.add_argument("--resnet-images", type=int, default=256)
  parser.add_argument("--resnet-layer", default="conv3_block4_out")
  args = parser.parse_args()
  info = _common.machine()
  _common.print_machine(info)
  cases = args.cases.split(",")
  results = []
  if "digits" in cases:
    keras.utils.set_random_seed(0)
    model = train_digits.build_model()
    images = digits_images(args.digits_images)
    for layer in ("conv3", "logits"):
      results.append(bench_case("digits CNN", model, layer, images, args.rounds))
  if "resnet" in cases:
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    images = resnet_images(args.resnet_images)
    results.append(bench_case("ResNet50", model, args.resnet_layer, images,
                              args.resnet_rounds))
  info["load_average_end"] = list(os.getloadavg())

  _common.print_header(f"{'case':28s} {'plain s':>8s} {'examples s':>10s} "
                       f"{'best':>6s} {'median':>6s} {'cpu best':>8s} "
                       f"{'cpu med':>7s}  target")
  for row in results:
    print(f"{row['case']:28s} {row['plain']:8.3f} {row['examples']:10.3f} "
          f"{row['wall'][0]:5.2f}x {row['wall'][1]:5.2f}x {row['cpu'][0]:7.2f}x "
          f"{row['cpu'][1]:6.2f}x  <={TARGET}x"
          f"{_common.verdict(row['wall'][1], TARGET)}")
  print("best: the best examples time over the best plain time; median: the "
        "median of the per-round ratios")
  _common.print_load_note(info)
  _common.write_json(os.path.join(_common.RESULTS_DIR, "examples_speed.json"),
                     {"machine": info, "results": results})


if __name__ == "__main__":
  main()
