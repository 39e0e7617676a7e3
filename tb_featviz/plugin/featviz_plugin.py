"""The featviz TensorBoard plugin: the backend routes behind the panel.

Reads what `tb_featviz.summary` wrote, only through TensorBoard's data provider,
and serves it as JSON and PNG (see docs/http_api.md), plus the panel's own files
from the `frontend` folder. Imports no TensorFlow.
"""

import logging

from google.protobuf import message as pb_message
from tensorboard import errors
from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.data import provider
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_featviz import metadata
from tb_featviz.plugin import image_cache
from tb_featviz.plugin import static_files
from tb_featviz.plugin import steps as steps_lib

logger = logging.getLogger(__name__)

# How many steps to ask the data provider for, per time series. Storage sampling
# (`--samples_per_plugin`, which FeatVizLoader sets to "all" for featviz) decides
# how many there are; this only has to be larger.
DOWNSAMPLE = 1_000_000

# How many /steps answers (serialized and gzipped) are kept. One of 500 steps of
# 64 units is about 0.5 MB.
STEPS_CACHE_SIZE = 16

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_KEY_LENGTH = 8192
_STATIC_ROUTE = "/static/"

_PARSE_ERRORS = (metadata.UnsupportedVersionError, TypeError, ValueError,
                 pb_message.DecodeError)


def _query_arg(request, name):
  """The first value of query parameter `name`, or None.

  werkzeug decodes the query string strictly as UTF-8 when `request.args` is
  first read, so raw non-UTF-8 bytes in it (a 0xFF byte, not `%FF`) would
  raise UnicodeDecodeError there, a 500; they are a 400 instead.
  """
  try:
    return request.args.get(name)
  except UnicodeDecodeError:
    raise errors.InvalidArgumentError("The query string is not valid UTF-8") from None


def _fingerprint(time_series):
  """What changes whenever a step is added to a series (None: no series)."""
  if time_series is None:
    return None
  return (time_series.max_step, time_series.max_wall_time,
          time_series.plugin_content)


def _shown_together(originals, records):
  """The groups of ORIGINALS keys that the panel asks for together.

  A step whose record holds `indices` (into the originals) shows those
  images: each such step is a group, so that a request for one of them reads
  the others ahead, and not the images next to it in a large probe set.
  Without indices, the originals are shown all together (inversion's probe).
  """
  groups = [[originals[i] for i in dict.fromkeys(record.indices)
             if 0 <= i < len(originals)]
            for _, record in sorted(records.items()) if record.indices]
  return groups or [originals]


class FeatVizPlugin(base_plugin.TBPlugin):
  """Serves featviz summaries and the featviz panel."""

  plugin_name = metadata.PLUGIN_NAME

  def __init__(self, context, *, frontend_dir=None):
    """Creates the plugin.

    Args:
      context: a `base_plugin.TBContext`; only its `data_provider` is used.
      frontend_dir: the folder of the panel's files;
        `static_files.default_frontend_dir()` when None.
    """
    self._data_provider = context.data_provider
    self._frontend_dir = frontend_dir or static_files.default_frontend_dir()
    self._warned = set()
    self._steps_cache = steps_lib.StepsCache(STEPS_CACHE_SIZE)
    self._images = image_cache.StepImageCache(max_series=STEPS_CACHE_SIZE)

  def get_plugin_apps(self):
    return {
        "/tags": self._serve_tags,
        "/steps": self._serve_steps,
        "/image": self._serve_image,
        "/index.js": self._serve_index_js,
        _STATIC_ROUTE + "*": self._serve_static,
    }

  def is_active(self):
    return False  # TensorBoard asks the data provider (`data_plugin_names`).

  def data_plugin_names(self):
    return (metadata.PLUGIN_NAME,)

  def frontend_metadata(self):
    return base_plugin.FrontendMetadata(es_module_path="/index.js",
                                        tab_name="Feature Viz")

  def _warn_once(self, key, text, *args):
    if key not in self._warned:
      self._warned.add(key)
      logger.warning(text, *args)

  def _images_metadata(self, run, tag, content):
    """The FeatVizPluginData of an IMAGES series, or None to skip it."""
    try:
      data = metadata.parse_plugin_metadata(content)
    except _PARSE_ERRORS as error:
      self._warn_once(("metadata", run, tag),
                      "featviz: skipping run %r tag %r: %s", run, tag, error)
      return None
    return data if data.role == metadata.IMAGES else None

  def _tags_impl(self, ctx, experiment):
    series = self._data_provider.list_blob_sequences(
        ctx, experiment_id=experiment, plugin_name=metadata.PLUGIN_NAME)
    result = {}
    for run, tags in series.items():
      for tag, time_series in tags.items():
        data = self._images_metadata(run, tag, time_series.plugin_content)
        if data is None:
          continue
        result.setdefault(run, {})[tag] = {
            "kind": metadata.kind_name(data.kind),
            "layer": data.layer,
            "units": list(data.units),
            "display_shape": list(data.display_shape),
            "value_range": [steps_lib.finite(data.value_low),
                            steps_lib.finite(data.value_high)],
            "grid_shape": list(data.grid_shape),
            "receptive_field": list(data.receptive_field),
            "description": time_series.description,
        }
    return result

  def _records_by_step(self, ctx, experiment, run, record_tag):
    """{step: StepRecord} of a RECORD series (first record of each step)."""
    series = self._data_provider.read_tensors(
        ctx, experiment_id=experiment, plugin_name=metadata.PLUGIN_NAME,
        downsample=DOWNSAMPLE,
        run_tag_filter=provider.RunTagFilter(runs=[run], tags=[record_tag]))
    records = {}
    for datum in series.get(run, {}).get(record_tag, []):
      if datum.step in records:
        continue
      try:
        records[datum.step] = metadata.parse_step_record(
            steps_lib.record_bytes(datum.numpy))
      except _PARSE_ERRORS as error:
        self._warn_once(("record", run, record_tag, datum.step),
                        "featviz: skipping the record of run %r tag %r step %d: %s",
                        run, record_tag, datum.step, error)
    return records

  def _steps_impl(self, ctx, experiment, run, tag):
    """The /steps answer of `tag` of `run` as gzipped JSON (see StepsCache)."""
    originals_tag = metadata.originals_tag(tag)
    listing = self._data_provider.list_blob_sequences(
        ctx, experiment_id=experiment, plugin_name=metadata.PLUGIN_NAME,
        run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag, originals_tag]))
    time_series = listing.get(run, {}).get(tag)
    data = None
    if time_series is not None:
      data = self._images_metadata(run, tag, time_series.plugin_content)
    if data is None:
      raise errors.NotFoundError(
          f"No featviz visualization for run {run!r}, tag {tag!r}")
    originals = listing.get(run, {}).get(originals_tag)
    key = (experiment, run, tag)
    fingerprint = (_fingerprint(time_series), _fingerprint(originals))
    body = self._steps_cache.get(key, fingerprint)
    if body is not None:
      self._images.touch(key)
      if originals is not None:
        self._images.touch((experiment, run, originals_tag))
    else:
      answer, complete = self._steps_answer(ctx, experiment, run, tag, data,
                                            with_originals=originals is not None)
      body = steps_lib.gzipped_json(answer)
      if complete:
        self._steps_cache.put(key, fingerprint, body)
    return body

  def _steps_answer(self, ctx, experiment, run, tag, data, with_originals):
    """(the /steps answer of `tag`, whether every step had its record).

    Args:
      ctx, experiment: as TensorBoard passes them to the data provider.
      run, tag: the IMAGES series.
      data: its FeatVizPluginData.
      with_originals: whether the series has an ORIGINALS companion.
    """
    blobs = self._blob_series(ctx, experiment, run, tag) or []
    self._images.remember_steps(
        (experiment, run, tag),
        ([ref.blob_key for ref in datum.values] for datum in blobs))
    records = self._records_by_step(
        ctx, experiment, run, data.companion_tag or metadata.record_tag(tag))
    steps = [steps_lib.step_entry(datum, records.get(datum.step), data.units)
             for datum in sorted(blobs, key=lambda d: d.step)]
    result = {"run": run, "tag": tag, "kind": metadata.kind_name(data.kind),
              "steps": steps}
    if with_originals:
      originals_tag = metadata.originals_tag(tag)
      result["originals"] = self._latest_keys(ctx, experiment, run, originals_tag)
      self._images.remember_steps((experiment, run, originals_tag),
                                  _shown_together(result["originals"], records))
    return result, all(datum.step in records for datum in blobs)

  def _blob_series(self, ctx, experiment, run, tag):
    """Every step of blob sequence `tag` of `run`, or None if there is none."""
    data = self._data_provider.read_blob_sequences(
        ctx, experiment_id=experiment, plugin_name=metadata.PLUGIN_NAME,
        downsample=DOWNSAMPLE,
        run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]))
    return data.get(run, {}).get(tag)

  def _latest_keys(self, ctx, experiment, run, tag):
    """The blob keys of the last step of blob sequence `tag` ([] if none)."""
    series = self._blob_series(ctx, experiment, run, tag)
    if not series:
      return []
    return [ref.blob_key for ref in max(series, key=lambda d: d.step).values]

  def _read_png(self, ctx, key):
    """The PNG bytes of blob `key`; raises InvalidArgumentError/NotFoundError.

    Keys are the data provider's own blob keys, passed through unchanged. What a
    bad key makes a provider raise differs (ValueError or TypeError from the
    multiplexer's base64/JSON decoding, KeyError or IndexError for unknown run,
    tag or index, `errors.NotFoundError`, grpc errors under the fast loader), so
    every failure becomes a 400 or a 404, and only PNG bytes are ever returned.
    """
    if not key or len(key) > _MAX_KEY_LENGTH:
      raise errors.InvalidArgumentError("Malformed image key")
    try:
      blob = self._data_provider.read_blob(ctx, blob_key=key)
    except errors.PublicError:
      raise
    except (ValueError, TypeError) as error:
      raise errors.InvalidArgumentError(f"Malformed image key: {error}") from None
    except Exception as error:  # pylint: disable=broad-except
      logger.info("featviz: no blob for key %r: %r", key, error)
      raise errors.NotFoundError("No such image") from None
    if not isinstance(blob, bytes) or not blob.startswith(_PNG_SIGNATURE):
      raise errors.NotFoundError("No such image")
    return bytes(blob)

  @wrappers.Request.application
  def _serve_tags(self, request):
    ctx = plugin_util.context(request.environ)
    experiment = plugin_util.experiment_id(request.environ)
    return http_util.Respond(request, self._tags_impl(ctx, experiment),
                             "application/json")

  @wrappers.Request.application
  def _serve_steps(self, request):
    run = _query_arg(request, "run")
    tag = _query_arg(request, "tag")
    if run is None or tag is None:
      raise errors.InvalidArgumentError("Both `run` and `tag` are required")
    ctx = plugin_util.context(request.environ)
    experiment = plugin_util.experiment_id(request.environ)
    return http_util.Respond(request, self._steps_impl(ctx, experiment, run, tag),
                             "application/json", content_encoding="gzip")

  @wrappers.Request.application
  def _serve_image(self, request):
    key = _query_arg(request, "key")
    if key is None:
      raise errors.InvalidArgumentError("`key` is required")
    ctx = plugin_util.context(request.environ)
    png = self._images.read(key, lambda k: self._read_png(ctx, k))
    return http_util.Respond(request, png, "image/png")

  @wrappers.Request.application
  def _serve_index_js(self, request):
    content, content_type = static_files.read(self._frontend_dir, "index.js")
    return http_util.Respond(request, content, content_type)

  @wrappers.Request.application
  def _serve_static(self, request):
    path = request.path
    start = path.find(_STATIC_ROUTE)
    name = path[start + len(_STATIC_ROUTE):] if start >= 0 else ""
    content, content_type = static_files.read(self._frontend_dir, name)
    return http_util.Respond(request, content, content_type)
