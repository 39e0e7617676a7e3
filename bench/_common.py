"""Pieces shared by the benchmarks: the machine, the bare AM loop, the output.

Imported by the scripts of this folder (run as `python bench/<script>.py`, so
this folder is on sys.path). Importing it puts the repository first on
sys.path, so that `tb_featviz`, `tests` and `demo` are this checkout's.
"""

import json
import os
import platform
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "_results")
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-8  # the engine's Adam

# ----------------------------------------------------------------------------
# The machine


def _cpu_model():
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def machine():
  """What the numbers were measured on.

  Returns:
    A dict: CPUs (all, and usable by this process), CPU model, GPUs, memory,
    versions, and the load average now.
  """
  try:
    usable = len(os.sched_getaffinity(0))
  except AttributeError:
    usable = os.cpu_count()
  return {
      "cpu_count": os.cpu_count(),
      "usable_cpus": usable,
      "cpu": _cpu_model(),
      "gpus": len(tf.config.list_physical_devices("GPU")),
      "memory_gib": proc_kib("/proc/meminfo", "MemTotal") / 2**20,
      "python": platform.python_version(),
      "tensorflow": tf.__version__,
      "keras": keras.__version__,
      "numpy": np.__version__,
      "load_average_start": list(os.getloadavg()),
  }


def print_machine(info):
  """Prints `machine()`'s dict in two lines."""
  print(f"Machine: {info['cpu_count']} CPUs ({info['usable_cpus']} usable), "
        f"{info['cpu']}, {info['gpus']} GPU(s), {info['memory_gib']:.1f} GiB")
  print(f"Python {info['python']}, TensorFlow {info['tensorflow']}, "
        f"Keras {info['keras']}; load average at start "
        f"{info['load_average_start'][0]:.1f}")


def print_load_note(info):
  """Says so when the load average went above the usable CPUs during the run.

  Args:
    info: `machine()`'s dict, with "load_average_end" added at the end.
  """
  start, end = info["load_average_start"][0], info["load_average_end"][0]
  if max(start, end) > info["usable_cpus"]:
    print(f"Note: the load average ({start:.1f} at start, {end:.1f} at end) "
          f"exceeded the {info['usable_cpus']} usable CPUs: other processes "
          "shared the cores, so absolute times are inflated; ratios taken "
          "within the run (in turns, where there are rounds) hold up better, "
          "CPU-time ratios best.")


def proc_kib(path, key):
  """A "Key: <n> kB" value of a /proc file, in KiB (nan where unreadable).

  Args:
    path: e.g. "/proc/self/status" or "/proc/meminfo".
    key: e.g. "VmHWM" (this process's peak resident memory) or "MemTotal".

  Returns:
    The value in KiB, a float.
  """
  try:
    with open(path, encoding="utf-8") as f:
      for line in f:
        if line.startswith(key + ":"):
          return float(line.split()[1])
  except OSError:
    pass
  return float("nan")


# ----------------------------------------------------------------------------
# The floor: the least a compiled loop can do for an optimization of pixels.


def channel_objective(truncated):
  """The AM objective: each image's own channel, its mean over positions.

  Args:
    truncated: a Keras model from the input to the maximized layer (whose
      output is (n, H, W, C)).

  Returns:
    A function (images, units) -> float32 (n,), `units` being int32 (n,).
  """

  def objective(images, units):
    means = tf.reduce_mean(truncated(images, training=False), axis=[1, 2])
    return tf.gather(means, units, axis=1, batch_dims=1)

  return objective


def make_floor(objective, learning_rate, jit_compile=False):
  """A bare loop: forward, backward, Adam on the pixels, clip; nothing else.

  The update and the clip into [0, 1] are the engine's, so that
  activation_maximization(..., preset="plain") (or invert, for its objective)
  should end on the same images: what it costs above this is overhead. Like
  the engine's loop, it ends with one more forward pass, for the objective the
  final images reach.

  Args:
    objective: a function (images, targets) -> float32 (n,), maximized; e.g.
      `channel_objective(truncated)`.
    learning_rate: Adam's step size.
    jit_compile: compile the loop with XLA.

  Returns:
    A function (start, targets, steps) -> (images, values): `start` the
    starting images (n, H, W, C) in [0, 1], `targets` what the objective takes
    besides the images (one entry per image), `steps` an int. `values` is the
    objective of the final images. Tracing happens once per shape, not per
    number of steps.
  """

  def update(step, images, m, v, targets):
    with tf.GradientTape() as tape:
      tape.watch(images)
      loss = -tf.reduce_sum(objective(images, targets))
    grads = tape.gradient(loss, images)
    m = _BETA_1 * m + (1 - _BETA_1) * grads
    v = _BETA_2 * v + (1 - _BETA_2) * tf.square(grads)
    t = tf.cast(step + 1, tf.float32)
    m_hat = m / (1 - tf.pow(_BETA_1, t))
    v_hat = v / (1 - tf.pow(_BETA_2, t))
    images = images - learning_rate * m_hat / (tf.sqrt(v_hat) + _EPSILON)
    return tf.clip_by_value(images, 0.0, 1.0), m, v

  # Called, not inlined, as in the engine (see Renderer.__init__): an inlined
  # loop body lands in oneDNN's fast or slow max-pool gradient per tracing,
  # and a floor in its slow mode would flatter every case measured against it.
  if not jit_compile:
    update = tf.function(update, experimental_attributes={"_noinline": True})

  @tf.function(jit_compile=jit_compile)
  def loop(start, targets, steps):
    def body(step, images, m, v):
      return (step + 1,) + tuple(update(step, images, m, v, targets))

    zeros = tf.zeros_like(start)
    _, images, _, _ = tf.while_loop(lambda step, *_: step < steps, body,
                                    (tf.constant(0), start, zeros, zeros))
    return images, objective(images, targets)

  return lambda start, targets, steps: loop(start, targets,
                                            tf.constant(int(steps), tf.int32))


def floor_batched(floor, start, targets, steps, batch_size):
  """Runs `floor` over chunks of `batch_size` images, as the engine chunks.

  Like `Renderer.run_batched`: the last chunk is padded with the last image
  (so every chunk has the same shape), and each chunk's result comes back to
  the host before the next one starts.

  Args:
    floor: `make_floor`'s function.
    start: (n, H, W, C) starting images.
    targets: one entry per image along axis 0 (e.g. int32 unit ids).
    steps: updates per chunk.
    batch_size: images per chunk.

  Returns:
    (images, values) as NumPy arrays over all n images.
  """
  n = int(start.shape[0])
  chunk = max(1, min(int(batch_size), n))
  images, values = [], []
  for begin in range(0, n, chunk):
    size = min(chunk, n - begin)
    index = tf.minimum(tf.range(begin, begin + chunk), n - 1)
    out_images, out_values = floor(tf.gather(start, index),
                                   tf.gather(targets, index), steps)
    images.append(out_images.numpy()[:size])
    values.append(out_values.numpy()[:size])
  return np.concatenate(images), np.concatenate(values)


def starting_images(n, shape, seed=0):
  """The start of tb_featviz's pixel parameterization: 0.5 + 0.1 N(0, 1).

  Args:
    n: how many images.
    shape: one image's shape (H, W, C).
    seed: the int the library's `seed=` would be.

  Returns:
    A float32 tensor (n, *shape) in [0, 1], equal to what
    activation_maximization(..., preset="plain", seed=seed) starts from.
  """
  noise = tf.random.stateless_normal((n, *shape), seed=[seed, 0])
  return tf.clip_by_value(0.5 + 0.1 * noise, 0.0, 1.0)


# ----------------------------------------------------------------------------
# Output


def print_header(header):
  """Starts a table: a blank line, `header`, and a rule as long."""
  print()
  print(header)
  print("-" * len(header))


def verdict(value, target):
  """Returns " ok" if `value` <= `target`, " ABOVE" if not, "" if no target."""
  if target is None:
    return ""
  return " ok" if value <= target else " ABOVE"


def write_json(path, payload):
  """Writes `payload` to `path` (making its folder) and says where."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(payload, f, indent=2)
  print(f"Wrote {os.path.relpath(path, REPO_ROOT)}")


def read_json(path):
  """The payload `write_json` wrote to `path`."""
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def run_fresh(script, argv, json_path, quiet=False):
  """Runs `script` with `argv` in a fresh Python process; returns its JSON.

  Args:
    script: the bench script's path (`__file__`).
    argv: its arguments (any values; they are passed as strings).
    json_path: where the child writes its result with `write_json`.
    quiet: drop the child's standard output.

  Returns:
    What the child wrote to `json_path`.

  Raises:
    subprocess.CalledProcessError: if the child failed.
  """
  subprocess.run([sys.executable, os.path.abspath(script), *map(str, argv)],
                 check=True, stdout=subprocess.DEVNULL if quiet else None)
  return read_json(json_path)
