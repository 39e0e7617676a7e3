"""FeatureVizCallback: feature visualizations logged to TensorBoard during `fit`."""

import logging
import os
import time

import keras
import tensorflow as tf

from tb_featviz import budget as budget_lib
from tb_featviz import facet_tracker
from tb_featviz import summary
from tb_featviz.optvis import am as am_lib
from tb_featviz.optvis import inversion as inversion_lib
from tb_featviz.optvis import recipe

logger = logging.getLogger(__name__)

DEFAULT_RUN_NAME = "featviz"


class FeatureVizCallback(keras.callbacks.Callback):
  """Runs feature visualizations at intervals during training and logs them.

  At every interval, and once more at the end of training, each configured
  visualization runs on the current model and is written under
  `<log_dir>/<run_name>` with the tags of `tb_featviz.summary`. Step numbers are
  those of `keras.callbacks.TensorBoard` for the same schedule: the epoch index
  with `every_n_epochs`, the number of batches trained in this `fit` with
  `every_n_steps`. Both callbacks can be given the same `log_dir`.

  The configuration is checked when training starts (unknown layers or units
  fail then, before the first step). A visualization that fails later is
  reported as a warning and training goes on. The callback never changes the
  model's weights, the random state or the optimizer: visualizations start from
  the same seeded noise at every interval, so pictures change only because the
  model did.

  Example:

    cb = tb_featviz.FeatureVizCallback(
        "logs/run1", am={"conv2": 16, "logits": "all"}, every_n_epochs=1)
    model.fit(x, y, epochs=10, callbacks=[cb])

  Args:
    log_dir: the run's log directory (the same as keras.callbacks.TensorBoard's).
    am: {layer name: units}, units being an int n (the first n), a list of ids
      or "all".
    am_options: keyword arguments for `tb_featviz.activation_maximization`
      (steps, preset, seed, ...), shared by all AM layers.
    inversion: {"images": probe images (N, *input_shape), "layers": [names]}:
      the same probe images are inverted from each layer at every interval.
    inversion_options: keyword arguments for `tb_featviz.invert`.
    mfv: {"images": x, "labels": y, "layer": name, "units": [ids], ...}:
      multifaceted visualization of those units (see FacetTracker for all
      keys). With labels, each unit is a class and gets that class's images;
      without, the images that drive it most. Also exported for the Projector.
    mfv_options: keyword arguments for `tb_featviz.multifaceted` (steps, ...).
    every_n_epochs: visualize after every n-th epoch.
    every_n_steps: visualize after every n-th training batch instead.
    value_range: (low, high) of the model's input pixels.
    display_shape: for vector-input models, the (H, W) to show inputs as images.
    budget: the largest fraction of training wall time to spend on
      visualizations (e.g. 0.1); intervals that would exceed it are postponed
      to the next one, with a warning. None: no cap.
    run_name: the subdirectory of `log_dir` written to.
  """

  def __init__(self, log_dir, *, am=None, am_options=None, inversion=None,
               inversion_options=None, mfv=None, mfv_options=None,
               every_n_epochs=None, every_n_steps=None,
               value_range=(0.0, 1.0), display_shape=None, budget=None,
               run_name=DEFAULT_RUN_NAME):
    super().__init__()
    if every_n_epochs is not None and every_n_steps is not None:
      raise ValueError("Give every_n_epochs or every_n_steps, not both.")
    if every_n_epochs is None and every_n_steps is None:
      every_n_epochs = 1
    for name, value in (("every_n_epochs", every_n_epochs),
                        ("every_n_steps", every_n_steps)):
      if value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not am and not inversion and not mfv:
      raise ValueError("Nothing to visualize: pass am={layer: units}, "
                       "inversion={'images': probe, 'layers': [names]} and/or "
                       "mfv={'images': x, 'layer': name, 'units': [ids]}.")
    inversion = dict(inversion or {})
    unknown = set(inversion) - {"images", "layers"}
    if inversion and (unknown or "images" not in inversion
                      or not inversion.get("layers")):
      raise ValueError(
          "inversion takes {'images': probe images, 'layers': [layer names]}"
          + (f"; unknown keys {sorted(unknown)}" if unknown else "") + ".")
    self.log_dir = os.fspath(log_dir)
    self.am = dict(am or {})
    self.am_options = dict(am_options or {})
    self.inversion_layers = list(inversion.get("layers", []))
    self.inversion_images = inversion.get("images")
    self.inversion_options = dict(inversion_options or {})
    self.facets = facet_tracker.FacetTracker(mfv, mfv_options) if mfv else None
    self.budget = budget_lib.CostBudget(budget)
    self.every_n_epochs = every_n_epochs
    self.every_n_steps = every_n_steps
    self.value_range = recipe.check_value_range(value_range)
    self.display_shape = display_shape
    self.run_name = run_name
    self._writer = None
    self._units = {}
    self._batches = 0
    self._last_visited_step = None
    self._failed = set()
    self._originals_written = set()

  # -- configuration ----------------------------------------------------------

  def _validate(self):
    """Resolves every layer, unit list and probe, raising ValueError on mistakes."""
    self._units = {layer: self._extractor(layer).check_units(units)
                   for layer, units in self.am.items()}
    for layer in self.inversion_layers:
      self.inversion_images = inversion_lib.check_images(
          self.inversion_images, self._extractor(layer).input_shape,
          self.value_range, what="inversion probe images")
    if self.facets is not None:
      self._extractor(self.facets.layer)
      self.facets.validate(self.model, self.value_range)

  def _extractor(self, layer):
    extractor = recipe.extractor(self.model, layer)
    recipe.check_display_shape(self.display_shape, extractor.input_shape)
    if len(extractor.input_shape) != 3 and self.display_shape is None:
      raise ValueError(
          f"Model input {extractor.input_shape} is not an image; pass "
          "display_shape=(height, width) so the callback can draw it.")
    return extractor

  # -- schedule ---------------------------------------------------------------

  def on_train_begin(self, logs=None):
    self._validate()
    self.budget.start()
    self._batches = 0
    self._last_visited_step = None
    self._run_dir = os.path.join(self.log_dir, self.run_name)
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(self._run_dir)

  def on_train_batch_begin(self, batch, logs=None):
    self._batches += 1  # counted like keras.callbacks.TensorBoard's steps

  def on_train_batch_end(self, batch, logs=None):
    if self.every_n_steps and self._batches % self.every_n_steps == 0:
      self._visualize(self._batches)

  def on_epoch_end(self, epoch, logs=None):
    self._last_epoch = epoch
    if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
      self._visualize(epoch)

  def on_train_end(self, logs=None):
    final_step = self._batches if self.every_n_steps else getattr(
        self, "_last_epoch", None)
    if final_step is not None and final_step != self._last_visited_step:
      self._visualize(final_step)
    if self._writer is not None:
      self._writer.flush()

  # -- work -------------------------------------------------------------------

  def _visualize(self, step):
    self._last_visited_step = step
    if not self.budget.allows(step):
      return
    started = time.perf_counter()
    with self._writer.as_default(step=step), tf.summary.record_if(True):
      for layer, units in self._units.items():
        self._run_one("am", layer, step, lambda: am_lib.activation_maximization(
            self.model, layer, units, **self._options(self.am_options)),
                      summary.am)
      for layer in self.inversion_layers:
        self._run_one("inversion", layer, step, lambda: inversion_lib.invert(
            self.model, layer, self.inversion_images,
            **self._options(self.inversion_options)), self._write_inversion)
      for unit in self.facets.units if self.facets else ():
        self._run_one("mfv", f"{self.facets.layer}/{unit}", step,
                      lambda: self.facets.run(self.model, unit,
                                              value_range=self.value_range,
                                              display_shape=self.display_shape),
                      self._write_mfv)
    self._writer.flush()
    self.budget.charge(time.perf_counter() - started)

  def _write_mfv(self, name, computed, *, step, seconds):
    del name  # the result names its layer and unit
    indices, result = computed
    self.facets.write(self._run_dir, indices, result, step=step, seconds=seconds)

  def _options(self, options):
    options = dict(options)
    options.setdefault("value_range", self.value_range)
    options.setdefault("display_shape", self.display_shape)
    return options

  def _write_inversion(self, layer, result, *, step, seconds):
    first = layer not in self._originals_written
    summary.inversion(layer, result, step=step, seconds=seconds,
                      originals=self.inversion_images if first else None)
    self._originals_written.add(layer)

  def _run_one(self, kind, layer, step, compute, write):
    """Computes and writes one visualization; warns once per layer on failure."""
    try:
      started = time.perf_counter()
      result = compute()
      seconds = time.perf_counter() - started
      write(layer, result, step=step, seconds=seconds)
    except Exception as error:  # pylint: disable=broad-except
      if (kind, layer) not in self._failed:
        logger.warning("tb_featviz: %s of layer %r at step %d failed (%s: %s); "
                       "training goes on and later intervals will try again.",
                       kind, layer, step, type(error).__name__, error)
        self._failed.add((kind, layer))
