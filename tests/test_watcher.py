"""The watcher's pieces that run in-process: the signal guard.

The watcher itself runs as the installed console script in
e2e/test_command_line.py.
"""

import os
import signal

import pytest

from tb_featviz.watch import watcher


def test_signal_guard_holds_signals_while_writing():
  guard = watcher.SignalGuard()
  guard.install()
  try:
    reached_end_of_write = False
    with pytest.raises(watcher.Interrupted) as raised:
      with guard.hold():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler has run by now
          pass
        reached_end_of_write = True
    assert reached_end_of_write and raised.value.signum == signal.SIGTERM
    with pytest.raises(KeyboardInterrupt):  # outside hold(): at once
      os.kill(os.getpid(), signal.SIGINT)
      for _ in range(1000):
        pass
  finally:
    guard.uninstall()
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the console script over a real training run -----------------------------------
