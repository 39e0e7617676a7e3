"""Regenerates docs/panel.png (and docs/panel_history.png): the featviz panel in
TensorBoard, from a logdir (by default runs/, which `make demo` writes); with
--examples-tag, docs/panel_examples.png too.

  .venv/bin/python docs/make_screenshot.py                      # runs/
  .venv/bin/python docs/make_screenshot.py --logdir logs --tag featviz/am/conv2
  .venv/bin/python docs/make_screenshot.py --examples-only \
      --examples-tag featviz/examples/conv3 --examples-unit 6

Starts `tensorboard` on a free loopback port, opens the Feature Viz tab in
Debian's Chromium (headless, through Playwright), waits until every picture has
loaded, and saves a full-width screenshot sized to the whole panel. With
--history (the default) it then clicks a unit and saves the panel again with
that unit's history open. With --examples-tag it shows that dataset-examples
tag, opens a unit's history (--examples-unit, or the first unit whose
examples do not all tie) and saves the panel from its top to the end of that
history. Nothing is loaded from the network.
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
  """Waits until every image of `selector` that is in the viewport has loaded.

  Those below it may be loaded lazily, that is never.
  """
  frame.wait_for_function(
      """(selector) => {
        const images = [...document.querySelectorAll(selector)].filter(
            (img) => img.getBoundingClientRect().top < window.innerHeight);
        return images.length > 0 &&
            images.every((img) => img.complete && img.naturalWidth > 0);
      }""", arg=selector)


def _fit(page, frame, width, bottom="#fv-root"):
  """Makes the viewport as tall as the panel down to `bottom`'s end; returns the height.

  Pictures below the viewport are loaded lazily, so the viewport is made
  tall before waiting for them.
  """
  page.mouse.move(0, 0)
  iframe_top = page.eval_on_selector('iframe[src*="name=featviz"]',
                                     "(f) => f.getBoundingClientRect().top")
  content = frame.evaluate(
      "(selector) => document.querySelector(selector).getBoundingClientRect().bottom"
      " + window.scrollY", bottom)
  height = int(iframe_top + content + (16 if bottom != "#fv-root" else 4))
  page.set_viewport_size({"width": width, "height": height})
  frame.evaluate("() => window.scrollTo(0, 0)")
  return height


def _fit_and_save(page, frame, path, width, bottom="#fv-root", images="#fv-root img"):
  """Makes the viewport as tall as the panel, waits for `images`, then saves a screenshot."""
  height = _fit(page, frame, width, bottom)
  _wait_for_images(frame, images)
  page.wait_for_timeout(300)
  page.screenshot(path=path)
  print(f"wrote {path} ({width}x{height})")


def _examples(page, frame, args):
  """Shows args.examples_tag with a unit's history open and saves it."""
  frame.select_option("#fv-tag-select", args.examples_tag)
  frame.wait_for_selector("#fv-example-rows .fv-example-row")
  unit = args.examples_unit
  if unit is None:
    rows = (frame.query_selector_all(".fv-example-row:not(.fv-tied)")
            or frame.query_selector_all(".fv-example-row"))
    unit = int(rows[0].get_attribute("data-unit"))
  frame.click(f".fv-example-row[data-unit='{unit}']")
  frame.wait_for_selector(f"#fv-example-history[data-unit='{unit}']")
  # Whatever the AM placeholders say, until the AM steps are read.
  frame.wait_for_function(
      "() => !document.querySelector(\".fv-am-tile[data-state='loading']\")")
  _fit_and_save(page, frame, args.examples_out, args.width, bottom="#fv-example-history",
                images="#fv-root img:not([hidden])")


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
  parser.add_argument("--examples-tag",
                      help="a dataset-examples tag to capture too, e.g. featviz/examples/conv3")
  parser.add_argument("--examples-unit", type=int,
                      help="unit whose examples over training are shown (default: the "
                           "first whose examples do not all tie)")
  parser.add_argument("--examples-out", default=os.path.join(HERE, "panel_examples.png"))
  parser.add_argument("--examples-only", action="store_true",
                      help="only the examples picture, not panel.png and its history")
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
      if not args.examples_only:
        _fit_and_save(page, frame, args.out, args.width)
        if args.history:
          tiles = frame.query_selector_all(".fv-tile")
          unit = args.unit if args.unit is not None else int(
              tiles[min(1, len(tiles) - 1)].get_attribute("data-unit"))
          frame.click(f".fv-tile[data-unit='{unit}']")
          frame.wait_for_selector(f"#fv-history[data-unit='{unit}']")
          _wait_for_images(frame, ".fv-history img")
          _fit_and_save(page, frame, args.history_out, args.width)
      if args.examples_tag:
        _examples(page, frame, args)
      browser.close()


if __name__ == "__main__":
  main()
