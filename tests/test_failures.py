"""How failures are told: one line, and advice for a full disk or memory."""

import errno

import tensorflow as tf

from tb_featviz import failures


def test_one_line_drops_tensorflows_decorations_and_joins_lines():
  error = tf.errors.InvalidArgumentError(
      None, None, "{{function_node __inference_run_12}} bad shape\n"
      "  second line  \n\n [Op:While] name: loop")
  assert failures.one_line(error) == "InvalidArgumentError: bad shape; second line"
  assert failures.one_line(error, with_type=False) == "bad shape; second line"
  assert failures.one_line(ValueError("x" * 50), limit=10) == "ValueError: xxxxxxx..."
  assert failures.one_line(KeyError()) == "KeyError: KeyError"


def test_a_full_disk_is_recognized_by_errno_or_message():
  assert failures.is_disk_full(OSError(errno.ENOSPC, "whatever"))
  assert failures.is_disk_full(RuntimeError("write: No space left on device"))
  assert not failures.is_disk_full(OSError(errno.EACCES, "denied"))
  assert "make room" in failures.disk_advice(OSError(errno.ENOSPC, "x"))
  assert failures.disk_advice(ValueError("x")) == ""


def test_out_of_memory_is_recognized_on_the_host_and_on_devices():
  assert failures.is_out_of_memory(MemoryError())
  assert failures.is_out_of_memory(tf.errors.ResourceExhaustedError(None, None, "OOM"))
  assert failures.is_out_of_memory(RuntimeError("CUDA out of memory. Tried"))
  assert not failures.is_out_of_memory(ValueError("shape"))
