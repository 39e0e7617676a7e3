"""Shared fixtures: digits data and a CNN trained once per test session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

from tests import digits as digits_lib
from tests import disk


@pytest.fixture(scope="session")
def digits_data():
  """(images (1797, 28, 28, 1) in [0, 1], labels), split 1400 train / rest held out."""
  return digits_lib.digits()


@pytest.fixture(scope="session")
def trained_cnn(digits_data):
  """The digits CNN trained on the first 1400 digits."""
  images, labels = digits_data
  return digits_lib.trained_cnn(images[:1400], labels[:1400])


@pytest.fixture
def tiny_disk(tmp_path):
  """A 256 KiB tmpfs, mounted for one test (see disk.tiny)."""
  with disk.tiny(tmp_path / "tiny_disk") as mount_point:
    yield mount_point
