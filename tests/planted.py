"""A frontend folder planted among secrets, for the tests of static files."""

SECRET = b"TOP-SECRET-MARKER"
INDEX_JS = b"export function render() {}\n"


def plant_frontend(root):
  """Writes `root/frontend` with a few panel files, next to secrets.

  What the panel may serve: index.js, panel.css, page.html, sub/x.js. What it
  must never serve holds SECRET: hidden and .py files inside the folder,
  root/secret.js and root/outside/secret.js, and links that lead to them
  (absolute, relative, to a folder, up through a subfolder) or to
  /etc/passwd.

  Returns:
    The frontend folder.
  """
  frontend = root / "frontend"
  (frontend / "sub").mkdir(parents=True)
  (frontend / "index.js").write_bytes(INDEX_JS)
  (frontend / "panel.css").write_text("body { margin: 0; }\n")
  (frontend / "page.html").write_text("<p>hi</p>\n")
  (frontend / "sub" / "x.js").write_text("export const x = 1;\n")
  (frontend / ".hidden.js").write_bytes(SECRET)
  (frontend / "notes.py").write_bytes(SECRET)
  (root / "secret.js").write_bytes(SECRET)
  (root / "outside").mkdir()
  (root / "outside" / "secret.js").write_bytes(SECRET)
  (frontend / "link.js").symlink_to(root / "secret.js")
  (frontend / "relative.js").symlink_to("../secret.js")
  (frontend / "passwd.js").symlink_to("/etc/passwd")
  (frontend / "linkdir").symlink_to(root / "outside", target_is_directory=True)
  (frontend / "sub" / "up").symlink_to("..", target_is_directory=True)
  (frontend / "sub" / "up2").symlink_to("../..", target_is_directory=True)
  return frontend
