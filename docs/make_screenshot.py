"""Regenerates docs/panel.png (and docs/panel_history.png): the featviz panel in
TensorBoard, from a logdir (by default runs/, which `make demo` writes).

  .venv/bin/python docs/make_screenshot.py                      # runs/
  .venv/bin/python docs/make_screenshot.py --logdir logs --tag featviz/am/conv2

Starts `tensorboard` on a free loopback port, opens the Feature Viz tab in
Debian's Chromium (headless, through Playwright), waits until every picture has
loaded, and saves a full-width screenshot sized to the whole panel. With
--history (the default) it then clicks a unit and saves the panel again with
that unit's history open. Nothing is loaded from the network.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.e2e import tensorboard_server  # noqa: E402  pylint: disable=wrong-import-position
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
TIMEOUT_MS = 30_000


def _wait_for_images(frame, selector):
  frame.wait_for_function(
      """(selector) => {
        const images = [...document.querySelectorAll(selector)];
        return images.length > 0 &&
            images.every((img) => img.complete && img.naturalWidth > 0);
      }""", arg=selector)


def _fit_and_save(page, frame, path, width):
  """Makes the viewport as tall as the panel, then saves a screenshot."""
  page.mouse.move(0, 0)
  iframe_top = page.eval_on_selector('iframe[src*="name=featviz"]',
                                     "(f) => f.getBoundingClientRect().top")
  content = frame.evaluate(
      "() => document.getElementById('fv-root').getBoundingClientRect().bottom"
      " + window.scrollY")
  height = int(iframe_top + content + 4)
  page.set_viewport_size({"width": width, "height": height})
  frame.evaluate("() => window.scrollTo(0, 0)")
  page.wait_for_timeout(300)
  page.screenshot(path=path)
  print(f"wrote {path} ({width}x{height})")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--logdir", default=os.path.join(ROOT, "runs"))
  parser.add_argument("--out", default=os.path.join(HERE, "panel.png"))
  parser.add_argument("--history-out", default=os.path.join(HERE, "panel_history.png"))
  parser.add_argument("--no-history", dest="history", action="store_false",
                      help="only the grid, not the history of a unit")
  parser.add_argument("--run", help="run to show (default: the panel's first)")
  parser.add_argument("--tag", help="tag to show, e.g. featviz/am/conv2")
  parser.add_argument("--unit", type=int,
                      help="unit whose history is shown (default: the second tile)")
  parser.add_argument("--width", type=int, default=1280)
  args = parser.parse_args(argv)
  if not os.path.isdir(args.logdir):
    raise SystemExit(f"No logdir {args.logdir!r}: run `make demo` first or pass --logdir.")
  if not os.access(CHROMIUM, os.X_OK):
    raise SystemExit(f"{CHROMIUM} is missing (`make chromium` installs it).")
  from playwright.sync_api import sync_playwright  # pylint: disable=import-outside-toplevel

  with tensorboard_server.running(args.logdir) as base:
    with sync_playwright() as playwright:
      browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
      page = browser.new_page(viewport={"width": args.width, "height": 900})
      page.set_default_timeout(TIMEOUT_MS)
      page.goto(f"{base}/#featviz")
      frame = page.wait_for_selector(
          'iframe[src*="name=featviz"]', state="attached").content_frame()
      frame.wait_for_selector(".fv-tile")
      if args.run:
        frame.select_option("#fv-run-select", args.run)
      if args.tag:
        frame.select_option("#fv-tag-select", args.tag)
      if args.run or args.tag:
        frame.wait_for_function(
            "(tag) => !tag || document.querySelector('#fv-tag-select').value === tag",
            arg=args.tag)
        page.wait_for_timeout(500)
      _wait_for_images(frame, "#fv-root img")
      _fit_and_save(page, frame, args.out, args.width)
      if args.history:
        tiles = frame.query_selector_all(".fv-tile")
        unit = args.unit if args.unit is not None else int(
            tiles[min(1, len(tiles) - 1)].get_attribute("data-unit"))
        frame.click(f".fv-tile[data-unit='{unit}']")
        frame.wait_for_selector(f"#fv-history[data-unit='{unit}']")
        _wait_for_images(frame, ".fv-history img")
        _fit_and_save(page, frame, args.history_out, args.width)
      browser.close()


if __name__ == "__main__":
  main()
