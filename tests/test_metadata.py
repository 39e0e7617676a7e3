"""Summary metadata and step records: round trips, data classes, version checks."""


import hypothesis
import pytest
from google.protobuf import message as pb_message
from hypothesis import strategies as st
from tensorboard.compat.proto import summary_pb2

from tb_featviz import metadata
from tb_featviz import plugin_data_pb2
from tests import isolation


def test_tags():
  assert metadata.image_tag("am", "conv2") == "featviz/am/conv2"
  assert metadata.image_tag("inversion", "conv1") == "featviz/inversion/conv1"
  assert metadata.image_tag("mfv", "logits", 3) == "featviz/mfv/logits/3"
  assert metadata.record_tag("featviz/am/conv2") == "featviz/am/conv2/record"
  assert metadata.originals_tag("featviz/inversion/conv1") == (
      "featviz/inversion/conv1/originals")


@pytest.mark.parametrize("role, data_class", [
    (metadata.IMAGES, summary_pb2.DATA_CLASS_BLOB_SEQUENCE),
    (metadata.RECORD, summary_pb2.DATA_CLASS_TENSOR),
    (metadata.ORIGINALS, summary_pb2.DATA_CLASS_BLOB_SEQUENCE),
])
def test_summary_metadata_round_trip(role, data_class):
  meta = metadata.create_summary_metadata(
      "am", role, layer="conv2", units=[0, 5, 7], value_range=(-1, 1),
      display_shape=(28, 28, 1), companion_tag="featviz/am/conv2/record",
      description="*hi*")
  assert meta.plugin_data.plugin_name == metadata.PLUGIN_NAME == "featviz"
  assert meta.data_class == data_class
  assert meta.summary_description == "*hi*"
  parsed = metadata.parse_plugin_metadata(meta.plugin_data.content)
  assert parsed.version == metadata.PROTO_VERSION
  assert (metadata.kind_name(parsed.kind), parsed.role, parsed.layer) == (
      "am", role, "conv2")
  assert list(parsed.units) == [0, 5, 7]
  assert (parsed.value_low, parsed.value_high) == (-1.0, 1.0)
  assert list(parsed.display_shape) == [28, 28, 1]
  assert parsed.companion_tag == "featviz/am/conv2/record"


@hypothesis.settings(max_examples=50, deadline=None)
@hypothesis.given(
    layer=st.text(max_size=20),
    units=st.lists(st.integers(0, 2**31 - 1), max_size=20),
    shape=st.lists(st.integers(1, 4096), min_size=3, max_size=3))
def test_summary_metadata_round_trips_any_layer_and_units(layer, units, shape):
  meta = metadata.create_summary_metadata(
      "mfv", metadata.IMAGES, layer=layer, units=units, display_shape=shape)
  parsed = metadata.parse_plugin_metadata(meta.plugin_data.content)
  assert (parsed.layer, list(parsed.units), list(parsed.display_shape)) == (
      layer, units, shape)


def test_step_record_round_trip():
  data = metadata.create_step_record(units=[1, 2], activations=[0.5, -1.0],
                                     seconds=2.0)
  assert isinstance(data, bytes)
  record = metadata.parse_step_record(data)
  assert record.version == metadata.PROTO_VERSION
  assert list(record.units) == [1, 2]
  assert list(record.activations) == [0.5, -1.0]
  assert record.seconds == 2.0


def test_older_content_is_read():
  old = plugin_data_pb2.FeatVizPluginData(version=0, kind=metadata.kind_value("am"),
                                          layer="x")
  assert metadata.parse_plugin_metadata(old.SerializeToString()).layer == "x"
  assert metadata.parse_step_record(b"") == plugin_data_pb2.StepRecord()


def test_newer_content_is_refused():
  newer = plugin_data_pb2.FeatVizPluginData(version=metadata.PROTO_VERSION + 1)
  with pytest.raises(metadata.UnsupportedVersionError, match="newer"):
    metadata.parse_plugin_metadata(newer.SerializeToString())
  record = plugin_data_pb2.StepRecord(version=metadata.PROTO_VERSION + 1)
  with pytest.raises(metadata.UnsupportedVersionError):
    metadata.parse_step_record(record.SerializeToString())
  assert issubclass(metadata.UnsupportedVersionError, ValueError)


def test_bad_content_raises():
  with pytest.raises(TypeError):
    metadata.parse_plugin_metadata("not bytes")
  with pytest.raises(TypeError):
    metadata.parse_step_record(None)
  with pytest.raises(pb_message.DecodeError):
    metadata.parse_plugin_metadata(b"\xff\xff\xff\xff")


def test_metadata_imports_no_tensorflow():
  assert isolation.run_without_tensorflow(
      "import tb_featviz.metadata as m\nprint(m.PLUGIN_NAME)\n") == "featviz"
