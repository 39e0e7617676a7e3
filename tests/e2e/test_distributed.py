"""The callback under tf.distribute, with tf.data, steps_per_execution and
mixed precision.

MirroredStrategy over two logical CPU devices and MultiWorkerMirroredStrategy
over two local worker processes run in subprocesses (this file is their
script, see `main`): logical devices must be configured before TensorFlow
initializes, and a multi-worker job needs one process per worker. The three
processes start together (a module fixture) so that they overlap.
"""

import collections
import glob
import json
import os
import socket
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 240  # seconds; a hung collective must not hang the test session

# --- the subprocesses ------------------------------------------------------------


def _common():
  """Imports for the subprocess modes (TensorFlow is configured before)."""
  sys.path.insert(0, REPO)
  import keras  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  import tb_featviz  # pylint: disable=import-outside-toplevel
  from tests import digits  # pylint: disable=import-outside-toplevel
  return keras, tf, tb_featviz, digits


def run_mirrored(log_dir):
  """fit under MirroredStrategy on 2 logical CPUs, on a tf.data.Dataset.

  (steps_per_execution > 1 is tested without a strategy: under
  MirroredStrategy Keras 3's own multi-step train function fails, with or
  without callbacks - "You must feed a value for placeholder tensor",
  keras-team/keras#19246.)
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  keras, tf, tb_featviz, digits = _common()
  x, y = digits.digits()
  x, y = x[:256], y[:256]
  keras.utils.set_random_seed(0)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with strategy.scope():
    model = digits.cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
  dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)  # 4 batches
  callback = tb_featviz.FeatureVizCallback(
      log_dir, am={"conv2": 3, "logits": [1, 2]}, am_options={"steps": 4},
      inversion={"images": x[:2], "layers": ["conv1"]},
      inversion_options={"steps": 4}, every_n_steps=3)
  model.fit(dataset, epochs=2, verbose=0, callbacks=[
      keras.callbacks.TensorBoard(log_dir, update_freq=1), callback])
  return {"replicas": strategy.num_replicas_in_sync, "chief": callback._chief}  # pylint: disable=protected-access


def _work_around_keras_multi_worker(model, dataset):
  """Two bugs of Keras 3's TF trainer under MultiWorkerMirroredStrategy that
  stop `fit` before our callback runs, with or without it
  (keras-team/keras#20585, tensorflow/tensorflow#72388):
  - `_maybe_symbolic_build` reduces the first distributed batch with
    strategy.reduce, which collective all-reduce cannot do eagerly
    ("Attempt to convert a value (PerReplica...)"): build from a local batch;
  - `reduce_per_replica` reduces scalar metrics with axis=0 ("Invalid
    reduction dimension 0 for input with 0 dimensions"): use axis=None.
  """
  from keras.src import tree  # pylint: disable=import-outside-toplevel
  from keras.src.backend.tensorflow import trainer  # pylint: disable=import-outside-toplevel

  def build_locally(iterator=None, data_batch=None):
    del iterator, data_batch
    with model.distribute_strategy.scope():
      model._symbolic_build(data_batch=next(iter(dataset)))  # pylint: disable=protected-access

  model._maybe_symbolic_build = build_locally  # pylint: disable=protected-access
  original = trainer.reduce_per_replica

  def reduce_per_replica(values, strategy, reduction):
    if (reduction in ("auto", "mean")
        and trainer._collective_all_reduce_multi_worker(strategy)):  # pylint: disable=protected-access
      return tree.map_structure(
          lambda v: strategy.reduce("MEAN", v, axis=None), values)
    return original(values, strategy, reduction)

  trainer.reduce_per_replica = reduce_per_replica


def run_worker(log_dir):
  """One worker of a 2-worker MultiWorkerMirroredStrategy job (TF_CONFIG set)."""
  keras, tf, tb_featviz, digits = _common()
  from tb_featviz.optvis import am as am_lib  # pylint: disable=import-outside-toplevel
  from tb_featviz.optvis import inversion as inversion_lib  # pylint: disable=import-outside-toplevel
  computed = collections.Counter()
  for module, name in ((am_lib, "activation_maximization"), (inversion_lib, "invert")):
    def counting(*args, _real=getattr(module, name), _name=name, **kwargs):
      computed[_name] += 1
      return _real(*args, **kwargs)
    setattr(module, name, counting)

  strategy = tf.distribute.MultiWorkerMirroredStrategy()
  x, y = digits.digits()
  x, y = x[:256], y[:256]
  keras.utils.set_random_seed(0)
  with strategy.scope():
    model = digits.cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
  dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
  _work_around_keras_multi_worker(model, dataset)
  callback = tb_featviz.FeatureVizCallback(
      log_dir, am={"conv2": 3}, am_options={"steps": 4},
      inversion={"images": x[:2], "layers": ["conv1"]},
      inversion_options={"steps": 4}, every_n_epochs=1)
  history = model.fit(dataset, epochs=2, verbose=0, callbacks=[callback])
  resolver = strategy.cluster_resolver
  return {"task": [resolver.task_type, resolver.task_id],
          "replicas": strategy.num_replicas_in_sync,
          "chief": callback._chief,  # pylint: disable=protected-access
          "epochs": len(history.history["loss"]), "computed": dict(computed)}


def main(mode, log_dir):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  result = {"mirrored": run_mirrored, "worker": run_worker}[mode](log_dir)
  print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":  # before the imports below, which the tests need
  main(sys.argv[1], sys.argv[2])
  sys.exit(0)

# --- the tests -------------------------------------------------------------------

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import tb_featviz  # noqa: E402
from tb_featviz import metadata  # noqa: E402
from tests import digits as digits_lib  # noqa: E402
from tests import event_files  # noqa: E402


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _start(mode, log_dir, tf_config=None):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO,
             CUDA_VISIBLE_DEVICES="")
  env.pop("TF_CONFIG", None)
  if tf_config is not None:
    env["TF_CONFIG"] = json.dumps(tf_config)
  return subprocess.Popen([sys.executable, os.path.abspath(__file__), mode, log_dir],
                          cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


class _Job:
  """A started subprocess whose result is read once."""

  def __init__(self, process):
    self.process = process
    self._output = None

  def result(self):
    if self._output is None:
      try:
        self._output, _ = self.process.communicate(timeout=TIMEOUT)
      except subprocess.TimeoutExpired:
        self.process.kill()
        self._output, _ = self.process.communicate()
        pytest.fail(f"timed out after {TIMEOUT} s:\n{self._output[-4000:]}")
    lines = [line for line in self._output.splitlines() if line.startswith("RESULT ")]
    assert self.process.returncode == 0 and lines, self._output[-6000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
  """The mirrored run and the two workers, started at once."""
  root = tmp_path_factory.mktemp("distributed")
  ports = _free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
  started = {
      "mirrored": (_Job(_start("mirrored", str(root / "mirrored"))), root / "mirrored"),
      "workers": ([_Job(_start("worker", str(root / "multi"),
                               {"cluster": cluster, "task": {"type": "worker",
                                                              "index": i}}))
                   for i in range(2)], root / "multi"),
  }
  yield started
  for job in [started["mirrored"][0]] + started["workers"][0]:
    if job.process.poll() is None:
      job.process.kill()
      job.process.communicate()


def _event_counts(run_dir):
  """{(tag, step): number of events} over every events file of `run_dir`."""
  counts = collections.Counter()
  for path in glob.glob(os.path.join(run_dir, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        counts[(value.tag, event.step)] += 1
  return counts


def test_mirrored_strategy_logs_each_summary_once(jobs):
  job, log_dir = jobs["mirrored"]
  result = job.result()
  assert result == {"replicas": 2, "chief": True}
  run_dir = str(log_dir / "featviz")
  counts = _event_counts(run_dir)
  ours = {tag for tag, _ in counts if tag.startswith("featviz/")}
  assert {"featviz/am/conv2", "featviz/am/logits", "featviz/inversion/conv1",
          "featviz/am/logits/record", "featviz/inversion/conv1/originals"} <= ours
  assert set(counts.values()) == {1}, counts  # every summary once per step
  # 4 batches per epoch, 2 epochs, every_n_steps=3: after batches 3 and 6,
  # then the final model (8), at keras.callbacks.TensorBoard's steps.
  keras_steps = [event.step for event in
                 event_files.read(log_dir / "train").Tensors("batch_loss")]
  assert keras_steps == list(range(1, 9))
  accumulator = event_files.read(run_dir)
  for tag in ("featviz/am/conv2", "featviz/am/logits", "featviz/inversion/conv1"):
    assert event_files.steps(accumulator, tag) == [3, 6, 8], tag
  record = metadata.parse_step_record(tf.make_ndarray(
      accumulator.Tensors("featviz/am/logits/record")[-1].tensor_proto).item())
  assert np.all(np.isfinite(record.activations))


def test_multi_worker_only_the_chief_computes_and_writes(jobs):
  workers, log_dir = jobs["workers"]
  results = [worker.result() for worker in workers]
  assert [r["task"] for r in results] == [["worker", 0], ["worker", 1]]
  assert all(r["replicas"] == 2 and r["epochs"] == 2 for r in results)
  chief, other = results
  assert chief["chief"] and not other["chief"]
  # The chief computed each visualization at both epochs; the other worker
  # computed nothing (it still validated the configuration).
  assert chief["computed"] == {"activation_maximization": 2, "invert": 2}
  assert other["computed"] == {}
  run_dir = str(log_dir / "featviz")
  assert len(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))) == 1
  counts = _event_counts(run_dir)
  assert set(counts.values()) == {1}, counts
  accumulator = event_files.read(run_dir)
  assert event_files.steps(accumulator, "featviz/am/conv2") == [0, 1]
  assert event_files.steps(accumulator, "featviz/inversion/conv1") == [0, 1]


def _x_y(n=192):
  images, labels = digits_lib.digits()
  return images[:n], labels[:n]


@pytest.mark.parametrize("steps_per_execution, every_n_steps, expected", [
    # 12 batches per epoch, 2 epochs. Executions of 4 end after 4, 8, ... 24
    # batches: every 8 batches is after executions 2, 4, 6.
    (4, 8, [2, 4, 6]),
    # Executions of 5 end after 5, 10, 12 | 17, 22, 24 batches (the last of
    # each epoch is short): 6, 12, 18, 24 batches are reached at executions
    # 2, 3, 5, 6.
    (5, 6, [2, 3, 5, 6]),
])
def test_steps_per_execution_with_tf_data_logs_at_batch_counts_on_keras_steps(
    tmp_path, steps_per_execution, every_n_steps, expected):
  x, y = _x_y()
  keras.utils.set_random_seed(0)
  model = digits_lib.cnn()
  model.compile("adam", "sparse_categorical_crossentropy",
                steps_per_execution=steps_per_execution)
  dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
  trained = []
  model.fit(dataset, epochs=2, verbose=0, callbacks=[
      keras.callbacks.TensorBoard(str(tmp_path), update_freq=1),
      keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: trained.append(
          int(model.optimizer.iterations))),
      tb_featviz.FeatureVizCallback(str(tmp_path), am={"conv1": 2},
                                    am_options={"steps": 4},
                                    every_n_steps=every_n_steps)])
  keras_steps = [event.step for event in event_files.read(tmp_path / "train").Tensors("batch_loss")]
  ours = event_files.steps(event_files.read(tmp_path / "featviz"), "featviz/am/conv1")
  assert ours == expected
  assert set(ours) <= set(keras_steps)  # the Scalars tab has the same steps
  # ... and those executions are the first to reach each multiple of n batches.
  batches_at = dict(zip(range(1, len(trained) + 1), trained))
  for multiple, step in zip(range(every_n_steps, 25, every_n_steps), ours):
    assert batches_at[step] >= multiple > batches_at.get(step - 1, 0)


def test_mixed_precision_results_are_finite(tmp_path):
  x, y = _x_y(128)
  try:
    keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(0)
    model = digits_lib.cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
    assert model.get_layer("conv2").compute_dtype == "float16"
    callback = tb_featviz.FeatureVizCallback(
        str(tmp_path), am={"conv2": 3, "logits": [0, 1]}, am_options={"steps": 8},
        inversion={"images": x[:2], "layers": ["embed"]},
        inversion_options={"steps": 8},
        mfv={"images": x, "labels": y, "layer": "logits", "units": [4], "k": 2},
        mfv_options={"steps": 6}, every_n_epochs=1)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[callback])
  finally:
    keras.mixed_precision.set_global_policy("float32")
  assert keras.mixed_precision.global_policy().name == "float32"
  accumulator = event_files.read(tmp_path / "featviz")
  for tag in ("featviz/am/conv2", "featviz/am/logits", "featviz/inversion/embed",
              "featviz/mfv/logits/4"):
    assert event_files.steps(accumulator, tag) == [0], tag
    for event in accumulator.Tensors(tag + "/record"):
      record = metadata.parse_step_record(tf.make_ndarray(event.tensor_proto).item())
      for field in ("activations", "errors", "embedding"):
        assert np.all(np.isfinite(getattr(record, field))), (tag, field)
  result = tb_featviz.activation_maximization(model, "logits", [0], steps=8)
  assert result.images.dtype == np.float32 and np.all(np.isfinite(result.images))

