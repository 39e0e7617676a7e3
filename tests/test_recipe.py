"""The pieces chosen for a model's input: presets and defaults."""

from tb_featviz.optvis import param as param_lib
from tb_featviz.optvis import recipe
from tb_featviz.optvis import regularizers as reg_lib
from tb_featviz.optvis import transforms as transforms_lib


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
