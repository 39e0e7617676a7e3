"""Results of the library functions made up with known numbers, for the tests
of what is written and served."""

import numpy as np

from tb_featviz.optvis import mfv as mfv_lib


def mfv_result(n=7, k=2, size=4, dimensions=6):
  """An MFVResult of unit 3 of "logits": n points with features of
  `dimensions` values, k facets of size x size x 1."""
  rng = np.random.default_rng(1)
  labels = np.arange(n) % k
  return mfv_lib.MFVResult(
      facets=rng.random((k, size, size, 1), dtype=np.float32),
      mean_images=rng.random((k, size, size, 1), dtype=np.float32),
      embedding=rng.random((n, 2), dtype=np.float32), labels=labels,
      activations=np.arange(3.0, 3.0 + k, dtype=np.float32),
      mean_activations=np.arange(1.0, 1.0 + k, dtype=np.float32),
      nearest=[np.flatnonzero(labels == f) for f in range(k)], layer="logits",
      unit=3, value_range=(0.0, 1.0),
      features=rng.random((n, dimensions), dtype=np.float32))
