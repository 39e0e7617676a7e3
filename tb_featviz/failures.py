"""How a failure is told to a person: in one line, with advice where there is some.

Used by the callback's warnings and by the command line's reports, so that the
same error reads the same way in both.
"""

import errno
import re

# TensorFlow decorates op errors with the function and op they came from; they
# say nothing to a person training a model.
_FUNCTION_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")
_OP_SUFFIX = re.compile(r"\s*\[Op:\w+\]( name: \S*)?")


def one_line(error, *, limit=None, with_type=True):
  """`error` as one line: "Type: message", without TensorFlow's decorations.

  Args:
    error: an exception.
    limit: the most characters of the message kept (an ellipsis marks a cut),
      or None to keep it whole.
    with_type: whether to start with the exception's type name.

  Returns:
    A string without line breaks.
  """
  text = _OP_SUFFIX.sub("", _FUNCTION_NODE.sub("", str(error)))
  text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
  text = text or type(error).__name__
  if limit is not None and len(text) > limit:
    text = text[:limit - 3] + "..."
  return f"{type(error).__name__}: {text}" if with_type else text


def is_disk_full(error):
  """Whether `error` says that the disk is full."""
  return ((isinstance(error, OSError) and error.errno == errno.ENOSPC)
          or "No space left on device" in str(error))


def disk_advice(error):
  """A sentence for a full disk, with a leading space, or ""."""
  return (" The disk is full: make room, and the next intervals are written."
          if is_disk_full(error) else "")


def is_out_of_memory(error):
  """Whether `error` says that memory ran out (host or device).

  TensorFlow's ResourceExhaustedError is recognized by name, so that this
  module needs no TensorFlow.
  """
  return (isinstance(error, MemoryError)
          or type(error).__name__ == "ResourceExhaustedError"
          or "out of memory" in str(error).lower())
