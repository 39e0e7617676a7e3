"""CheckedWriter: events that did not reach the disk are noticed."""

import errno
import glob
import os

import numpy as np
import tensorflow as tf

from tb_featviz import checked_writer
from tests import event_files


def test_events_that_silently_miss_the_disk_are_noticed(tiny_disk):
  """TensorFlow's writer ignores a failed append of a large record: its flush
  succeeds and the file ends in a partial record, after which TensorBoard reads
  nothing. CheckedWriter reads back what was appended and says so; the next
  file it opens is readable once there is room."""
  room = os.path.join(str(tiny_disk), "room")
  with open(room, "wb") as out:
    out.write(b"\0" * 96 * 1024)
  run_dir = str(tiny_disk / "run")
  writer = checked_writer.CheckedWriter(run_dir)
  blob = tf.constant([np.random.default_rng(0).bytes(40_000)])
  written, failure = [], None
  for step in range(8):
    with checked_writer.restoring_default_writer(), \
        writer.open().as_default(step=step):
      tf.summary.write("blob", blob, step=step)
    try:
      writer.flush(min_records=1)
      written.append(step)
    except checked_writer.WriteFailedError as error:
      failure = error
      break
  assert failure is not None and failure.errno == errno.ENOSPC
  assert "then" in str(failure) and "bytes of a partial one" in str(failure)
  assert "Is the disk full?" in str(failure)
  writer.discard()
  os.remove(room)
  with writer.open().as_default(step=99):
    tf.summary.write("blob", blob, step=99)
  writer.flush(min_records=1)
  writer.close()
  steps = event_files.steps(event_files.read(run_dir), "blob")
  assert steps == written + [99] and len(written) >= 2


def test_whole_records_stop_at_a_partial_one(tmp_path):
  with tf.summary.create_file_writer(str(tmp_path)).as_default():
    for step in range(3):
      tf.summary.scalar("x", 1.0, step=step)
  [path] = glob.glob(str(tmp_path / "*tfevents*"))
  data = open(path, "rb").read()
  assert checked_writer.whole_records(data) == (4, len(data))  # version + 3 scalars
  count, size = checked_writer.whole_records(data[:-1])
  assert count == 3 and size < len(data) - 1


def test_the_default_writer_is_restored_even_when_writing_fails(tmp_path):
  outer = tf.summary.create_file_writer(str(tmp_path / "outer"))
  with outer.as_default(step=7):
    try:
      with checked_writer.restoring_default_writer():
        with tf.summary.create_file_writer(str(tmp_path / "inner")).as_default(step=1):
          raise OSError("the flush failed")
    except OSError:
      pass
    assert tf.summary.scalar("after", 1.0)  # written to `outer`, at step 7
  outer.close()
  assert event_files.steps(event_files.read(tmp_path / "outer"), "after") == [7]


def test_after_a_discard_the_next_open_starts_a_new_file(tmp_path):
  writer = checked_writer.CheckedWriter(tmp_path, name="mine")
  writer.open()
  first = writer.path
  assert ".mine-" in os.path.basename(first)
  writer.discard()
  writer.open()
  assert writer.path != first
  writer.close()
  # The first file is kept: it holds a whole record (the file version).
  assert sorted(glob.glob(str(tmp_path / "*tfevents*"))) == sorted([first, writer.path])
