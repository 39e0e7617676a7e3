"""The optimization loop shared by AM, inversion and MFV.

The whole loop - parameterization, transforms, forward pass, regularizers,
gradient and update, for every step - is one `tf.function` built around a
`tf.while_loop`. Nothing in it is NumPy or Python per step, so TensorFlow can
place all of it on a GPU and the host only sees the final images.
"""

import contextlib

import tensorflow as tf

ADAM = "adam"
SGD = "sgd"
OPTIMIZERS = (ADAM, SGD)

_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-8


def _adam(params, grads, state, step, learning_rate):
  m, v = state
  m = _BETA_1 * m + (1 - _BETA_1) * grads
  v = _BETA_2 * v + (1 - _BETA_2) * tf.square(grads)
  t = tf.cast(step + 1, tf.float32)
  m_hat = m / (1 - tf.pow(_BETA_1, t))
  v_hat = v / (1 - tf.pow(_BETA_2, t))
  return params - learning_rate * m_hat / (tf.sqrt(v_hat) + _EPSILON), (m, v)


def _sgd(params, grads, state, step, learning_rate):
  del step
  return params - learning_rate * grads, state


_UPDATES = {ADAM: _adam, SGD: _sgd}


class Renderer:
  """A compiled optimization loop for one objective and one set of pieces.

  Args:
    objective: callable (images, targets) -> (n,) float32, maximized per image.
    param: a parameterization (see param.py).
    transforms: callable (images, seed) -> images, or None.
    regularizers: callables images -> (n,) penalties, subtracted.
    optimizer: "adam" or "sgd" (plain gradient ascent).
    jit_compile: compile the loop with XLA.
    tracing: a context manager factory entered around every call (see
      FeatureExtractor.tracing).
    gradient_mask: optional callable (step, params) -> multiplier for the
      gradient of the parameters (e.g. centre-only updates late in MFV).
  """

  def __init__(self, objective, param, *, transforms=None, regularizers=(),
               optimizer=ADAM, jit_compile=False, tracing=None,
               gradient_mask=None):
    if optimizer not in _UPDATES:
      raise ValueError(f"Unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}.")
    self.objective = objective
    self.param = param
    self.transforms = transforms
    self.regularizers = tuple(regularizers)
    self._update = _UPDATES[optimizer]
    self._optimizer = optimizer
    self._tracing = tracing or contextlib.nullcontext
    self._gradient_mask = gradient_mask
    self.trace_count = 0
    self._loop = tf.function(self._run, jit_compile=bool(jit_compile))

  def penalty(self, images):
    total = tf.zeros(tf.shape(images)[:1])
    for regularizer in self.regularizers:
      total += regularizer(images)
    return total

  def _run(self, params, targets, steps, learning_rate, seed):
    self.trace_count += 1  # Python side effect: runs only when tracing.

    def body(step, params, state):
      with tf.GradientTape() as tape:
        tape.watch(params)
        images = self.param.to_images(params)
        seen = images
        if self.transforms is not None:
          seen = self.transforms(images, tf.stack([seed, step]))
        value = self.objective(seen, targets) - self.penalty(images)
        loss = -tf.reduce_sum(value)
      grads = tape.gradient(loss, params)
      if self._gradient_mask is not None:
        grads *= self._gradient_mask(step, params)
      params, state = self._update(params, grads, state, step, learning_rate)
      return step + 1, self.param.project(params), state

    state = (tf.zeros_like(params), tf.zeros_like(params)) if self._optimizer == ADAM else ()
    _, params, _ = tf.while_loop(lambda step, *_: step < steps, body,
                                 (tf.constant(0), params, state))
    images = self.param.to_images(params)
    return images, self.objective(images, targets)

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
    with self._tracing():
      return self._loop(params, targets, tf.constant(int(steps), tf.int32),
                        tf.constant(float(learning_rate), tf.float32),
                        tf.constant(int(seed), tf.int32))
