"""The panel's files: the folder they come from, and nothing outside it.

Hostile paths sent through TensorBoard's own router are in
e2e/test_tensorboard_robustness.py; every route is fuzzed in
test_featviz_plugin_fuzz.py.
"""

import os
import urllib.parse

import hypothesis
import pytest
from hypothesis import strategies as st
from tensorboard import errors

from tb_featviz.plugin import static_files
from tests import planted

SECRET = planted.SECRET


@pytest.fixture
def static_root(tmp_path):
  """A frontend folder next to secrets (see planted.plant_frontend)."""
  planted.plant_frontend(tmp_path)
  return tmp_path


def test_files_of_the_folder_are_read_with_their_type(static_root):
  frontend = str(static_root / "frontend")
  assert static_files.read(frontend, "index.js") == (planted.INDEX_JS,
                                                     "text/javascript")
  assert static_files.read(frontend, "panel.css")[1] == "text/css"
  assert static_files.read(frontend, "sub/x.js")[0] == b"export const x = 1;\n"


@pytest.mark.parametrize("name", [
    "notes.py", ".hidden.js", "link.js", "relative.js", "passwd.js",
    "linkdir/secret.js", "sub/up/secret.js", "../secret.js", "sub/../../secret.js",
    "missing.js", "sub", "", "sub/",
])
def test_other_names_are_not_found(static_root, name):
  with pytest.raises(errors.NotFoundError):
    static_files.read(str(static_root / "frontend"), name)


def test_a_link_planted_later_is_refused_too(static_root):
  """The check is on the resolved path, not on the name."""
  (static_root / "frontend" / "late.js").symlink_to(static_root / "secret.js")
  with pytest.raises(errors.NotFoundError):
    static_files.read(str(static_root / "frontend"), "late.js")


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.text(alphabet="./\\%2eE5cfF0:~a\x00", max_size=24))
def test_no_name_escapes(tmp_path_factory, name):
  root = tmp_path_factory.getbasetemp() / "hypothesis_static"
  frontend = root / "frontend"
  if not frontend.exists():
    frontend.mkdir(parents=True)
    (frontend / "a.js").write_text("ok")
    (root / "a.js").write_bytes(SECRET)
  for candidate in (name, urllib.parse.unquote(name), name + ".js"):
    try:
      content, _ = static_files.read(str(frontend), candidate)
    except errors.NotFoundError:
      continue
    assert content == b"ok"


def test_a_file_that_vanishes_while_read_is_not_found(tmp_path, monkeypatch):
  """A frontend file removed (or unreadable) between the check and the read."""
  (tmp_path / "gone.js").write_text("x")
  real_isfile = os.path.isfile

  def isfile_then_remove(path):
    result = real_isfile(path)
    if result and path.endswith("gone.js"):
      os.unlink(path)
    return result

  monkeypatch.setattr(static_files.os.path, "isfile", isfile_then_remove)
  with pytest.raises(errors.NotFoundError) as raised:
    static_files.read(str(tmp_path), "gone.js")
  assert str(tmp_path) not in str(raised.value)


def test_the_default_folder_is_the_checkouts_frontend_with_the_panel():
  package = os.path.dirname(os.path.dirname(os.path.abspath(static_files.__file__)))
  installed = os.path.join(package, "frontend")
  expected = installed if os.path.isdir(installed) else os.path.join(
      os.path.dirname(package), "frontend")
  assert static_files.default_frontend_dir() == expected
  content, content_type = static_files.read(expected, "index.js")
  assert content_type == "text/javascript" and b"export function render" in content
