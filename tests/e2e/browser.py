"""Debian's Chromium driven by Playwright, pointed at a TensorBoard page: the
pieces every panel test uses.

Console errors and uncaught exceptions of the page and of the plugin's iframe
fail a test. Only errors are collected: TensorBoard 2.21's own page also logs a
*warning* ("Multiple instances of Three.js being imported."), which is not one.
`_TENSORBOARD_NOISE` lists the error messages that are ignored because they come
from TensorBoard itself and have nothing to do with the plugin:

- Under --path_prefix, TensorBoard's own font stylesheet (font-roboto/roboto.html
  in its webfiles.zip) asks for `url(/font-roboto/....woff2)`, an absolute path
  that misses the prefix, so the outer page logs "Failed to load resource: ...
  404" for `http://host:port/font-roboto/...`. The panel loads no fonts.
"""

import re

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
TIMEOUT_MS = 20_000

# Error-level console messages that TensorBoard's own page (not the plugin)
# prints: (regex on the text, regex on the URL it is about). Explained above.
_TENSORBOARD_NOISE = [
    (r"^Failed to load resource: .* 404", r"^http://127\.0\.0\.1:\d+/font-roboto/"),
]


def format3(value):
  """What the panel should show for `value` (stored as float32): 3 significant digits."""
  return str(float(f"{float(np.float32(value)):.3g}")).removesuffix(".0")


class Console:
  """Collects console errors and uncaught exceptions of a page and its frames."""

  def __init__(self, page):
    self.errors = []
    page.on("console", self._on_console)
    page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

  def _on_console(self, message):
    if message.type != "error":
      return
    text, url = message.text, message.location.get("url") or ""
    if any(re.search(text_re, text) and re.search(url_re, url)
           for text_re, url_re in _TENSORBOARD_NOISE):
      return
    self.errors.append(f"console.error: {text} ({url})")


def plugin_frame(page):
  """The featviz iframe's Frame, once it exists."""
  iframe = page.wait_for_selector('iframe[src*="name=featviz"]', state="attached",
                                  timeout=TIMEOUT_MS)
  frame = iframe.content_frame()
  assert frame is not None
  return frame


def open_panel(browser, base, routes=()):
  """Opens the featviz tab; returns (page, frame, console)."""
  page = browser.new_page(viewport={"width": 1280, "height": 900})
  page.set_default_timeout(TIMEOUT_MS)
  console = Console(page)
  for pattern, handler in routes:
    page.route(pattern, handler)
  page.goto(f"{base}/#featviz")
  return page, plugin_frame(page), console


def wait_for_images(frame, selector):
  """Waits until every image matching `selector` loaded; returns their srcs."""
  frame.wait_for_function(
      """(selector) => {
        const images = [...document.querySelectorAll(selector)];
        return images.length > 0 &&
            images.every((img) => img.complete && img.naturalWidth > 0);
      }""", arg=selector)
  return frame.eval_on_selector_all(
      selector, "(images) => images.map((img) => img.src)")
