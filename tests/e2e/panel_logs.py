"""The logdirs the panel tests show, written as real event files with
`tb_featviz.summary`. Every picture differs and every number is known, so a
test can check what the panel shows.

`write_am_logdir`: two runs written with `summary.am`:
  train: conv1 (8 units) and conv2 (5 units) at steps 0, 5, 10, 15, 20;
  eval:  conv1 (8 units) at steps 0, 10, 20.

`write_views_logdir`: one run, "train":
  inversion of conv1 at steps 0, 10, 20 and of conv2 at steps 0, 5, 20 (4 probe
  images of 28x28x1, originals at step 0, every error known);
  MFV of logits unit 3 at steps 0, 10, 20 (30 embedded images whose points
  move, k=3 facets, with the images for the sprite: image i is a flat grey of
  value i/29, so a thumbnail tells which cell of the sprite it was cut from);
  MFV of logits unit 5 at steps 0 and 10, without images (no sprite).
"""


import numpy as np
import tensorflow as tf

from tb_featviz import summary
from tb_featviz.optvis import mfv

RUNS = {
    "train": {"conv1": 8, "conv2": 5},
    "eval": {"conv1": 8},
}
STEPS = {"train": [0, 5, 10, 15, 20], "eval": [0, 10, 20]}
SIZE = 28


def activation(run, layer, step, unit):
  """The activation logged for one unit: distinct, with more than 3 digits."""
  scale = 1.2345 if layer == "conv1" else -0.04321
  return (1.0 + unit) * (1.0 + step / 10.0) * scale + (0.5 if run == "eval" else 0.0)


def write_am_logdir(root):
  """Writes the AM runs described above into `root`; returns it."""
  for run_index, (run, layers) in enumerate(RUNS.items()):
    writer = tf.summary.create_file_writer(str(root / run))
    with writer.as_default():
      for step in STEPS[run]:
        for layer_index, (layer, n_units) in enumerate(layers.items()):
          rng = np.random.default_rng([run_index, layer_index, step])
          images = rng.random((n_units, SIZE, SIZE, 1), dtype=np.float32)
          summary.am(layer, images, step=step, units=list(range(n_units)),
                     activations=[activation(run, layer, step, u)
                                  for u in range(n_units)],
                     seconds=0.25)
    writer.close()
  return root


PROBES = 4
INVERSION_STEPS = {"conv1": [0, 10, 20], "conv2": [0, 5, 20]}
MFV_STEPS = [0, 10, 20]
N_POINTS = 30
K = 3


def inversion_error(layer, step, index):
  """The normalised error logged for probe `index`: distinct, more than 3 digits."""
  scale = 0.12345 if layer == "conv1" else 0.04321
  return (0.5 + index) * scale / (1.0 + step / 10.0)


def embedding(step):
  """(N, 2) points on a 6x5 grid, 10 apart, each moving by up to 3 per step."""
  index = np.arange(N_POINTS)
  base = np.stack([index % 6 * 10.0, index // 6 * 10.0], axis=1)
  direction = np.stack([np.cos(index), np.sin(index)], axis=1)
  return (base + direction * 3.0 * step / 20.0).astype(np.float32)


def labels(step):
  """Facet of each point: thirds of the points, point 0 moves to facet 2 at step 20."""
  result = np.arange(N_POINTS) * K // N_POINTS
  if step == 20:
    result[0] = 2
  return result.astype(np.int32)


def facet_activation(unit, step, facet):
  return (2.0 + facet) * (1.0 + step / 7.0) + unit * 0.0123


def mean_activation(unit, step, facet):
  return (0.25 + facet) * (1.0 + step / 13.0) - unit * 0.0111


def write_views(root, run, inversion, mfv_units):
  """Writes inversion and MFV steps into a new events file of `run`.

  Args:
    root: the logdir.
    run: the run's name.
    inversion: {layer: steps}; the originals go with step 0.
    mfv_units: {unit of "logits": (steps, whether to write the sprite images)}.
  """
  shape = (SIZE, SIZE, 1)
  originals = np.random.default_rng(0).random((PROBES, *shape), dtype=np.float32)
  thumbnails = np.broadcast_to(
      (np.arange(N_POINTS, dtype=np.float32) / (N_POINTS - 1))[:, None, None, None],
      (N_POINTS, *shape)).copy()
  writer = tf.summary.create_file_writer(str(root / run))
  with writer.as_default():
    for layer_index, (layer, steps) in enumerate(inversion.items()):
      for step in steps:
        rng = np.random.default_rng([1, layer_index, step])
        summary.inversion(
            layer, rng.random((PROBES, *shape), dtype=np.float32), step=step,
            originals=originals if step == 0 else None,
            errors=[inversion_error(layer, step, i) for i in range(PROBES)])
    for unit, (steps, with_images) in mfv_units.items():
      for step in steps:
        rng = np.random.default_rng([2, unit, step])
        result = mfv.MFVResult(
            facets=rng.random((K, *shape), dtype=np.float32),
            mean_images=rng.random((K, *shape), dtype=np.float32),
            embedding=embedding(step), labels=labels(step),
            activations=np.array([facet_activation(unit, step, f) for f in range(K)],
                                 np.float32),
            mean_activations=np.array([mean_activation(unit, step, f) for f in range(K)],
                                      np.float32),
            nearest=[np.flatnonzero(labels(step) == f)[:5] for f in range(K)],
            layer="logits", unit=unit, value_range=(0.0, 1.0))
        summary.mfv("logits", result, step=step,
                    images=thumbnails if with_images else None)
  writer.close()


def write_views_logdir(root):
  """Writes the inversion and MFV run described above into `root`; returns it."""
  write_views(root, "train", INVERSION_STEPS,
              {3: (MFV_STEPS, True), 5: (MFV_STEPS[:2], False)})
  return root
