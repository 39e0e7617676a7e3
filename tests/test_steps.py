"""The /steps JSON of a step, whatever its kind, and the answers kept."""

import gzip
import json
import types

from tb_featviz import metadata
from tb_featviz import plugin_data_pb2
from tb_featviz.plugin import steps as steps_lib


def _datum(step=4, keys=("k0", "k1")):
  return types.SimpleNamespace(
      step=step, wall_time=12.5, values=[types.SimpleNamespace(blob_key=k) for k in keys])


def test_a_step_lists_every_field_its_record_holds():
  record = metadata.parse_step_record(metadata.create_step_record(
      units=[3, 1], activations=[1.5, float("nan")], seconds=0.25,
      embedding=[0.0, 1.0, 2.0, float("inf")], labels=[1, 0], k=2,
      mean_activations=[0.5, 0.75]))
  entry = steps_lib.step_entry(_datum(), record, default_units=[9])
  assert entry == {
      "step": 4, "wall_time": 12.5, "units": [3, 1], "activations": [1.5, None],
      "seconds": 0.25, "images": ["k0", "k1"], "embedding": [[0.0, 1.0], [2.0, None]],
      "labels": [1, 0], "k": 2, "mean_activations": [0.5, 0.75]}
  json.dumps(entry, allow_nan=False)


def test_a_step_without_a_record_keeps_its_images_and_the_series_units():
  entry = steps_lib.step_entry(_datum(), None, default_units=[5, 6])
  assert entry == {"step": 4, "wall_time": 12.5, "units": [5, 6], "activations": [],
                   "seconds": None, "images": ["k0", "k1"]}
  bare = steps_lib.step_entry(_datum(), plugin_data_pb2.StepRecord(errors=[0.5]), [2])
  assert (bare["units"], bare["errors"], bare["seconds"]) == ([2], [0.5], 0.0)


def test_answers_are_gzipped_json_without_nan():
  body = steps_lib.gzipped_json({"a": [1, None]})
  assert json.loads(gzip.decompress(body)) == {"a": [1, None]}
  assert steps_lib.gzipped_json({"a": 1}) == steps_lib.gzipped_json({"a": 1})


def test_a_kept_answer_is_given_while_its_fingerprint_holds_and_the_oldest_goes():
  cache = steps_lib.StepsCache(size=2)
  cache.put("a", (1,), b"A")
  cache.put("b", (1,), b"B")
  assert cache.get("a", (1,)) == b"A" and cache.get("a", (2,)) is None
  cache.put("c", (1,), b"C")  # "b" was used least recently
  assert cache.get("b", (1,)) is None
  assert (cache.get("a", (1,)), cache.get("c", (1,))) == (b"A", b"C")
