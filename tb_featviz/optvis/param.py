"""Image parameterizations: what the optimizer actually changes.

A parameterization maps an unconstrained tensor of parameters to a batch of
images inside `value_range`. `PixelParam` optimizes the pixels themselves and
projects them back into range after every step (the classic formulation).
`FourierParam` optimizes a 1/f-scaled spectrum with decorrelated colour and a
sigmoid into range (Olah et al. 2017), which favours natural-looking images.
"""

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


class PixelParam:
  """Pixels optimized directly, clipped into `value_range` after each step.

  Args:
    value_range: (low, high) of valid pixel values.
    noise: standard deviation of the starting noise, as a fraction of the range.
    norm_bound: if set, images are also kept inside the L2 ball of this radius
      (Erhan et al. 2009 keep ||x|| = rho).
  """

  name = "pixel"

  def __init__(self, value_range=(0.0, 1.0), noise=0.1, norm_bound=None):
    self.low, self.high = (float(v) for v in value_range)
    self.noise = float(noise)
    self.norm_bound = None if norm_bound is None else float(norm_bound)

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


def _rfft2d_frequencies(height, width):
  fy = np.fft.fftfreq(height)[:, None]
  fx = np.fft.rfftfreq(width)[None, :]
  return np.sqrt(fx * fx + fy * fy).astype(np.float32)


# Up to this side, the inverse real DFT runs as two matrix products. For 64
# 28x28 images, forward and backward, they beat irfft2d on a Xeon VM (0.40
# against 0.67 ms a step) and tie on an AVX2 EPYC VM; there irfft2d pulls
# ahead above 32 pixels (32x32: 0.9x, 48x48 and 64x64: 1.4-1.6x the time).
_MATMUL_DFT_MAX_SIDE = 32


def _inverse_dft_matrices(height, width):
  """The inverse real 2-D DFT of a half spectrum as two real matrices.

  For one channel's spectrum S = Sr + i Si of shape (H, W//2+1), laid out as
  rows [Sr[k] | Si[k]], `along_width` gives the rows [Re | Im] of S E_W, where
  E_W is the inverse DFT along the width with the half spectrum's columns
  counted twice (once for DC and Nyquist). `along_height`, indexed
  [h, 2 k + j], then sums Re(E_H[h, k] (S E_W)[k]) over k with j picking the
  real (j = 0) or imaginary (j = 1) part. The result equals irfft2d's.
  """
  spectrum_width = width // 2 + 1
  counted = np.full((spectrum_width, 1), 2.0)
  counted[0] = 1.0
  if width % 2 == 0:
    counted[-1] = 1.0
  theta = 2 * np.pi * np.outer(np.arange(spectrum_width), np.arange(width)) / width
  cos_w, sin_w = counted * np.cos(theta) / width, counted * np.sin(theta) / width
  along_width = np.block([[cos_w, sin_w], [-sin_w, cos_w]])
  phi = 2 * np.pi * np.outer(np.arange(height), np.arange(height)) / height
  along_height = np.stack([np.cos(phi), -np.sin(phi)], axis=-1) / height
  return (tf.constant(along_width, tf.float32),
          tf.constant(along_height.reshape(height, 2 * height), tf.float32))


def _inverse_dft(spectra, width):
  """irfft2d of spectra laid out (N, H, 2, W//2+1); returns (N, H, W)."""
  height, spectrum_width = spectra.shape[1], spectra.shape[3]
  if max(height, width) > _MATMUL_DFT_MAX_SIDE:
    real, imaginary = tf.unstack(spectra, num=2, axis=2)
    return tf.signal.irfft2d(tf.complex(real, imaginary),
                             fft_length=(height, width))
  along_width, along_height = _inverse_dft_matrices(height, width)
  rows = tf.matmul(tf.reshape(spectra, (-1, 2 * spectrum_width)), along_width)
  # Row k's [Re | Im] halves become rows 2k and 2k + 1 by a reshape alone.
  # The height pass is one (H, 2H) x (2H, N W) product between two transposes,
  # not the (H, 2H) matrix broadcast over a batch of N small products: for 64
  # 28x28 images, forward and backward, 1.16 against 1.72 ms a step on the
  # EPYC (medians of 11 alternating runs).
  rows = tf.transpose(tf.reshape(rows, (-1, 2 * height, width)), (1, 0, 2))
  spatial = tf.matmul(along_height, tf.reshape(rows, (2 * height, -1)))
  return tf.transpose(tf.reshape(spatial, (height, -1, width)), (1, 0, 2))


class FourierParam:
  """A 1/f-scaled spectrum per channel, decorrelated colour, sigmoid into range.

  Only for image inputs (n, H, W, C). Colour decorrelation is used when C == 3.

  Args:
    value_range: (low, high) of valid pixel values.
    decay_power: how fast the spectrum's scale falls with frequency.
  """

  name = "fourier"

  def __init__(self, value_range=(0.0, 1.0), decay_power=1.0):
    self.low, self.high = (float(v) for v in value_range)
    self.decay_power = float(decay_power)
    # (height, spectrum width) -> image width, recorded by `initial`: an odd
    # width cannot be told from the spectrum's shape (W // 2 + 1 columns).
    self._widths = {}

  def _scale(self, height, width):
    """Per-frequency scale, shaped (H, 1, W//2+1) to match the spectra."""
    freqs = _rfft2d_frequencies(height, width)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width))**self.decay_power
    scale *= np.sqrt(height * width) / _FOURIER_OUTPUT_SCALE
    return tf.constant(scale[:, None, :], tf.float32)

  def initial(self, shape, seed, init_images=None):
    """Returns starting spectra for images of `shape` (n, H, W, C).

    The spectra are float32 (n, C, H, 2, W//2+1): each spectrum row's real
    parts, then its imaginary parts, which is the layout the inverse DFT's
    matrix products read without any reshuffling.
    """
    n, height, width, channels = shape
    self._widths[(height, width // 2 + 1)] = width
    if init_images is None:
      return _INIT_STDDEV * tf.random.stateless_normal(
          (n, channels, height, 2, width // 2 + 1), seed=seed)
    unit = (tf.cast(init_images, tf.float32) - self.low) / (self.high - self.low)
    unit = tf.clip_by_value(unit, _EDGE, 1.0 - _EDGE)
    logits = tf.math.log(unit) - tf.math.log1p(-unit)
    if channels == 3:
      logits = tf.einsum("nhwc,cd->nhwd", logits, np.linalg.inv(_COLOR_SQRT.T))
    spatial = tf.transpose(logits, (0, 3, 1, 2))
    spectrum = tf.signal.rfft2d(spatial)
    parts = tf.stack([tf.math.real(spectrum), tf.math.imag(spectrum)], axis=3)
    return parts / self._scale(height, width)

  def to_images(self, params):
    _, channels, height, _, spectrum_width = params.shape
    width = self._widths.get((height, spectrum_width), (spectrum_width - 1) * 2)
    # Scaled while still real: cheaper than a complex multiply.
    spectra = tf.reshape(params * self._scale(height, width),
                         (-1, height, 2, spectrum_width))
    spatial = tf.reshape(_inverse_dft(spectra, width),
                         (-1, channels, height, width))
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
