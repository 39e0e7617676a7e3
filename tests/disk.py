"""A disk that fills up, for the tests of writing to a full disk."""

import contextlib
import errno
import os
import subprocess


def fill(directory):
  """Writes a file into `directory` until the disk is full; returns its path."""
  filler = os.path.join(directory, "filler")
  with open(filler, "wb", buffering=0) as out:
    try:
      while True:
        out.write(b"\0" * 4096)
    except OSError as error:
      assert error.errno == errno.ENOSPC
  return filler


@contextlib.contextmanager
def tiny(mount_point):
  """Mounts a 256 KiB tmpfs at `mount_point` until the block ends.

  Needs root (the README's test command runs as root). A machine where the
  mount is refused fails the test rather than skipping it: a full disk is
  what the test is about, and a patched flush would not show what
  TensorFlow's writer really does on one.
  """
  os.makedirs(mount_point, exist_ok=True)
  mounted = subprocess.run(
      ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
      capture_output=True, text=True, check=False)
  assert mounted.returncode == 0, (
      f"cannot mount a tmpfs at {mount_point} ({mounted.stderr.strip()}); the "
      "full-disk tests need root")
  try:
    yield mount_point
  finally:
    subprocess.run(["umount", "-l", str(mount_point)], check=False)
