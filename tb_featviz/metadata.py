"""Internal information about the featviz plugin: its name and summary metadata.

Imports no TensorFlow: both the summary writers and the TensorBoard backend use it.
"""

import logging

from tensorboard.compat.proto import summary_pb2

from tb_featviz import plugin_data_pb2

PLUGIN_NAME = "featviz"

# The newest value of the `version` field of FeatVizPluginData and StepRecord.
# Readers accept every version up to this one and skip newer ones.
PROTO_VERSION = 1

TAG_PREFIX = "featviz"
RECORD_SUFFIX = "record"
ORIGINALS_SUFFIX = "originals"

IMAGES = plugin_data_pb2.FeatVizPluginData.IMAGES
RECORD = plugin_data_pb2.FeatVizPluginData.RECORD
ORIGINALS = plugin_data_pb2.FeatVizPluginData.ORIGINALS

_KIND = plugin_data_pb2.FeatVizPluginData.Kind

logger = logging.getLogger(__name__)


class UnsupportedVersionError(ValueError):
  """Raised for content written by a newer tb-featviz than this one."""


def kind_name(kind):
  """The name of a kind ("am") from its value in the proto; "unknown" if none.

  The proto's enum names are the kinds' names in capitals, so the names used
  in tags, in configurations and by the panel come from the proto itself.
  """
  try:
    name = _KIND.Name(kind)
  except ValueError:
    return "unknown"
  return "unknown" if kind == _KIND.KIND_UNSPECIFIED else name.lower()


def kind_value(name):
  """The proto's value of the kind called `name` ("am")."""
  return _KIND.Value(name.upper())


def image_tag(kind, layer, unit=None):
  """The tag of a visualization's images, e.g. `featviz/am/conv2`.

  Args:
    kind: the kind's name, e.g. "am".
    layer: the layer's name.
    unit: for a visualization of one unit (MFV), its id:
      `featviz/mfv/<layer>/<unit>`.
  """
  parts = [TAG_PREFIX, kind, layer]
  if unit is not None:
    parts.append(str(int(unit)))
  return "/".join(parts)


def record_tag(images_tag):
  """The tag of the per-step numbers that go with `images_tag`."""
  return f"{images_tag}/{RECORD_SUFFIX}"


def originals_tag(images_tag):
  """The tag of the images that `images_tag`'s are shown beside, written once
  per run (the probe images an inversion reconstructs)."""
  return f"{images_tag}/{ORIGINALS_SUFFIX}"


def create_summary_metadata(kind, role, *, layer, units=(), value_range=(0.0, 1.0),
                            display_shape=(), companion_tag="", description="",
                            grid_shape=(), receptive_field=()):
  """Creates the SummaryMetadata of one featviz time series.

  Args:
    kind: the kind's name, e.g. "am".
    role: IMAGES or ORIGINALS (a blob sequence of PNGs) or RECORD (a
      serialized StepRecord).
    layer: the layer's name.
    units: the unit of each image, or the one unit of a one-unit series.
    value_range: (low, high) of the visualized inputs.
    display_shape: (H, W, C) of each picture.
    companion_tag: the tag of the other role's series.
    description: a Markdown description shown by TensorBoard.
    grid_shape: for a feature map's examples, the layer's (rows, columns).
    receptive_field: for a feature map's examples, the (height, width) in
      input pixels that one position of the grid sees.

  Returns:
    A `summary_pb2.SummaryMetadata` with plugin name, content and data class set.
  """
  content = plugin_data_pb2.FeatVizPluginData(
      version=PROTO_VERSION, kind=kind_value(kind), role=role, layer=layer,
      units=[int(u) for u in units], value_low=float(value_range[0]),
      value_high=float(value_range[1]),
      display_shape=[int(d) for d in display_shape], companion_tag=companion_tag,
      grid_shape=[int(d) for d in grid_shape],
      receptive_field=[int(d) for d in receptive_field])
  data_class = (summary_pb2.DATA_CLASS_TENSOR if role == RECORD
                else summary_pb2.DATA_CLASS_BLOB_SEQUENCE)
  return summary_pb2.SummaryMetadata(
      summary_description=description,
      plugin_data=summary_pb2.SummaryMetadata.PluginData(
          plugin_name=PLUGIN_NAME, content=content.SerializeToString()),
      data_class=data_class)


def _check_version(message, what):
  if message.version > PROTO_VERSION:
    raise UnsupportedVersionError(
        f"{what} has version {message.version}, newer than the {PROTO_VERSION} "
        "this tb-featviz reads; upgrade tb-featviz to read it.")
  return message


def parse_plugin_metadata(content):
  """Parses the `content` of featviz PluginData.

  Args:
    content: bytes, as stored in SummaryMetadata.plugin_data.content.

  Returns:
    A `FeatVizPluginData`.

  Raises:
    TypeError: if `content` is not bytes.
    UnsupportedVersionError: for content of a newer version.
    google.protobuf.message.DecodeError: for bytes that are not the message.
  """
  if not isinstance(content, bytes):
    raise TypeError("Content type must be bytes")
  return _check_version(plugin_data_pb2.FeatVizPluginData.FromString(content),
                        "Summary metadata")


def create_step_record(**fields):
  """A serialized StepRecord of the current version with `fields` set."""
  return plugin_data_pb2.StepRecord(version=PROTO_VERSION, **fields).SerializeToString()


def parse_step_record(data):
  """Parses a serialized StepRecord; raises like `parse_plugin_metadata`."""
  if not isinstance(data, bytes):
    raise TypeError("Step record must be bytes")
  return _check_version(plugin_data_pb2.StepRecord.FromString(data), "Step record")
