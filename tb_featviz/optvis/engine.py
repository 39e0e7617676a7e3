"""The optimization loop shared by AM, inversion and MFV.

The whole loop - parameterization, transforms, forward pass, regularizers,
gradient and update, for every step - is one `tf.function` built around a
`tf.while_loop`. Nothing in it is NumPy or Python per step, so TensorFlow can
place all of it on a GPU and the host only sees the final images.
"""

import dataclasses
import functools

import numpy as np
import tensorflow as tf

ADAM = "adam"
SGD = "sgd"
OPTIMIZERS = (ADAM, SGD)

_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-8


def _adam(params, grads, state, step, learning_rate, isotropic=False):
  m, v = state
  m = _BETA_1 * m + (1 - _BETA_1) * grads
  square = tf.square(grads)
  if isotropic:
    # One scale per image, so a step keeps the gradient's direction. Needed
    # under an L2 bound: per-pixel scaling turns the gradient w into sign(w),
    # and projected steps then settle at rho * sign(w) / sqrt(d), not at the
    # maximum rho * w / ||w||.
    square = tf.reduce_mean(square, axis=list(range(1, grads.shape.rank)),
                            keepdims=True)
  v = _BETA_2 * v + (1 - _BETA_2) * square
  t = tf.cast(step + 1, tf.float32)
  m_hat = m / (1 - tf.pow(_BETA_1, t))
  v_hat = v / (1 - tf.pow(_BETA_2, t))
  return params - learning_rate * m_hat / (tf.sqrt(v_hat) + _EPSILON), (m, v)


def _sgd(params, grads, state, step, learning_rate, isotropic=False):
  del step, isotropic
  return params - learning_rate * grads, state


_UPDATES = {ADAM: _adam, SGD: _sgd}


@dataclasses.dataclass(frozen=True)
class Loop:
  """Everything that shapes a compiled optimization loop.

  Loops compare by value and hash, so equal Loops share one compiled trace
  (see FeatureExtractor.renderer): every option that changes what is traced
  is a field here or of one of its parts, which are frozen dataclasses too.

  Attributes:
    objective: callable (images, targets) -> (n,) float32, maximized per image.
    param: a parameterization (see param.py).
    transforms: callable (images, seed) -> images, or None.
    regularizers: callables images -> (n,) penalties, subtracted.
    optimizer: "adam" or "sgd" (plain gradient ascent).
    jit_compile: compile the loop with XLA.
    update_region: if set, only the central fraction of each side of the
      images (pixel parameterization) is updated: MFV's centre bias.
    final_learning_rate: the learning rate at the last step, as a fraction of
      the first; the rate decays exponentially in between (1.0: constant).
  """
  objective: object
  param: object
  transforms: object = None
  regularizers: tuple = ()
  optimizer: str = ADAM
  jit_compile: bool = False
  update_region: float = None
  final_learning_rate: float = 1.0

  def __post_init__(self):
    object.__setattr__(self, "regularizers", tuple(self.regularizers))
    if self.optimizer not in _UPDATES:
      raise ValueError(f"Unknown optimizer {self.optimizer!r}; use one of "
                       f"{OPTIMIZERS}.")
    try:
      hash(self)
    except TypeError as error:
      raise ValueError(
          f"A parameterization, transform or regularizer cannot be hashed "
          f"({error}): compiled loops are cached by their options. Make it a "
          "frozen dataclass (@dataclasses.dataclass(frozen=True)) or a "
          "function.") from None


def centre_mask(height, width, fraction):
  """A (1, H, W, 1) mask: 1 inside the central `fraction` of each side, 0 outside."""
  def band(size):
    margin = int(round(size * (1.0 - fraction) / 2.0))
    inside = np.zeros(size, np.float32)
    inside[margin:size - margin] = 1.0
    return inside

  return tf.constant(np.outer(band(height), band(width))[None, :, :, None])


class Renderer:
  """The compiled optimization loop of one `Loop`.

  Args:
    loop: the Loop.
  """

  def __init__(self, loop):
    self.loop = loop
    self._update = _UPDATES[loop.optimizer]
    # A parameterization that keeps an L2 bound needs direction-keeping steps.
    self._isotropic = getattr(loop.param, "norm_bound", None) is not None
    self.trace_count = 0
    # A partial, not the bound method: tf.function keeps its retracing count
    # per function code, which every Renderer shares, so a dozen loops traced
    # once each (one callback interval) would be reported as "excessive
    # retracing". A partial is counted on its own.
    self._loop = tf.function(functools.partial(Renderer._run, self),
                             jit_compile=bool(loop.jit_compile))
    # One step is a function the loop calls, not inlined into it. TensorFlow's
    # oneDNN layout pass walks an inlined loop body as part of a cyclic graph
    # and, depending on the order it happens to visit it in, leaves max-pool
    # gradients on the slow Eigen kernel (see docs/benchmarks.md). A called
    # function is rewritten on its own, acyclic, every time. XLA compiles the
    # loop whole, so there it stays a plain Python function.
    step = functools.partial(Renderer._step, self)
    self._step_function = step if loop.jit_compile else tf.function(
        step, experimental_attributes={"_noinline": True})

  def penalty(self, images):
    total = tf.zeros(tf.shape(images)[:1])
    for regularizer in self.loop.regularizers:
      total += regularizer(images)
    return total

  def _step(self, step, params, state, targets, steps, learning_rate, seed):
    """One update of `params`; returns (params, state)."""
    loop = self.loop
    with tf.GradientTape() as tape:
      tape.watch(params)
      images = loop.param.to_images(params)
      seen = images
      if loop.transforms is not None:
        seen = loop.transforms(images, tf.stack([seed, step]))
      value = loop.objective(seen, targets) - self.penalty(images)
      loss = -tf.reduce_sum(value)
    grads = tape.gradient(loss, params)
    if loop.update_region is not None:
      grads *= centre_mask(params.shape[1], params.shape[2], loop.update_region)
    rate = learning_rate
    if loop.final_learning_rate != 1.0:
      progress = tf.cast(step, tf.float32) / tf.cast(tf.maximum(steps, 1), tf.float32)
      rate *= tf.pow(float(loop.final_learning_rate), progress)
    params, state = self._update(params, grads, state, step, rate,
                                 isotropic=self._isotropic)
    return loop.param.project(params), state

  def _run(self, params, targets, steps, learning_rate, seed):
    self.trace_count += 1  # Python side effect: runs only when tracing.

    def body(step, params, state):
      params, state = self._step_function(step, params, state, targets, steps,
                                          learning_rate, seed)
      return step + 1, params, state

    state = ((tf.zeros_like(params), tf.zeros_like(params))
             if self.loop.optimizer == ADAM else ())
    _, params, _ = tf.while_loop(lambda step, *_: step < steps, body,
                                 (tf.constant(0), params, state))
    images = self.loop.param.to_images(params)
    return images, self.loop.objective(images, targets)

  def __call__(self, params, targets, *, steps, learning_rate, seed):
    """Runs the loop.

    Args:
      params: starting parameters (see the parameterization's `initial`).
      targets: tensors passed to the objective unchanged (unit ids, features).
      steps: number of updates.
      learning_rate: step size.
      seed: int, seeds the random transforms of every step.

    Returns:
      (images, values): the final images and the objective they reach without
      transforms, as tensors.
    """
    return self._loop(params, targets, tf.constant(int(steps), tf.int32),
                      tf.constant(float(learning_rate), tf.float32),
                      tf.constant(int(seed), tf.int32))

  def run_batched(self, params, targets, *, batch_size, steps, learning_rate, seed):
    """Runs the loop over `params` and `targets` in chunks of `batch_size`.

    The last chunk is padded to full size (and the padding dropped), so every
    chunk has the same shapes and the loop is traced once.

    Args:
      params: starting parameters, one per image along axis 0.
      targets: a tensor with one entry per image along axis 0.
      batch_size: the most images optimized at once.
      steps, learning_rate: as for `__call__`.
      seed: int; chunk i uses a seed derived from it and its offset.

    Returns:
      (images, values) as NumPy arrays over all images.
    """
    n = int(params.shape[0])
    chunk = max(1, min(int(batch_size), n))
    images, values = [], []
    for begin in range(0, n, chunk):
      size = min(chunk, n - begin)
      index = tf.minimum(tf.range(begin, begin + chunk), n - 1)  # pads with the last
      out_images, out_values = self(
          tf.gather(params, index), tf.gather(targets, index), steps=steps,
          learning_rate=learning_rate, seed=(seed * 1000003 + begin) % 2**31)
      images.append(out_images.numpy()[:size])
      values.append(out_values.numpy()[:size])
    return (np.concatenate(images).astype(np.float32),
            np.concatenate(values).astype(np.float32))
