"""The /steps answer of a series: its JSON, and the last few answers kept.

Every kind is answered the same way: a step lists its blob keys, and every
field its StepRecord holds (see plugin_data.proto), so a new kind's numbers
reach the panel without a change here.
"""

import collections
import gzip
import json
import math
import threading

import numpy as np

# Record fields that hold (x, y) pairs flattened; the answer lists them as pairs.
PAIRED_FIELDS = ("embedding", "positions")
_SKIPPED = ("version",)


def finite(value):
  """`value` as a float, or None when it is NaN or infinite (JSON has neither)."""
  value = float(value)
  return value if math.isfinite(value) else None


def record_bytes(array):
  """The bytes of a scalar string tensor as returned by `read_tensors`."""
  value = np.asarray(array)
  if value.size != 1:
    raise ValueError(f"Expected a scalar string tensor, got shape {value.shape}")
  value = value.reshape(-1)[0]
  return bytes(value) if isinstance(value, bytes) else value


def _json_value(name, value):
  """A record field's value as JSON: floats cleaned, pairs grouped."""
  if isinstance(value, float):
    return finite(value)
  if isinstance(value, int):
    return value
  values = [finite(v) if isinstance(v, float) else int(v) for v in value]
  if name in PAIRED_FIELDS:
    return [values[i:i + 2] for i in range(0, len(values), 2)]
  return values


def step_entry(datum, record, default_units):
  """The JSON of one step.

  Args:
    datum: the step's `BlobSequenceDatum` (its images).
    record: the step's StepRecord, or None when it has no readable one.
    default_units: the series' units, for a step without a record.

  Returns:
    {step, wall_time, units, activations, seconds, images} plus every other
    field the record holds.
  """
  entry = {
      "step": datum.step,
      "wall_time": finite(datum.wall_time),
      "units": list(default_units),
      "activations": [],
      "seconds": None,
      "images": [ref.blob_key for ref in datum.values],
  }
  if record is None:
    return entry
  entry["seconds"] = finite(record.seconds)
  for field, value in record.ListFields():
    if field.name not in _SKIPPED:
      entry[field.name] = _json_value(field.name, value)
  if not record.units:
    entry["units"] = list(default_units)
  return entry


def gzipped_json(value):
  """`value` as compact JSON, gzipped as TensorBoard's `http_util` does.

  Everything in `value` must already be JSON: no NaN, no bytes.
  """
  text = json.dumps(value, separators=(",", ":"), allow_nan=False)
  return gzip.compress(text.encode("ascii"), compresslevel=3, mtime=0)


class StepsCache:
  """The last few /steps answers, each kept while its series does not change.

  Building the answer of a long series costs far more than checking whether it
  changed: reading every step's blob keys and records, then serializing and
  compressing megabytes of JSON, and the allocations make Python run full
  garbage collections of TensorBoard's large heap. An answer is stored under
  (experiment, run, tag) with a fingerprint of its series (last step and wall
  time, which every new step moves, and those of its originals), and only
  when every step has its record, so that a record that arrives after its
  images is never missed.

  Args:
    size: how many answers are kept.
  """

  def __init__(self, size):
    self._size = size
    self._answers = collections.OrderedDict()
    self._lock = threading.Lock()

  def get(self, key, fingerprint):
    """The stored body for `key` if it was stored with `fingerprint`, else None."""
    with self._lock:
      stored = self._answers.get(key)
      if stored is None or stored[0] != fingerprint:
        return None
      self._answers.move_to_end(key)
      return stored[1]

  def put(self, key, fingerprint, body):
    with self._lock:
      self._answers[key] = (fingerprint, body)
      self._answers.move_to_end(key)
      while len(self._answers) > self._size:
        self._answers.popitem(last=False)
