"""Every route of the plugin fuzzed in-process with hypothesis: missing,
repeated, huge, malformed, unicode, NUL and hostile parameters, odd methods
and headers, raw PATH_INFO bytes. Nothing is ever a 500, no body holds a
traceback or a server path, and static files come only from the frontend
folder.
"""

import base64
import json
import os
import urllib.parse

import hypothesis
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import strategies as st
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from werkzeug import datastructures
from werkzeug import test as werkzeug_test

from tb_featviz import metadata
from tb_featviz import plugin
from tb_featviz import summary
from tb_featviz.plugin import static_files
from tests import leaks
from tests import planted

SECRET = planted.SECRET




_ALLOWED_TYPES = {"application/json", "image/png", "text/javascript", "text/css",
                  "text/plain", "text/html", "image/svg+xml"}


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
  """(app, static app, blob keys, frontend files, needles (bytes no response
  may hold: the test's folders), client, static client).

  Over a small logdir; the static ones serve a planted frontend folder.
  """
  root = tmp_path_factory.mktemp("fuzz")
  logdir = root / "logs"
  rng = np.random.default_rng(4)
  with tf.summary.create_file_writer(str(logdir / "mnist")).as_default():
    for step in range(2):
      summary.am("conv1", rng.random((2, 8, 8, 1), dtype=np.float32), step=step,
                 activations=[1.0, float("nan")])
  with tf.summary.create_file_writer(str(logdir / "inv")).as_default():
    summary.inversion("conv1", rng.random((2, 8, 8, 1)), step=0,
                      originals=rng.random((2, 8, 8, 1)), errors=[0.5, 0.25])
  with tf.summary.create_file_writer(str(logdir / '<b id="x">run</b>')).as_default():
    summary.am("<script>alert(1)</script>", rng.random((1, 4, 4, 1)), step=0)
  with tf.summary.create_file_writer(str(logdir / "other")).as_default():
    tf.summary.image("photo", rng.random((1, 8, 8, 1)), step=0)
  multiplexer = plugin_event_multiplexer.EventMultiplexer(
      tensor_size_guidance={metadata.PLUGIN_NAME: 0})
  multiplexer.AddRunsFromDirectory(str(logdir))
  multiplexer.Reload()
  provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
  context = base_plugin.TBContext(logdir=str(logdir), data_provider=provider)

  frontend = planted.plant_frontend(root)
  served = {path.read_bytes() for path in frontend.rglob("*")
            if path.is_file() and not path.is_symlink() and
            SECRET not in path.read_bytes()}

  app = application.TensorBoardWSGI([plugin.FeatVizLoader().load(context)])
  client = werkzeug_test.Client(app)
  static_app = application.TensorBoardWSGI(
      [plugin.FeatVizPlugin(context, frontend_dir=str(frontend))])
  static_client = werkzeug_test.Client(static_app)
  keys = []
  for run, tag in [("mnist", "featviz/am/conv1"), ("inv", "featviz/inversion/conv1")]:
    body = json.loads(client.get(
        "/data/plugin/featviz/steps?" + urllib.parse.urlencode({"run": run, "tag": tag})
    ).get_data())
    keys += [key for entry in body["steps"] for key in entry["images"]]
  assert len(keys) == 6
  needles = [str(root).encode(), str(logdir).encode()]
  return app, static_app, keys, served, needles, client, static_client


_HUGE = ["A" * 100_000, "\x00" * 100_000, "\u00e9" * 50_000, "<" * 100_000,
         "%" * 100_000, "../" * 33_000, "\U0001f600" * 25_000]


_HOSTILE = [
    "", " ", "\x00", "a\x00b", "\x00featviz/am/conv1", "mnist\x00", "\r\n", "\r\nX-Evil: 1",
    "../../../../etc/passwd", "..\\..\\secret", "%2e%2e%2f", "%00", "%", "/etc/passwd",
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
    "' OR 1=1 --", "%s%s%s%n", "{0}{__class__}", "${jndi:ldap://x/a}", "\u202e\ufeff",
    "\U0001f600", "\uffff", "null", "[]", "{}", "NaN", "-1", "1e309",
    "9" * 400, "mnist", "inv", "other", "photo", '<b id="x">run</b>',
    "featviz/am/conv1", "featviz/am/conv1/record", "featviz/inversion/conv1",
    "featviz/inversion/conv1/originals", "featviz/am/<script>alert(1)</script>",
    "featviz/am/conv1/../conv1", "FEATVIZ/AM/CONV1", " featviz/am/conv1",
]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) |
    st.sampled_from(_HOSTILE),
    lambda children: st.lists(children, max_size=4) |
    st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8)


def _b64(data):
  return base64.urlsafe_b64encode(data).decode().rstrip("=")


@st.composite
def _keys(draw, keys):
  """Blob keys: real ones, bent ones, and made-up ones."""
  real = draw(st.sampled_from(keys))
  kind = draw(st.integers(0, 6))
  if kind == 0:
    return real
  if kind == 1:  # the real fields with some replaced
    fields = json.loads(base64.urlsafe_b64decode(real + "=="))
    for _ in range(draw(st.integers(1, 3))):
      fields[draw(st.integers(0, len(fields) - 1))] = draw(_json_values)
    return _b64(json.dumps(fields).encode())
  if kind == 2:  # any JSON
    return _b64(json.dumps(draw(_json_values)).encode())
  if kind == 3:  # a key of another plugin's series, or an index past the PNGs
    return _b64(json.dumps(["", draw(st.sampled_from(["images", "featviz", ""])),
                            draw(st.sampled_from(["other", "mnist", "inv"])),
                            draw(st.sampled_from(["photo", "featviz/am/conv1",
                                                  "featviz/am/conv1/record"])),
                            draw(st.integers(-2, 2)), draw(st.integers(-4, 4))]).encode())
  if kind == 4:  # bytes that are not JSON
    return _b64(draw(st.binary(max_size=64)))
  if kind == 5:  # the real key, cut or padded
    cut = draw(st.integers(0, len(real)))
    return real[:cut] + draw(st.sampled_from(["", "=", "==", "A", "%", "\x00", "é"]))
  return draw(st.text(max_size=40))


def _values(extra=st.nothing()):
  # Huge values are one draw in eight: each costs TensorBoard and werkzeug
  # tens of milliseconds of query parsing.
  return st.one_of(st.text(max_size=40), st.sampled_from(_HOSTILE), st.text(max_size=40),
                   st.sampled_from(_HOSTILE), st.binary(max_size=24).map(
                       lambda b: b.decode("latin-1")), extra, extra,
                   st.sampled_from(_HUGE))


def _encode(value):
  if isinstance(value, bytes):
    return urllib.parse.quote_from_bytes(value, safe="")
  return urllib.parse.quote(value, safe="")


@st.composite
def _queries(draw, names, values):
  """A QUERY_STRING (as WSGI gives it: bytes as latin-1 text) of hostile pairs."""
  parts = []
  for _ in range(draw(st.integers(0, 6))):
    name = _encode(draw(st.sampled_from(names + ["tensorBoardFeatureFlags"]) |
                        st.text(max_size=6))).encode()
    value = draw(values | st.binary(max_size=16))
    style = draw(st.integers(0, 5))
    if style == 0:  # sent as raw bytes, not percent-encoded
      parts.append(name + b"=" + (value if isinstance(value, bytes)
                                  else value.encode("utf-8")))
    elif style == 1:  # a name alone, or broken escapes
      parts.append(draw(st.sampled_from([name, b"=", b"==", b"%", b"%zz", b"%%41", b"&",
                                         b";", b"+", b"#x", name + b"=%"])))
    else:
      parts.append(name + b"=" + _encode(value).encode())
  separator = draw(st.sampled_from([b"&", b"&", b"&", b";", b"&&"]))
  return separator.join(parts).decode("latin-1")


@st.composite
def _requests(draw, route, names, values, valid=()):
  """(method, PATH_INFO, QUERY_STRING, headers, body) aimed at `route`.

  `valid`: query strings that answer 200; one is often put before or after the
  hostile pairs, so that the fuzzing reaches the code behind the checks too.
  """
  method = draw(st.sampled_from(["GET"] * 6 + ["HEAD", "POST", "PUT", "DELETE",
                                               "OPTIONS", "PATCH"]))
  suffix = draw(st.sampled_from([""] * 8 + ["/", ";x=1", "/x", "%00", "\x00"]))
  headers = {}
  if draw(st.integers(0, 5)) == 0:  # TensorBoard's own middleware reads these
    headers["X-TensorBoard-Feature-Flags"] = draw(
        st.sampled_from(["", "{}", "[]", "{", "null", '{"a": [1]}', "\x00"]) |
        _json_values.map(json.dumps))
  if draw(st.booleans()):
    headers["Tensorboard-Experiment-Id"] = draw(
        st.sampled_from(["", "..", "../../etc", "\x01", "x" * 10_000]) |
        st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"),
                max_size=20))
  body = draw(st.binary(max_size=64)) if method in ("POST", "PUT", "PATCH") else b""
  if body and draw(st.booleans()):
    headers["Content-Type"] = draw(st.sampled_from([
        "multipart/form-data; boundary=", "application/x-www-form-urlencoded",
        "application/json", "text/plain; charset=\x00"]))
  query = draw(_queries(names, values))
  if valid and draw(st.booleans()):
    good = draw(st.sampled_from(valid))
    query = "&".join(q for q in draw(st.sampled_from([(good, query), (query, good)])) if q)
  return (method, "/data/plugin/featviz" + route + suffix, query, headers, body)


class _Response:
  def __init__(self, status, headers, data):
    self.status_code = int(status.split()[0])
    self.headers = datastructures.Headers(headers)
    self._data = data

  def get_data(self):
    return self._data


def _call(app, method, path_info, query, headers, body):
  """Sends one request with these exact WSGI PATH_INFO and QUERY_STRING.

  Calls the WSGI app directly: `werkzeug.test.Client` rebuilds the request's
  URL character by character, a quarter of a second for a 100 kB query.
  """
  builder = werkzeug_test.EnvironBuilder(method=method, headers=headers, data=body)
  try:
    environ = builder.get_environ()
  finally:
    builder.close()
  environ.update(PATH_INFO=path_info, QUERY_STRING=query)
  started = []
  chunks = app(environ, lambda status, headers, exc_info=None: started.append(
      (status, headers)))
  try:
    data = b"".join(chunks)
  finally:
    if hasattr(chunks, "close"):
      chunks.close()
  request = (path_info + "?" + query + repr(headers)).encode("latin-1", "replace")
  return _Response(*started[-1], data), request


def _check(response, request, needles, *, static_files=None):
  """What every featviz response must be, whatever was asked."""
  status = response.status_code
  data = response.get_data()
  leaks.check_no_leak(request, status, data, needles=needles)
  assert response.headers["X-Content-Type-Options"] == "nosniff"
  content_type = response.headers["Content-Type"].split(";")[0]
  assert content_type in _ALLOWED_TYPES, content_type
  if content_type == "text/html":
    assert "Content-Security-Policy" in response.headers
  assert SECRET not in data
  if status == 200 and content_type == "application/json" and data:
    def refuse(constant):
      raise AssertionError(f"{constant} in JSON")
    assert isinstance(json.loads(data, parse_constant=refuse), dict)
  if status == 200 and content_type == "image/png" and data:
    assert data.startswith(leaks.PNG_SIGNATURE)
  if status == 200 and static_files is not None and data:
    assert data in static_files, data[:200]
  if status >= 400:
    assert content_type == "text/plain"


_FUZZ = hypothesis.settings(
    max_examples=150, deadline=None, derandomize=True, database=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large,
                           hypothesis.HealthCheck.large_base_example])


def test_fuzz_tags(fuzz_env):
  app, _, _, _, needles, _, _ = fuzz_env

  @_FUZZ
  @hypothesis.given(_requests("/tags", ["run", "tag", "key"], _values()))
  def fuzz(request):
    response, sent = _call(app, *request)
    _check(response, sent, needles)
    if (request[0] == "GET" and request[1].endswith("/tags") and
        "tensorBoardFeatureFlags" not in request[2] and
        "X-TensorBoard-Feature-Flags" not in request[3]):
      assert response.status_code == 200  # nothing it reads was bad

  fuzz()


def test_fuzz_steps(fuzz_env):
  app, _, _, _, needles, _, _ = fuzz_env

  valid = [urllib.parse.urlencode({"run": run, "tag": tag}) for run, tag in [
      ("mnist", "featviz/am/conv1"), ("inv", "featviz/inversion/conv1"),
      ('<b id="x">run</b>', "featviz/am/<script>alert(1)</script>")]]

  @_FUZZ
  @hypothesis.given(_requests("/steps", ["run", "tag", "run", "tag", "key"], _values(),
                              valid))
  def fuzz(request):
    response, sent = _call(app, *request)
    _check(response, sent, needles)
    seen.add(response.status_code)
    if response.status_code == 200 and request[0] != "HEAD":
      body = json.loads(response.get_data())
      assert body["run"] in ("mnist", "inv", '<b id="x">run</b>')

  seen = set()
  fuzz()
  assert {200, 400, 404} <= seen, seen  # the fuzzing reached every outcome


def test_fuzz_image(fuzz_env):
  app, _, keys, _, needles, _, _ = fuzz_env

  @_FUZZ
  @hypothesis.given(_requests("/image", ["key", "key", "key", "run"],
                              _values(_keys(keys)), ["key=" + key for key in keys]))
  def fuzz(request):
    response, sent = _call(app, *request)
    _check(response, sent, needles)
    seen.add(response.status_code)
    if response.status_code == 200:
      assert response.headers["Content-Type"] == "image/png"

  seen = set()
  fuzz()
  assert {200, 400, 404} <= seen, seen


def test_fuzz_index_js(fuzz_env):
  app, _, _, _, needles, _, _ = fuzz_env
  index = os.path.join(static_files.default_frontend_dir(), "index.js")
  with open(index, "rb") as f:
    expected = {f.read()}

  @_FUZZ
  @hypothesis.given(_requests("/index.js", ["v", "run", "path"], _values()))
  def fuzz(request):
    response, sent = _call(app, *request)
    _check(response, sent, needles, static_files=expected)

  fuzz()


_SEGMENTS = ["..", ".", "", "index.js", "sub", "x.js", "panel.css", "page.html",
             "link.js", "linkdir", "secret.js", ".hidden.js", "notes.py", "%2e%2e",
             "%2e%2e%2f", "%2f", "%5c", "\\", "..\\..", "\x00", "x.js\x00.png", "~",
             "C:", "//", "%00", "\u2215", "\uff0e\uff0e", "\xc0\xae", "index.js?x=/..",
             "index.js#/..", "index.js;/.."]


@st.composite
def _static_paths(draw, root):
  if draw(st.integers(0, 4)) == 0:  # a real file, maybe with a hostile query
    return draw(st.sampled_from(["index.js", "panel.css", "sub/x.js", "page.html"]))
  segments = draw(st.lists(
      st.sampled_from(_SEGMENTS + [root, root + "/secret.js", "A" * 100_000]) |
      st.text(max_size=12) |
      st.binary(max_size=12).map(lambda b: b.decode("latin-1")), max_size=8))
  joiner = draw(st.sampled_from(["/", "/", "/", "\\", "//"]))
  ending = draw(st.sampled_from(["", "", ".js", ".css", ".html", ".py", "/"]))
  # PATH_INFO carries text as latin-1 decoded bytes, the way servers pass it.
  text = joiner.join(segments) + ending
  return text.encode("utf-8").decode("latin-1")


def test_fuzz_static(fuzz_env, tmp_path_factory):
  _, app, _, served, needles, _, _ = fuzz_env
  root = str(tmp_path_factory.getbasetemp())

  @_FUZZ
  @hypothesis.given(_static_paths(root),
                    st.sampled_from(["GET", "GET", "HEAD", "POST"]),
                    _queries(["v"], _values()))
  def fuzz(name, method, query):
    response, sent = _call(app, method, "/data/plugin/featviz/static/" + name,
                           query, {}, b"")
    _check(response, sent, needles, static_files=served)
    seen.add(response.status_code)

  seen = set()
  fuzz()
  assert {200, 404} <= seen, seen


@pytest.mark.parametrize("name", ["index.js", "panel.css", "sub/x.js", "page.html"])
def test_static_files_that_exist_are_served(fuzz_env, name):
  _, _, _, served, _, _, client = fuzz_env
  response = client.get("/data/plugin/featviz/static/" + name)
  assert response.status_code == 200 and response.get_data() in served
  if name.endswith(".html"):
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("route, query", [
    ("/steps", "run=\xff&tag=featviz/am/conv1"),
    ("/steps", "run=mnist&tag=\xc3"),
    ("/image", "key=\x80"),
])
def test_raw_bytes_that_are_not_utf8_in_the_query_are_400(fuzz_env, route, query):
  """Found by the fuzzing: werkzeug 3.1 decodes QUERY_STRING strictly as UTF-8
  when `request.args` is read, so these were a UnicodeDecodeError (500) under a
  WSGI server that passes the raw bytes (TensorBoard's own werkzeug server
  re-encodes them and answers 404)."""
  app, _, _, _, needles, _, _ = fuzz_env
  response, sent = _call(app, "GET", "/data/plugin/featviz" + route, query, {}, b"")
  _check(response, sent, needles)
  assert response.status_code == 400
  assert b"not valid UTF-8" in response.get_data()
