"""Image parameterizations: what the optimizer actually changes.

A parameterization maps an unconstrained tensor of parameters to a batch of
images inside `value_range`. `PixelParam` optimizes the pixels themselves and
projects them back into range after every step (the classic formulation).
`FourierParam` optimizes a 1/f-scaled spectrum with decorrelated colour and a
sigmoid into range (Olah et al. 2017), which favours natural-looking images.
"""

import dataclasses

import numpy as np
import tensorflow as tf

# Square root of the colour correlation of ImageNet, from lucid
# (lucid/optvis/param/color.py), normalized so its largest column has norm 1.
_COLOR_SQRT = np.asarray([[0.26, 0.09, 0.02],
                          [0.27, 0.00, -0.05],
                          [0.27, -0.09, 0.03]], dtype=np.float32)
_COLOR_SQRT /= np.max(np.linalg.norm(_COLOR_SQRT, axis=0))

# lucid divides the irfft output by 4 so that a spectrum drawn with sd 0.01
# gives pixels of a sensible scale before the sigmoid.
_FOURIER_OUTPUT_SCALE = 4.0
_INIT_STDDEV = 0.01
_EDGE = 1e-3  # keeps logit(init) finite for pixels at the ends of the range


def _float_pair(value_range):
  return tuple(float(v) for v in value_range)


@dataclasses.dataclass(frozen=True)
class PixelParam:
  """Pixels optimized directly, clipped into `value_range` after each step.

  Attributes:
    value_range: (low, high) of valid pixel values.
    noise: standard deviation of the starting noise, as a fraction of the range.
    norm_bound: if set, images are also kept inside the L2 ball of this radius
      (Erhan et al. 2009 keep ||x|| = rho).
  """

  name = "pixel"
  value_range: tuple = (0.0, 1.0)
  noise: float = 0.1
  norm_bound: float = None

  def __post_init__(self):
    object.__setattr__(self, "value_range", _float_pair(self.value_range))
    object.__setattr__(self, "noise", float(self.noise))
    if self.norm_bound is not None:
      object.__setattr__(self, "norm_bound", float(self.norm_bound))

  low = property(lambda self: self.value_range[0])
  high = property(lambda self: self.value_range[1])

  def initial(self, shape, seed, init_images=None):
    """Returns the starting parameters for images of `shape` (n, ...)."""
    if init_images is not None:
      return tf.clip_by_value(tf.cast(init_images, tf.float32), self.low,
                              self.high)
    middle = 0.5 * (self.low + self.high)
    noise = tf.random.stateless_normal(shape, seed=seed)
    return self.project(middle + self.noise * (self.high - self.low) * noise)

  def to_images(self, params):
    return params

  def project(self, params):
    params = tf.clip_by_value(params, self.low, self.high)
    if self.norm_bound is None:
      return params
    axes = list(range(1, params.shape.rank))
    norm = tf.sqrt(tf.reduce_sum(tf.square(params), axis=axes, keepdims=True))
    return params * tf.minimum(1.0, self.norm_bound / tf.maximum(norm, 1e-12))


def _frequencies(height, width, half):
  """|f| of each coefficient: the rfft2d half spectrum, or the whole grid."""
  fy = np.fft.fftfreq(height)[:, None]
  fx = (np.fft.rfftfreq(width) if half else np.fft.fftfreq(width))[None, :]
  return np.sqrt(fx * fx + fy * fy).astype(np.float32)


# Up to this side, images are spanned by the separable cas (cos + sin) basis,
# the Hartley transform's kernel, as two small matrix products; above it, by
# the real DFT through irfft2d. Both give the same stationary 1/f prior: with a
# scale that depends on |f| only, products of cas(a) and cas(b) leave a
# covariance of cos(a - b) terms, as the DFT's e^{i(a - b)} does. cas needs half
# the multiply-adds of the real DFT's products (N, not 2N, a pixel and side),
# but its cost grows as N^2 a side where irfft2d's grows as N log N: where
# the two cross was measured (docs/benchmarks.md, "Measurements behind the
# code").
_CAS_MAX_SIDE = 64


def _cas_matrix(size):
  """cas(2 pi k n / N) = cos + sin: symmetric, and C C = N I."""
  theta = 2 * np.pi * np.outer(np.arange(size), np.arange(size)) / size
  return tf.constant(np.cos(theta) + np.sin(theta), tf.float32)


def _cas2d(planes):
  """C_H X C_W for every plane of float32 planes (N, H, W)."""
  _, height, width = planes.shape
  rows = tf.matmul(tf.reshape(planes, (-1, width)), _cas_matrix(width))
  # One (H, H) matrix broadcast over the planes rather than one (H, H) x
  # (H, N W) product between transposes: fewer copies (docs/benchmarks.md).
  return tf.matmul(_cas_matrix(height), tf.reshape(rows, (-1, height, width)))


@dataclasses.dataclass(frozen=True)
class FourierParam:
  """A 1/f-scaled spectrum per channel, decorrelated colour, sigmoid into range.

  Only for image inputs (n, H, W, C). Colour decorrelation is used when C == 3.
  The spectrum is over the cas basis for images up to 64 pixels a side, over
  the real DFT for larger ones (the same prior; see `_CAS_MAX_SIDE`).

  Attributes:
    value_range: (low, high) of valid pixel values.
    decay_power: how fast the spectrum's scale falls with frequency.
  """

  name = "fourier"
  value_range: tuple = (0.0, 1.0)
  decay_power: float = 1.0
  # (height, spectrum width) -> image width, recorded by `initial`: an odd
  # width cannot be told from the spectrum's shape (W // 2 + 1 columns). A
  # memo of shapes seen, not an option: it takes no part in comparisons.
  _widths: dict = dataclasses.field(default_factory=dict, compare=False,
                                    repr=False)

  def __post_init__(self):
    object.__setattr__(self, "value_range", _float_pair(self.value_range))
    object.__setattr__(self, "decay_power", float(self.decay_power))

  low = property(lambda self: self.value_range[0])
  high = property(lambda self: self.value_range[1])

  def _scale(self, height, width, half):
    """Per-coefficient scale: (H, 1, W//2+1) for half spectra, else (H, W)."""
    freqs = _frequencies(height, width, half)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width))**self.decay_power
    scale *= np.sqrt(height * width) / _FOURIER_OUTPUT_SCALE
    if half:
      return tf.constant(scale[:, None, :], tf.float32)
    # The cas basis: the 1/(H W) that irfft2d applies, and sqrt(2) because a
    # coefficient is one real number where the DFT's are two, so that pixels
    # start with the same spread either way.
    return tf.constant(scale * np.sqrt(2.0) / (height * width), tf.float32)

  def initial(self, shape, seed, init_images=None):
    """Returns the starting coefficients for images of `shape` (n, H, W, C).

    Images up to 64 pixels a side get float32 (n, C, H, W), one cas
    coefficient a pixel; larger ones get half spectra (n, C, H, 2, W//2+1),
    each spectrum row's real parts, then its imaginary parts.
    """
    n, height, width, channels = shape
    cas = max(height, width) <= _CAS_MAX_SIDE
    if not cas:
      self._widths[(height, width // 2 + 1)] = width
    if init_images is None:
      coefficients = ((n, channels, height, width) if cas else
                      (n, channels, height, 2, width // 2 + 1))
      return _INIT_STDDEV * tf.random.stateless_normal(coefficients, seed=seed)
    unit = (tf.cast(init_images, tf.float32) - self.low) / (self.high - self.low)
    unit = tf.clip_by_value(unit, _EDGE, 1.0 - _EDGE)
    logits = tf.math.log(unit) - tf.math.log1p(-unit)
    if channels == 3:
      logits = tf.einsum("nhwc,cd->nhwd", logits, np.linalg.inv(_COLOR_SQRT.T))
    spatial = tf.transpose(logits, (0, 3, 1, 2))
    if cas:  # C C = N I, so the basis inverts itself up to H W
      planes = _cas2d(tf.reshape(spatial, (-1, height, width)))
      scale = self._scale(height, width, False)
      coefficients = planes / (height * width) / scale
      return tf.reshape(coefficients, (n, channels, height, width))
    spectrum = tf.signal.rfft2d(spatial)
    parts = tf.stack([tf.math.real(spectrum), tf.math.imag(spectrum)], axis=3)
    return parts / self._scale(height, width, True)

  def to_images(self, params):
    if params.shape.rank == 4:
      _, channels, height, width = params.shape
      planes = tf.reshape(params * self._scale(height, width, False),
                          (-1, height, width))
      spatial = _cas2d(planes)
    else:
      _, channels, height, _, spectrum_width = params.shape
      width = self._widths.get((height, spectrum_width), (spectrum_width - 1) * 2)
      # Scaled while still real: cheaper than a complex multiply.
      real, imaginary = tf.unstack(params * self._scale(height, width, True),
                                   num=2, axis=3)
      spatial = tf.signal.irfft2d(tf.complex(real, imaginary),
                                  fft_length=(height, width))
    spatial = tf.reshape(spatial, (-1, channels, height, width))
    if channels == 1:
      logits = tf.reshape(spatial, (-1, height, width, 1))
    else:
      logits = tf.transpose(spatial, (0, 2, 3, 1))
    if logits.shape[-1] == 3:
      logits = tf.einsum("nhwc,cd->nhwd", logits, _COLOR_SQRT.T)
    unit = tf.sigmoid(logits)
    if (self.low, self.high) == (0.0, 1.0):
      return unit  # every op here runs twice (and back) at every step
    return self.low + (self.high - self.low) * unit

  def project(self, params):
    return params


PARAMETERIZATIONS = {"pixel": PixelParam, "fourier": FourierParam}


def make(param, value_range, image_rank):
  """Resolves a parameterization given by name or instance.

  Args:
    param: "pixel", "fourier" or an object with initial/to_images/project.
    value_range: (low, high), used when `param` is a name.
    image_rank: rank of the model input, batch axis included.

  Returns:
    A parameterization object.

  Raises:
    ValueError: for an unknown name, or "fourier" on a non-image input.
  """
  if not isinstance(param, str):
    return param
  if param not in PARAMETERIZATIONS:
    raise ValueError(f"Unknown parameterization {param!r}; use one of "
                     f"{sorted(PARAMETERIZATIONS)} or a parameterization object.")
  if param == "fourier" and image_rank != 4:
    raise ValueError(
        "The Fourier parameterization needs image inputs (batch, height, "
        "width, channels); this model's input has rank "
        f"{image_rank}. Use param='pixel'.")
  return PARAMETERIZATIONS[param](value_range)
