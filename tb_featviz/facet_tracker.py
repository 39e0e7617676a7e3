"""Multifaceted visualization of chosen units across training (for the callback).

Picks the images of each unit (a class's images when labels are given, else the
images that drive the unit most), keeps each unit's previous result so layouts
and facet ids stay stable, and writes the summaries and the Projector export.
"""

import numpy as np

from tb_featviz import metadata
from tb_featviz import projector
from tb_featviz import summary
from tb_featviz.optvis import inversion as inversion_lib
from tb_featviz.optvis import mfv as mfv_lib
from tb_featviz.optvis import recipe

DEFAULT_K = 4
DEFAULT_M = 15
DEFAULT_N_IMAGES = 200


class FacetTracker:
  """MFV of a few units of one layer, step after step.

  Args:
    config: {"images": (N, ...) images, "layer": name, "units": [ids],
      optional "labels": (N,) class labels (then each unit is a class and gets
      the images of that class), "embedding_layer", "k" (4), "m" (15),
      "n_images" (200: without labels, how many of the images that drive the
      unit most are used)}; its keys are checked by `kinds.Multifaceted`.
    options: more keyword arguments for `tb_featviz.multifaceted`.
  """

  def __init__(self, config, options=None):
    self.images = config["images"]
    self.labels = None if config.get("labels") is None else np.asarray(config["labels"])
    self.layer = config["layer"]
    self.units = [int(u) for u in np.atleast_1d(config["units"])]
    self.embedding_layer = config.get("embedding_layer")
    self.k = config.get("k", DEFAULT_K)
    self.m = config.get("m", DEFAULT_M)
    self.n_images = int(config.get("n_images", DEFAULT_N_IMAGES))
    self.options = dict(options or {})
    self._previous = {}

  def validate(self, model, value_range):
    """Checks layers, units, images and labels against `model`.

    Raises:
      ValueError: naming the problem and the fix.
    """
    extractor = recipe.extractor(model, self.layer)
    self.units = extractor.check_units(self.units)
    if self.embedding_layer is not None:
      recipe.extractor(model, self.embedding_layer)
    self.images = inversion_lib.check_images(
        self.images, extractor.input_shape, value_range, what="mfv images")
    if not isinstance(self.k, int) or self.k < 1:
      raise ValueError(f"mfv k must be a positive integer, got {self.k!r}.")
    if self.labels is None:
      if len(self.images) < self.k:
        raise ValueError(f"mfv has {len(self.images)} images, fewer than k={self.k}.")
      return
    if len(self.labels) != len(self.images):
      raise ValueError(f"mfv has {len(self.images)} images but "
                       f"{len(self.labels)} labels; give one label per image.")
    for unit in self.units:
      count = int(np.sum(self.labels == unit))
      if count < self.k:
        raise ValueError(
            f"mfv: the labels hold {count} images of class {unit}, fewer than "
            f"k={self.k} facets; pass more images of that class or a smaller k.")

  def _select(self, model, unit):
    """Indices of the images used for `unit` at this interval."""
    if self.labels is not None:
      return np.flatnonzero(self.labels == unit)
    values = mfv_lib.unit_values(recipe.extractor(model, self.layer), self.images, unit)
    order = np.argsort(-values, kind="stable")[:self.n_images]
    return np.sort(order[values[order] > 0]) if np.any(values > 0) else np.sort(order)

  def run(self, model, unit, *, value_range, display_shape):
    """Computes the unit's facets at the current state of `model`.

    Returns:
      (indices of the images used, MFVResult).
    """
    indices = self._select(model, unit)
    last = self._previous.get(unit)
    previous = last[1] if last is not None and np.array_equal(last[0], indices) else None
    result = mfv_lib.multifaceted(
        model, self.images[indices], layer=self.layer, unit=unit,
        embedding_layer=self.embedding_layer, k=self.k, m=self.m,
        value_range=value_range, display_shape=display_shape, previous=previous,
        **self.options)
    self._previous[unit] = (indices, result)
    return indices, result

  def write(self, run_dir, indices, result, *, step, seconds):
    """Writes the MFV summaries and refreshes the Projector export."""
    images = self.images[indices]
    summary.mfv(self.layer, result, step=step, images=images, seconds=seconds)
    projector.export(run_dir, metadata.image_tag("mfv", self.layer, result.unit),
                     step, result, images,
                     None if self.labels is None else self.labels[indices])
