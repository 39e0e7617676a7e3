"""Shared fixtures: digits data and a CNN trained once per test session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from tests import digits as digits_lib  # noqa: E402


@pytest.fixture(scope="session")
def digits_data():
  """(images (1797, 28, 28, 1) in [0, 1], labels), split 1400 train / rest held out."""
  return digits_lib.digits()


@pytest.fixture(scope="session")
def trained_cnn(digits_data):
  """The digits CNN trained on the first 1400 digits."""
  images, labels = digits_data
  return digits_lib.trained_cnn(images[:1400], labels[:1400])
