"""What no response of the plugin may hold: tracebacks and server paths."""

import os
import re
import sys

import tensorflow as tf

import tb_featviz

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(tb_featviz.__file__)))
# What no response may contain unless the request itself did.
NEEDLES = [b"Traceback", b'File "', REPO.encode(), sys.prefix.encode(),
           os.path.dirname(os.path.abspath(tf.__file__)).encode(),
           os.path.dirname(os.path.abspath(tb_featviz.__file__)).encode()]
_PY_FRAME = re.compile(rb'\.py"?, line \d+')


def check_no_leak(request, status, body, what="", needles=()):
  """Asserts that a response is no 500 and holds no traceback or server path.

  Args:
    request: the bytes of the request (what it holds may come back).
    status: the response's status code.
    body: the response's body.
    what: what to name in a failure.
    needles: more bytes that must not appear (e.g. a test's own folders).
  """
  assert status < 500, (what, status, body[:300])
  for needle in NEEDLES + list(needles):
    assert needle not in body or needle in request, (what, needle, body[:500])
  assert not _PY_FRAME.search(body), (what, body[:500])
