"""The panel's files: where they are and which of them may be served."""

import os
import re

from tensorboard import errors

# Only these kinds of files are ever served from the frontend folder.
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# One path segment of a static file: no "..", no hidden files, no "\", "%",
# NUL, ":" or anything else outside this set.
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


def default_frontend_dir():
  """The folder the panel's files are served from.

  Returns:
    `tb_featviz/frontend` when it exists (an installed package), else the
    top-level `frontend/` folder of a source checkout.
  """
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  installed = os.path.join(package, "frontend")
  if os.path.isdir(installed):
    return installed
  return os.path.join(os.path.dirname(package), "frontend")


def read(root, name):
  """(bytes, content type) of the file `name` ("a/b.js") inside folder `root`.

  Raises:
    tensorboard.errors.NotFoundError: for a name of a type that is not
      served, a segment that is not plain (`..`, hidden, encoded), a path that
      leads outside `root` (symlinks included), or a file that is not there.
  """
  segments = name.split("/")
  content_type = CONTENT_TYPES.get(os.path.splitext(name)[1].lower())
  if content_type is None or not all(_SAFE_SEGMENT.match(s) for s in segments):
    raise errors.NotFoundError(f"No such file: {name!r}")
  root = os.path.realpath(root)
  path = os.path.realpath(os.path.join(root, *segments))
  if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
    raise errors.NotFoundError(f"No such file: {name!r}")
  try:
    with open(path, "rb") as f:
      return f.read(), content_type
  except OSError:  # removed or made unreadable since the check above
    raise errors.NotFoundError(f"No such file: {name!r}") from None
