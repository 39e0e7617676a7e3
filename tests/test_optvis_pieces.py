"""The small pieces of the optimization engine, one behaviour at a time."""

import io
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz.optvis import engine
from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import param as param_lib
from tb_featviz.optvis import recipe
from tb_featviz.optvis import regularizers as reg_lib
from tb_featviz.optvis import transforms as transforms_lib

HOST_CALLBACK_OPS = {"PyFunc", "EagerPyFunc", "PyFuncStateless", "NumpyFunction"}


def _random_images(shape, seed=0, low=0.0, high=1.0):
  return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


# --- transforms ---------------------------------------------------------------


INTERPOLATIONS = pytest.mark.parametrize("interpolation",
                                         transforms_lib.INTERPOLATIONS)


@INTERPOLATIONS
def test_resample_with_the_identity_matrix_returns_the_input_exactly(interpolation):
  images = _random_images((3, 7, 9, 2))
  out = transforms_lib.resample(tf.constant(images), tf.eye(3), interpolation)
  np.testing.assert_array_equal(out.numpy(), images)


@INTERPOLATIONS
@pytest.mark.parametrize("seed", [2, 5, 11])
def test_jitter_by_an_integer_shift_is_a_roll_in_the_interior(seed, interpolation):
  images = _random_images((6, 12, 12, 1), seed=1)
  matrix = transforms_lib.Jitter(3).matrix(12, 12, tf.constant([4, seed])).numpy()
  dx, dy = matrix[:2, 2].astype(int)
  # Jitter only translates, by whole pixels.
  np.testing.assert_array_equal(matrix[:2, :2], np.eye(2))
  np.testing.assert_array_equal(matrix[:2, 2], np.round(matrix[:2, 2]))
  assert abs(dx) <= 3 and abs(dy) <= 3
  out = transforms_lib.resample(tf.constant(images), tf.constant(matrix),
                                interpolation).numpy()
  # Output pixel (x, y) reads input (x + dx, y + dy); borders are reflected.
  rolled = np.roll(images, (-dy, -dx), axis=(1, 2))
  interior = (slice(None), slice(max(0, -dy), 12 - max(0, dy)),
              slice(max(0, -dx), 12 - max(0, dx)))
  np.testing.assert_allclose(out[interior], rolled[interior], atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 1, 7, 2), (2, 6, 1, 1), (1, 1, 1, 3)])
def test_resample_of_a_one_pixel_side_reads_only_that_row_or_column(shape):
  images = _random_images(shape, seed=7)
  matrix = np.array([[0.9, 0.1, 0.6], [0.2, 1.1, 0.3], [0, 0, 1]], np.float32)
  out = transforms_lib.resample(tf.constant(images), tf.constant(matrix)).numpy()
  _, height, width, _ = shape

  def mirrored(coord, size):  # whole-sample mirroring into [0, size - 1]
    if size == 1:
      return 0.0
    period = 2.0 * (size - 1)
    return (size - 1) - abs(coord % period - (size - 1))

  expected = np.empty_like(images)
  for y in range(height):
    for x in range(width):
      sx = mirrored(matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2], width)
      sy = mirrored(matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2], height)
      x0, y0 = min(int(sx), max(width - 2, 0)), min(int(sy), max(height - 2, 0))
      x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
      wx, wy = sx - x0, sy - y0
      expected[:, y, x] = ((1 - wy) * ((1 - wx) * images[:, y0, x0] + wx * images[:, y0, x1])
                           + wy * ((1 - wx) * images[:, y1, x0] + wx * images[:, y1, x1]))
  np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 9, 11, 2), (2, 1, 7, 1), (1, 6, 1, 3)])
def test_nearest_resample_reads_the_pixel_nearest_to_each_source(shape):
  images = _random_images(shape, seed=8)
  # No source lands near a half pixel, where float32 and float64 could round apart.
  matrix = np.array([[0.9137, 0.1071, 0.3719], [0.1733, 1.0687, 0.2913], [0, 0, 1]],
                    np.float32)
  out = transforms_lib.resample(tf.constant(images), tf.constant(matrix),
                                "nearest").numpy()
  _, height, width, _ = shape

  def mirrored(coord, size):
    if size == 1:
      return 0
    period = 2.0 * (size - 1)
    return int(np.round((size - 1) - abs(coord % period - (size - 1))))

  expected = np.empty_like(images)
  for y in range(height):
    for x in range(width):
      sx = mirrored(matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2], width)
      sy = mirrored(matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2], height)
      expected[:, y, x] = images[:, sy, sx]
  np.testing.assert_array_equal(out, expected)


def test_one_channel_nearest_gives_the_same_on_both_paths():
  # CPUs take columns of (n, H*W) with a bincount gradient; GPUs take pixel
  # rows with a segment sum (deterministic there). Same values, same gradient.
  x = tf.constant(_random_images((3, 9, 11, 1), seed=9))
  y = tf.constant(_random_images((3, 99), seed=10))
  # A zoom in: some input pixels are read twice, so gradients add up.
  matrix = tf.constant([[0.8, 0.1, 0.9], [-0.1, 0.8, 0.7], [0, 0, 1]])
  index = transforms_lib._nearest(matrix, 9, 11)
  assert len(np.unique(index.numpy())) < 99
  flat = tf.reshape(x, (3, 99))
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(flat)
    by_columns = transforms_lib._columns(flat, index)
    by_rows = tf.transpose(transforms_lib._rows(tf.transpose(flat), index))
    columns_value = tf.reduce_sum(by_columns * y)
    rows_value = tf.reduce_sum(by_rows * y)
  np.testing.assert_array_equal(by_columns.numpy(), by_rows.numpy())
  np.testing.assert_allclose(tape.gradient(columns_value, flat).numpy(),
                             tape.gradient(rows_value, flat).numpy(), rtol=1e-6)


def test_an_unknown_interpolation_is_refused_with_the_choices():
  with pytest.raises(ValueError, match="cubic.*bilinear.*nearest"):
    transforms_lib.Compose([transforms_lib.Jitter(1)], interpolation="cubic")
  with pytest.raises(ValueError, match="cubic.*bilinear.*nearest"):
    transforms_lib.resample(tf.zeros((1, 4, 4, 1)), tf.eye(3), "cubic")


def test_jitter_draws_different_shifts_for_different_seeds():
  jitter = transforms_lib.Jitter(3)
  shifts = {tuple(jitter.matrix(12, 12, tf.constant([4, s])).numpy()[:2, 2])
            for s in range(8)}
  assert len(shifts) > 1


@INTERPOLATIONS
@pytest.mark.parametrize("channels", [1, 3])
def test_resample_gradient_is_the_exact_adjoint_of_the_sampling(interpolation,
                                                                channels):
  # <resample(x), y> = <x, grad>: the custom gradient is the true transpose of
  # the sampling, borders included, for a scale and rotation.
  compose = transforms_lib.Compose([transforms_lib.Scale(0.8, 1.2),
                                    transforms_lib.Rotate(20)], interpolation)
  seed = tf.constant([3, 9], tf.int32)
  x = tf.constant(_random_images((2, 9, 11, channels), seed=4))
  y = tf.constant(_random_images((2, 9, 11, channels), seed=5))
  with tf.GradientTape() as tape:
    tape.watch(x)
    inner = tf.reduce_sum(compose(x, seed) * y)
  grad = tape.gradient(inner, x)
  np.testing.assert_allclose(tf.reduce_sum(x * grad).numpy(), inner.numpy(),
                             rtol=1e-5)
  # Linear in x, so the gradient alone gives the transform of any image.
  x2 = tf.constant(_random_images((2, 9, 11, channels), seed=6))
  np.testing.assert_allclose(tf.reduce_sum(compose(x2, seed) * y).numpy(),
                             tf.reduce_sum(x2 * grad).numpy(), rtol=1e-5)


def test_compose_is_deterministic_for_a_seed_and_differentiable():
  compose = transforms_lib.Compose(
      [transforms_lib.Jitter(2), transforms_lib.Scale(0.9, 1.1), transforms_lib.Rotate(8)])
  images = tf.constant(_random_images((4, 16, 16, 3), seed=2))
  seed = tf.constant([7, 3], tf.int32)
  first, again = compose(images, seed), compose(images, seed)
  np.testing.assert_array_equal(first.numpy(), again.numpy())
  other = compose(images, tf.constant([7, 4], tf.int32))
  assert not np.allclose(first.numpy(), other.numpy())
  weights = tf.constant(_random_images((4, 16, 16, 3), seed=3))
  with tf.GradientTape() as tape:
    tape.watch(images)
    value = tf.reduce_sum(compose(images, seed) * weights)
  grad = tape.gradient(value, images)
  assert grad is not None
  assert np.all(np.isfinite(grad.numpy()))
  assert np.any(grad.numpy() != 0)


def test_compose_draws_no_global_randomness():
  compose = transforms_lib.default_transforms(16, 16)
  images = tf.constant(_random_images((2, 16, 16, 1)))
  state = tf.random.get_global_generator().state.numpy().copy()
  np_state = np.random.get_state()
  compose(images, tf.constant([1, 1], tf.int32))
  np.testing.assert_array_equal(tf.random.get_global_generator().state.numpy(), state)
  assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state))


# --- regularizers -------------------------------------------------------------


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_total_variation_of_a_constant_image_is_zero(value_range):
  constant = np.full((2, 10, 10, 3), 0.3 * value_range[1], np.float32)
  tv = reg_lib.TotalVariation(1.0, value_range=value_range)
  np.testing.assert_array_equal(tv(tf.constant(constant)).numpy(), [0.0, 0.0])
  tv1 = reg_lib.TotalVariation(1.0, beta=1.0, value_range=value_range)
  assert np.all(tv1(tf.constant(constant)).numpy() < 1e-3)
  noisy = _random_images((2, 10, 10, 3), low=value_range[0], high=value_range[1])
  assert np.all(tv(tf.constant(noisy)).numpy() > 0.01)


def test_total_variation_of_a_vector_input_uses_the_display_shape():
  tv = reg_lib.TotalVariation(1.0, display_shape=(8, 8))
  constant = np.full((3, 64), 0.7, np.float32)
  np.testing.assert_array_equal(tv(tf.constant(constant)).numpy(), [0.0] * 3)
  stripes = np.tile(np.repeat([[0.0, 1.0]], 4, axis=0).reshape(1, 8), (8, 1))  # columns
  per_image = tv(tf.constant(stripes.reshape(1, 64).astype(np.float32))).numpy()
  assert per_image[0] > 0.1


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_l2_is_zero_at_the_middle_of_the_range(value_range):
  low, high = value_range
  l2 = reg_lib.L2(2.0, value_range=value_range)
  middle = np.full((2, 5, 5, 1), 0.5 * (low + high), np.float32)
  np.testing.assert_array_equal(l2(tf.constant(middle)).numpy(), [0.0, 0.0])
  top = np.full((1, 5, 5, 1), high, np.float32)
  np.testing.assert_allclose(l2(tf.constant(top)).numpy(), [2.0], rtol=1e-6)


@pytest.mark.parametrize("alpha", [2.0, 6.0])
def test_alpha_norm_grows_with_the_alpha_th_power(alpha):
  norm = reg_lib.AlphaNorm(1.0, alpha=alpha, value_range=(0.0, 1.0))

  def at(c):  # an image whose centred values are all c
    return norm(tf.constant(np.full((1, 4, 4, 1), 0.5 + 0.5 * c, np.float32))).numpy()[0]

  np.testing.assert_allclose(at(0.4), 0.4**alpha, rtol=1e-4)
  np.testing.assert_allclose(at(0.8) / at(0.4), 2.0**alpha, rtol=1e-4)
  assert at(0.0) == 0.0


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0, 6.0, 7.0, 2.5])
def test_alpha_norm_and_its_gradient_match_the_power_function(alpha):
  # Whole exponents go by products, the others by tf.pow: both must be |x|^alpha.
  norm = reg_lib.AlphaNorm(0.5, alpha=alpha, value_range=(0.0, 1.0))
  images = tf.constant(_random_images((2, 5, 6, 3), seed=4))
  with tf.GradientTape() as tape:
    tape.watch(images)
    value = norm(images)
  centred = np.abs(2.0 * images.numpy() - 1.0).astype(np.float64)
  expected = 0.5 * np.mean(centred.reshape(2, -1)**alpha, axis=1)
  np.testing.assert_allclose(value.numpy(), expected, rtol=1e-5)
  sign = np.sign(2.0 * images.numpy() - 1.0)
  expected_gradient = 0.5 * alpha * centred**(alpha - 1) * sign * 2.0 / (5 * 6 * 3)
  np.testing.assert_allclose(tape.gradient(value, images).numpy(),
                             expected_gradient, rtol=1e-4, atol=1e-9)


def test_blur_penalty_is_zero_for_a_constant_image():
  blur = reg_lib.Blur(1.0, sigma=1.0)
  constant = np.full((2, 12, 12, 3), 0.25, np.float32)
  np.testing.assert_allclose(blur(tf.constant(constant)).numpy(), [0.0, 0.0], atol=1e-10)
  noisy = _random_images((2, 12, 12, 3))
  assert np.all(blur(tf.constant(noisy)).numpy() > 1e-3)
  kernel = reg_lib.gaussian_kernel(1.5, 3).numpy()
  np.testing.assert_allclose(kernel.sum(axis=(0, 1)), np.ones((3, 1)), rtol=1e-6)


# --- parameterizations --------------------------------------------------------


# 12 pixels a side take the cas basis, 72 the real DFT (see param._CAS_MAX_SIDE).
@pytest.mark.parametrize("side", [12, 72])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_fourier_images_stay_inside_the_range(side, channels, value_range):
  fourier = param_lib.FourierParam(value_range)
  params = fourier.initial((3, side, side, channels), seed=[0, 0])
  wild = 50.0 * tf.random.stateless_normal(params.shape, seed=[1, 2])
  for p in (params, wild):
    images = fourier.to_images(p).numpy()
    assert images.shape == (3, side, side, channels)
    assert images.dtype == np.float32
    assert images.min() >= value_range[0] and images.max() <= value_range[1]


@pytest.mark.parametrize("shape", [(2, 12, 12, 1), (2, 12, 12, 3), (2, 9, 11, 3),
                                   (1, 15, 15, 1), (1, 1, 1, 1), (2, 33, 35, 1),
                                   (1, 65, 70, 1), (1, 72, 66, 3)])
def test_fourier_initial_inverts_to_images(shape):
  fourier = param_lib.FourierParam((0.0, 1.0))
  images = _random_images(shape, seed=4, low=0.05, high=0.95)
  params = fourier.initial(shape, seed=[0, 0], init_images=images)
  back = fourier.to_images(params).numpy()
  assert back.shape == shape
  np.testing.assert_allclose(back, images, atol=1e-3)


@pytest.mark.parametrize("height, width", [(28, 28), (5, 7), (1, 1), (1, 6),
                                           (6, 1), (3, 2), (64, 63)])
def test_cas2d_is_the_separable_hartley_transform(height, width):
  planes = np.random.default_rng(3).normal(size=(4, height, width))
  # cas(t) = cos t + sin t, and the DFT's kernel is cos t - i sin t, so along
  # one axis cas is Re(F x) - Im(F x).
  def cas_along(x, axis):
    spectrum = np.fft.fft(x, axis=axis)
    return spectrum.real - spectrum.imag
  expected = cas_along(cas_along(planes, 1), 2)
  got = param_lib._cas2d(tf.constant(planes, tf.float32)).numpy()
  np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("height, width", [(6, 5), (4, 8), (3, 66)])
def test_the_fourier_prior_is_the_same_at_every_position(height, width):
  # With iid starting coefficients, the logits' covariance must depend only on
  # the displacement between two pixels (cyclically), in both bases: no place
  # in the image is favoured before the objective speaks.
  fourier = param_lib.FourierParam((0.0, 1.0))
  zeros = tf.zeros_like(fourier.initial((1, height, width, 1), seed=[0, 0]))
  with tf.GradientTape() as tape:
    tape.watch(zeros)
    images = tf.reshape(fourier.to_images(zeros), [-1])
  # The sigmoid's slope at 0 is 1/4: the Jacobian is the linear map / 4.
  jacobian = tape.jacobian(images, zeros)
  linear = 4.0 * tf.reshape(jacobian, (height * width, -1)).numpy()
  covariance = (linear @ linear.T).reshape(height, width, height, width)
  ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
  for dy, dx in [(1, 0), (0, 1), (2, 3)]:
    shifted = covariance[(ys + dy) % height, (xs + dx) % width][
        :, :, (ys + dy) % height, (xs + dx) % width]
    np.testing.assert_allclose(shifted, covariance, atol=1e-5 * covariance.max())
  assert covariance.max() > 0


def test_cas_and_dft_bases_start_pixels_with_about_the_same_spread(monkeypatch):
  shape = (300, 28, 28, 1)
  def logit_sd():
    fourier = param_lib.FourierParam((0.0, 1.0))
    images = fourier.to_images(fourier.initial(shape, seed=[1, 2])).numpy()
    return np.std(np.log(images / (1 - images)))
  cas = logit_sd()
  monkeypatch.setattr(param_lib, "_CAS_MAX_SIDE", 0)  # the DFT at 28 pixels
  dft = logit_sd()
  # The DFT's half spectrum weighs its first and last columns half (irfft2d
  # reads only their Hermitian part); cas weighs every frequency alike.
  assert 1.0 < cas / dft < 1.15


def test_pixel_param_project_clips_and_bounds_the_norm():
  pixel = param_lib.PixelParam((-1.0, 1.0), norm_bound=2.0)
  wild = tf.constant(np.random.default_rng(5).normal(0, 3, (4, 6, 6, 1)).astype(np.float32))
  projected = pixel.project(wild).numpy()
  assert projected.min() >= -1.0 and projected.max() <= 1.0
  norms = np.linalg.norm(projected.reshape(4, -1), axis=1)
  np.testing.assert_allclose(norms, 2.0, rtol=1e-5)  # all were far outside the ball
  small = np.full((1, 6, 6, 1), 0.1, np.float32)  # norm 0.6: left alone
  np.testing.assert_array_equal(pixel.project(tf.constant(small)).numpy(), small)
  box_only = param_lib.PixelParam((0.0, 1.0))
  np.testing.assert_array_equal(
      box_only.project(wild).numpy(), np.clip(wild.numpy(), 0.0, 1.0))


def test_pixel_param_starts_inside_the_range_and_from_init():
  pixel = param_lib.PixelParam((0.0, 255.0))
  start = pixel.initial((3, 5, 5, 1), seed=[0, 0]).numpy()
  assert start.min() >= 0.0 and start.max() <= 255.0 and start.std() > 1.0
  init = _random_images((3, 5, 5, 1), high=255.0)
  np.testing.assert_array_equal(pixel.initial((3, 5, 5, 1), [0, 0], init_images=init), init)


# --- defaults -----------------------------------------------------------------


def test_default_pieces_for_images_follow_lucid_and_smooth_only_pixels():
  fourier = recipe.resolve((28, 28, 1))
  assert isinstance(fourier.param, param_lib.FourierParam)
  assert fourier.transforms.interpolation == transforms_lib.NEAREST
  assert [type(t) for t in fourier.transforms.transforms] == [
      transforms_lib.Jitter, transforms_lib.Scale, transforms_lib.Rotate]
  assert fourier.regularizers == ()  # the 1/f spectrum is the smoothing
  pixels = recipe.resolve((28, 28, 1), param="pixel")
  assert [type(r) for r in pixels.regularizers] == [reg_lib.TotalVariation]
  assert pixels != fourier
  plain = recipe.resolve((28, 28, 1), preset="plain")
  assert (plain.transforms, plain.regularizers) == (None, ())


# --- unit objectives ----------------------------------------------------------


def test_unit_objective_channel_mean_and_neuron_centre():
  features = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
  units = tf.constant([1, 3], tf.int32)
  channel = features_lib.unit_objective(tf.constant(features), units, "channel").numpy()
  np.testing.assert_allclose(channel, [features[0, :, :, 1].mean(), features[1, :, :, 3].mean()])
  neuron = features_lib.unit_objective(tf.constant(features), units, "neuron").numpy()
  np.testing.assert_array_equal(neuron, [features[0, 1, 2, 1], features[1, 1, 2, 3]])
  dense = np.arange(12, dtype=np.float32).reshape(3, 4)
  picked = features_lib.unit_objective(tf.constant(dense), tf.constant([2, 0, 3]), "channel")
  np.testing.assert_array_equal(picked.numpy(), [2.0, 4.0, 11.0])


def test_woken_objective_is_the_relu_value_and_wakes_silent_units():
  pre = tf.constant([[[-2.0, 5.0], [-1.0, 5.0], [-0.5, 5.0], [-3.0, 5.0]],   # unit 0 silent
                     [[-2.0, 0.0], [0.5, 0.0], [-0.5, 0.0], [1.0, 0.0]]])  # unit 0 fires
  units = tf.constant([0, 0])
  with tf.GradientTape() as tape:
    tape.watch(pre)
    value = features_lib.woken_unit_objective(pre, units)
    total = tf.reduce_sum(value)
  np.testing.assert_allclose(value.numpy(), [0.0, 1.5 / 4])
  grad = tape.gradient(total, pre).numpy()
  # Silent image: every position of its unit is pushed up, as by the raw mean,
  # and the one nearest to firing (-0.5) as by the raw maximum too.
  np.testing.assert_allclose(grad[0, :, 0], [0.25, 0.25, 1.25, 0.25])
  # An image that fires gets the ordinary relu gradient; other units get none.
  np.testing.assert_allclose(grad[1, :, 0], [0.0, 0.25, 0.0, 0.25])
  assert not grad[:, :, 1].any()


# --- the compiled loop --------------------------------------------------------


def test_loops_traced_once_each_are_not_reported_as_retracing():
  # One callback interval traces a loop per layer and kind; TensorFlow must
  # not take a dozen first tracings for "excessive retracing" of one function.
  messages = io.StringIO()
  handler = logging.StreamHandler(messages)
  tf.get_logger().addHandler(handler)
  try:
    for _ in range(8):
      renderer = engine.Renderer(engine.Loop(
          lambda images, targets: tf.reduce_mean(images, axis=[1, 2, 3]) * targets,
          param_lib.PixelParam()))
      renderer(tf.zeros((2, 4, 4, 1)), tf.ones((2,)), steps=2,
               learning_rate=0.1, seed=0)
      assert renderer.trace_count == 1
  finally:
    tf.get_logger().removeHandler(handler)
  assert "retracing" not in messages.getvalue()


def _graph_ops(concrete_function):
  graph_def = concrete_function.graph.as_graph_def()
  ops = {node.op for node in graph_def.node}
  for function in graph_def.library.function:
    ops.update(node.op for node in function.node_def)
  return ops


def test_the_graph_walk_sees_a_host_callback():
  # The check below is only worth something if it can see a py_function hidden
  # in a while loop's body.
  @tf.function
  def loop(x):
    def body(i, x):
      y = tf.py_function(np.sin, [x], tf.float32)
      return i + 1, tf.ensure_shape(y, ())

    return tf.while_loop(lambda i, x: i < 3, body, (0, x))[1]

  ops = _graph_ops(loop.get_concrete_function(tf.TensorSpec((), tf.float32)))
  assert ops & HOST_CALLBACK_OPS


def _tiny_cnn():
  inputs = keras.Input((12, 12, 3))
  h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
  h = keras.layers.GlobalAveragePooling2D()(h)
  outputs = keras.layers.Dense(3, activation="softmax", name="probs")(h)
  return keras.Model(inputs, outputs)


@pytest.mark.parametrize("layer,preset", [("conv", "default"), ("probs", "default"),
                                          ("conv", "plain")])
def test_the_compiled_loop_has_no_host_callbacks(layer, preset):
  model = _tiny_cnn()
  tb_featviz.activation_maximization(model, layer, 2, steps=2, preset=preset)
  renderers = recipe.extractor(model, layer).__dict__["_renderers"]
  assert len(renderers) == 1
  [renderer] = renderers.values()
  params = renderer.loop.param.initial((2, 12, 12, 3), seed=[0, 0])
  concrete = renderer._loop.get_concrete_function(  # noqa: SLF001
      params, tf.constant([0, 1], tf.int32), tf.constant(2), tf.constant(0.05),
      tf.constant(0))
  assert renderer.trace_count == 1, "the cached trace should have been reused"
  ops = _graph_ops(concrete)
  assert "Conv2D" in ops and ops & {"While", "StatelessWhile"}, sorted(ops)
  assert not ops & HOST_CALLBACK_OPS, sorted(ops & HOST_CALLBACK_OPS)
