"""A tf.summary file writer that notices when its events did not reach the disk.

TensorFlow's event writer ignores failed writes: on a full disk `flush()`
returns as if all was well, the events file ends in a partial record, and every
record appended after it is unreadable (TensorBoard stops reading a file at the
first broken record). `CheckedWriter` reads back what each flush appended to a
local events file and raises `WriteFailedError` when it is not whole records;
the caller then `discard()`s the writer, and the next `open()` starts a new
events file, so later steps are readable again once there is room.

`restoring_default_writer()` guards against another trap of the same failure:
`SummaryWriter.as_default()` flushes on exit *before* it restores the previous
default writer, so a failed flush leaves the failing writer as the thread's
default, and once it is closed every later `tf.summary` call (those of
keras.callbacks.TensorBoard too) fails on it.
"""

import contextlib
import errno
import glob
import os
import shutil
import struct
import uuid

import tensorflow as tf

try:  # the thread's default writer and step; private, hence the fallback
  from tensorflow.python.ops.summary_ops_v2 import _summary_state
except ImportError:  # pragma: no cover
  _summary_state = None

# Large enough that TensorFlow's writer never flushes on its own.
_NEVER_QUEUE_FULL = 1_000_000
_NEVER_MILLIS = 10 ** 9

# A TFRecord: uint64 length, uint32 CRC of the length, data, uint32 CRC of the data.
_HEADER_BYTES = 12
_FOOTER_BYTES = 4


class WriteFailedError(OSError):
  """Summaries did not reach the events file (e.g. the disk is full)."""


def _is_local(path):
  return "://" not in os.fspath(path)


def whole_records(data):
  """(number of whole records in `data`, bytes they take)."""
  count = position = 0
  while position + _HEADER_BYTES <= len(data):
    (length,) = struct.unpack("<Q", data[position:position + 8])
    end = position + _HEADER_BYTES + length + _FOOTER_BYTES
    if end > len(data):
      break
    count, position = count + 1, end
  return count, position


@contextlib.contextmanager
def restoring_default_writer():
  """Restores the thread's default tf.summary writer and step on exit."""
  saved = None if _summary_state is None else (
      _summary_state.writer, _summary_state.step)
  try:
    yield
  finally:
    if saved is not None:
      _summary_state.writer, _summary_state.step = saved


class CheckedWriter:
  """A `tf.summary` file writer of `logdir` whose flushes are checked.

  Args:
    logdir: the directory of the events files.
    name: a mark in the names of the events files this writer makes
      (`*.<name>-<unique>.v2`), so that its owner can tell them from others.
    flush_only_when_asked: write events to disk only on `flush()`, never in
      between (TensorFlow's writer otherwise flushes every 2 minutes or 10
      events), so that what reaches the disk is always whole steps.
  """

  def __init__(self, logdir, *, name="", flush_only_when_asked=False):
    self.logdir = os.fspath(logdir)
    self.name = name
    self._writer_options = (dict(max_queue=_NEVER_QUEUE_FULL, flush_millis=_NEVER_MILLIS)
                            if flush_only_when_asked else {})
    self.writer = None
    self.path = None
    self._checked = 0  # bytes of `path` known to be whole records

  def open(self):
    """The tf.summary writer, creating a new events file if there is none.

    Raises:
      tf.errors.OpError, OSError: if the directory cannot be created or written.
      WriteFailedError: if the new file's first record did not reach the disk.
    """
    if self.writer is not None:
      return self.writer
    suffix = f".{self.name + '-' if self.name else ''}{uuid.uuid4().hex[:12]}.v2"
    pattern = os.path.join(glob.escape(self.logdir), "*" + suffix)
    self._checked = 0
    self.path = None
    try:
      self.writer = tf.summary.create_file_writer(
          self.logdir, filename_suffix=suffix, **self._writer_options)
    except Exception:
      for stray in glob.glob(pattern) if _is_local(self.logdir) else ():
        self._remove_if_empty(stray)
      raise
    if _is_local(self.logdir):
      found = glob.glob(pattern)
      self.path = found[0] if len(found) == 1 else None
    try:
      self.flush(min_records=1)  # the file version record
    except WriteFailedError:
      self.discard()
      raise
    return self.writer

  def flush(self, min_records=0):
    """Flushes, then checks that at least `min_records` whole records were added.

    Raises:
      WriteFailedError: if the file ends in a partial record, holds fewer new
        records than `min_records`, or is gone.
    """
    if self.writer is None:
      return
    self.writer.flush()
    if self.path is None:  # a remote filesystem: nothing to read back cheaply
      return
    try:
      with open(self.path, "rb") as events:
        events.seek(self._checked)
        appended = events.read()
    except OSError as error:
      raise WriteFailedError(error.errno, f"Cannot read back {self.path}: {error}")
    count, whole = whole_records(appended)
    if whole != len(appended) or count < min_records:
      raise WriteFailedError(
          errno.ENOSPC,
          f"Summaries did not reach {self.path}: {count} whole record(s) of at "
          f"least {min_records} were written"
          + (f", then {len(appended) - whole} bytes of a partial one"
             if whole != len(appended) else "")
          + f". Is the disk full? ({self._free_bytes()} bytes free)")
    self._checked += whole

  def _free_bytes(self):
    try:
      return shutil.disk_usage(self.logdir).free
    except OSError:
      return "unknown"

  def discard(self):
    """Closes the writer after a failure; the next `open()` starts a new file.

    A file that holds no whole record is deleted.
    """
    writer, self.writer = self.writer, None
    if writer is not None:
      try:
        writer.close()
      except Exception:  # pylint: disable=broad-except
        pass  # it failed already; nothing more can be saved from it
    if self.path is not None and self._checked == 0:
      self._remove_if_empty(self.path, whole_bytes=0)
    self.path = None

  @staticmethod
  def _remove_if_empty(path, whole_bytes=None):
    """Deletes `path` if it holds no whole record (`whole_bytes` = 0 says so)."""
    try:
      if whole_bytes is None:
        with open(path, "rb") as events:
          whole_bytes = whole_records(events.read())[1]
      if whole_bytes == 0:
        os.remove(path)
    except OSError:
      pass

  def close(self):
    """Flushes (unchecked) and closes."""
    if self.writer is not None:
      self.writer.close()
      self.writer = None
