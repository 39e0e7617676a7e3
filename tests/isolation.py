"""Running code in a fresh Python where TensorFlow and Keras cannot be imported."""

import subprocess
import sys

_BLOCK = "import sys\nsys.modules['tensorflow'] = sys.modules['keras'] = None\n"


def run_without_tensorflow(code):
  """Runs `code` in a new interpreter in which importing tensorflow or keras
  raises; asserts that it succeeds and returns what it printed (stripped)."""
  done = subprocess.run([sys.executable, "-c", _BLOCK + code], capture_output=True,
                        text=True, check=False)
  assert done.returncode == 0, done.stderr
  return done.stdout.strip()
