"""Do multifaceted visualization's facets stay facets?

Not run by the tests. Trains the demo CNN (demo/train_digits.py: load_data(),
compiled_model(), 12 epochs) and runs MFV of its logits for a few classes,
with that class's validation digits, k=3 and embedding_layer="conv3", as the
demo's callback does; then the same for the two-kind class of
tests/test_mfv.py (digits 0 and 1 learned as one class, k=2). Each is run
twice from the same clusters and mean images:

  before   ceiling_margin=None, anchor_weight=0: AM maximizes the unit alone
           (what multifaceted() did up to commit d3f8c20);
  after    multifaceted()'s defaults: a ceiling just above the cluster's best
           image and a pull towards the cluster's centroid.

For every facet it prints whether it is nearest (by cosine, in conv3's
flattened features) to its own cluster's centroid, its cosine to that
centroid, its logit, the best logit of a real image of its cluster, and their
ratio; then, per class and overall, the share of facets nearest their own
centroid and the share at or above their cluster's best image.

  python bench/mfv_fidelity.py [--classes 3,7,9] [--seeds 0,1,2]
"""

import argparse
import sys

import _common  # noqa: F401  (puts this checkout first on sys.path)

import numpy as np  # noqa: E402

import tb_featviz  # noqa: E402
from demo import train_digits  # noqa: E402
from tests import digits as digits_lib  # noqa: E402

EPOCHS = 12
MODES = {"before": {"ceiling_margin": None, "anchor_weight": 0.0}, "after": {}}


def demo_cases(classes):
  """(name, model, images, unit, k) for each class of the trained demo CNN."""
  data = train_digits.load_data()
  model = train_digits.compiled_model()
  train_digits.train(model, data, EPOCHS, verbose=0)
  _, (x_val, y_val) = data
  return [(f"digit {c}", model, x_val[y_val == c], c, 3) for c in classes]


def two_kind_case():
  """The class of tests/test_mfv.py: digits 0 and 1 learned as one class."""
  images, digits = digits_lib.digits()
  merged = np.where(digits == 1, 0, np.where(digits > 1, digits - 1, digits))
  model = digits_lib.trained_cnn(images[:1400], merged[:1400])
  return ("0 and 1", model, images[merged == 0], 0, 2)


def facet_rows(case, seed):
  """One row per facet: (class, seed, facet, {mode: (own, cosine, act, best)})."""
  name, model, images, unit, k = case
  results = {mode: tb_featviz.multifaceted(
      model, images, layer="logits", unit=unit, embedding_layer="conv3", k=k,
      seed=seed, **options) for mode, options in MODES.items()}
  return [(name, seed, facet, {
      mode: (r.facet_nearest[facet] == facet, r.facet_similarity[facet],
             r.activations[facet], r.cluster_best[facet])
      for mode, r in results.items()}) for facet in range(k)]


def print_table(rows):
  head = "  ".join(f"{'own':>4} {'cos':>6} {'act':>6} {'best':>6} {'ratio':>5}"
                   for _ in MODES)
  print(f"{'':20}" + "".join(f"{mode:<33}" for mode in MODES))
  print(f"{'class':8} {'seed':>4} {'facet':>5}  {head}")
  for name, seed, facet, by_mode in rows:
    cells = "  ".join(
        f"{'yes' if own else 'no':>4} {cosine:6.3f} {act:6.2f} {best:6.2f} "
        f"{act / best:5.2f}" for own, cosine, act, best in by_mode.values())
    print(f"{name:8} {seed:4d} {facet:5d}  {cells}")


def shares(rows, mode):
  """(share nearest their own centroid, share at or above their cluster's best)."""
  own = [r[3][mode][0] for r in rows]
  above = [r[3][mode][2] >= r[3][mode][3] for r in rows]
  return float(np.mean(own)), float(np.mean(above))


def print_summary(rows):
  print(f"\n{'':14}" + "".join(f"{mode + ': own / >= best':>26}" for mode in MODES))
  groups = {}
  for row in rows:
    groups.setdefault(row[0], []).append(row)
  for label, group in list(groups.items()) + [("overall", rows)]:
    cells = "".join(f"{shares(group, mode)[0]:>17.0%} / {shares(group, mode)[1]:>4.0%}"
                    for mode in MODES)
    print(f"{label:14} ({len(group):2d}){cells}")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--classes", default="3,7,9",
                      help="digits of the demo CNN, comma-separated")
  parser.add_argument("--seeds", default="0,1,2", help="MFV seeds, comma-separated")
  args = parser.parse_args(argv)
  classes = [int(c) for c in args.classes.split(",")]
  seeds = [int(s) for s in args.seeds.split(",")]

  cases = demo_cases(classes) + [two_kind_case()]
  rows = [row for case in cases for seed in seeds for row in facet_rows(case, seed)]
  print_table(rows)
  print_summary(rows)
  return 0


if __name__ == "__main__":
  sys.exit(main())
