"""How the featviz plugin holds up at scale: its routes, its memory, its panel.

  .venv/bin/python bench/plugin_scale.py [--steps 500 --layers 4 --units 64]

Run by `make bench` (never by the tests). It writes a logdir of synthetic
featviz summaries, random pictures through `tb_featviz.summary` (no real AM, so
writing is fast): STEPS steps x LAYERS layers x UNITS units of AM, and
inversion and MFV at OTHER_STEPS of those steps, in <logdir>/train/featviz as
the callback lays a run out. The logdir is cached under bench/_results/ by its
size, so a rerun skips writing it.

Then it starts the venv's `tensorboard` on it, waits until every step is
loaded, and measures p50 and p95 of:

  GET /steps, first per tag   the first request of each AM tag but the last
                              (which was polled while loading)   p95 < 300 ms
  GET /tags                   N requests                         p95 < 200 ms
  GET /steps (one AM tag)     N requests of the same tag         p95 < 300 ms
  GET /image (random)         N images of random steps and units p95 < 20 ms
    same, images plugin       the same N images through TensorBoard's own
                              image route: the cost of one read from the
                              data provider (a reference, no target)
  panel: step change          in Chromium, a jump of the step slider to a
                              random step until the UNITS grid images of that
                              step have loaded, R times           p95 < 1 s

and the memory (VmRSS and its peak VmHWM) of TensorBoard and its children
(the Rust data server under --load_fast=auto). JSON is asked for with
`Accept-Encoding: gzip`, as a browser does.

Results also go to bench/_results/plugin_scale.json (git-ignored).
"""

import argparse
import glob
import gzip
import importlib.util
import json
import os
import shutil
import time
import urllib.parse

import _common  # first: puts the repository on sys.path

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tb_featviz import kinds  # noqa: E402
from tb_featviz import summary  # noqa: E402
from tb_featviz.optvis import mfv as mfv_lib  # noqa: E402
from tests.e2e import tensorboard_server  # noqa: E402

RUN = "train"
TB_RUN = f"{RUN}/{kinds.DEFAULT_RUN_NAME}"  # as TensorBoard names it
PICTURE_SIZE = 28
PROBES = 8  # inverted images per inversion layer
INVERSION_LAYERS = ("conv1", "conv2")
MFV_LAYER, MFV_UNIT, MFV_K, MFV_POINTS = "logits", 3, 4, 256
# Bumped whenever what write_logdir writes changes, so old caches are not used.
LOGDIR_VERSION = 1
TARGETS_MS = {"steps_cold": 300, "tags": 200, "steps": 300, "image": 20,
              "image_tb": None, "panel": 1000}
GZIP = {"Accept-Encoding": "gzip"}
PANEL_TIMEOUT_MS = 60_000


def _parse_args():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=int, default=500, help="AM steps")
  parser.add_argument("--layers", type=int, default=4, help="AM layers")
  parser.add_argument("--units", type=int, default=64, help="AM units per layer")
  parser.add_argument("--other-steps", type=int, default=100,
                      help="steps with inversion and MFV (spread over the AM steps)")
  parser.add_argument("--requests", type=int, default=50,
                      help="timed requests of each route")
  parser.add_argument("--panel-changes", type=int, default=10,
                      help="timed step changes in the browser")
  parser.add_argument("--no-panel", action="store_true", help="skip the browser")
  parser.add_argument("--load-fast", default="auto", choices=["auto", "false"],
                      help="TensorBoard's --load_fast: auto uses its Rust data "
                      "server, false its Python loader")
  parser.add_argument("--keep-logdir", action=argparse.BooleanOptionalAction,
                      default=True, help="keep the written logdir for the next "
                      "run of the same size (default) or delete it at the end")
  parser.add_argument("--fresh", action="store_true",
                      help="write the logdir again even if it is cached")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--json",
                      default=os.path.join(_common.RESULTS_DIR, "plugin_scale.json"))
  return parser.parse_args()


# ----------------------------------------------------------------------------
# The logdir.


def layer_name(layer):
  """The name of AM layer number `layer` (1, 2, ...)."""
  return f"conv{layer}"


def am_tag(layer):
  return f"featviz/am/{layer_name(layer)}"


def other_steps(steps, count):
  """The `count` steps (of 0..steps-1, evenly spread) with inversion and MFV."""
  every = max(1, steps // max(1, count))
  return list(range(0, steps, every))[:count]


def _pictures(rng, n):
  return rng.random((n, PICTURE_SIZE, PICTURE_SIZE, 1), dtype=np.float32)


def _mfv_result(rng):
  """A random MFVResult of MFV_K facets over MFV_POINTS images."""
  return mfv_lib.MFVResult(
      facets=_pictures(rng, MFV_K), mean_images=_pictures(rng, MFV_K),
      embedding=rng.normal(size=(MFV_POINTS, 2)).astype(np.float32),
      labels=rng.integers(0, MFV_K, MFV_POINTS).astype(np.int32),
      activations=rng.random(MFV_K, dtype=np.float32),
      mean_activations=rng.random(MFV_K, dtype=np.float32),
      nearest=[], layer=MFV_LAYER, unit=MFV_UNIT, value_range=(0.0, 1.0))


def write_logdir(root, *, steps, layers, units, other_count, seed):
  """Writes the synthetic featviz run of the docstring under `root`.

  Args:
    root: the logdir (created).
    steps, layers, units: the AM series: `layers` layers conv1.. of `units` units.
    other_count: how many steps also get inversion and MFV.
    seed: of the random pictures and numbers.

  Returns:
    The run's directory, <root>/<RUN>/featviz.
  """
  rng = np.random.default_rng(seed)
  run_dir = os.path.join(root, RUN, kinds.DEFAULT_RUN_NAME)
  probes = _pictures(rng, PROBES)
  sprite_images = _pictures(rng, MFV_POINTS)
  others = set(other_steps(steps, other_count))
  writer = tf.summary.create_file_writer(run_dir)
  with writer.as_default():
    for step in range(steps):
      for layer in range(1, layers + 1):
        summary.am(layer_name(layer), _pictures(rng, units), step=step,
                   activations=rng.normal(size=units), seconds=0.5)
      if step not in others:
        continue
      for layer in INVERSION_LAYERS:
        summary.inversion(layer, _pictures(rng, PROBES), step=step,
                          originals=probes if step == 0 else None,
                          errors=rng.random(PROBES), seconds=0.5)
      summary.mfv(MFV_LAYER, _mfv_result(rng), step=step,
                  images=sprite_images, seconds=0.5)
  writer.close()
  return run_dir


def cached_logdir(args):
  """The logdir for these sizes: written now, or the one a previous run wrote.

  Returns:
    (logdir, seconds it took to write, whether it came from the cache).
  """
  key = (f"s{args.steps}_l{args.layers}_u{args.units}_o{args.other_steps}"
         f"_seed{args.seed}_v{LOGDIR_VERSION}")
  logdir = os.path.join(_common.RESULTS_DIR, "plugin_scale_logs", key)
  done = logdir + ".done"  # beside the logdir: TensorBoard need not see it
  if os.path.exists(done) and not args.fresh:
    with open(done, encoding="utf-8") as f:
      return logdir, float(f.read()), True
  shutil.rmtree(logdir, ignore_errors=True)
  os.makedirs(logdir)
  started = time.perf_counter()
  write_logdir(logdir, steps=args.steps, layers=args.layers, units=args.units,
               other_count=args.other_steps, seed=args.seed)
  seconds = time.perf_counter() - started
  with open(done, "w", encoding="utf-8") as f:
    f.write(f"{seconds:.1f}\n")
  return logdir, seconds, False


def remove_logdir(logdir):
  shutil.rmtree(logdir, ignore_errors=True)
  if os.path.exists(logdir + ".done"):
    os.remove(logdir + ".done")


# ----------------------------------------------------------------------------
# TensorBoard's side: routes and memory.


def route_url(base, route, **params):
  url = f"{base}/data/plugin/featviz/{route}"
  return url + ("?" + urllib.parse.urlencode(params) if params else "")


def wait_until_loaded(base, run, tag, steps, timeout=1800):
  """Polls /steps of `tag` until it lists `steps` steps; returns that answer."""
  deadline = time.monotonic() + timeout
  while True:
    answer = tensorboard_server.get_json(route_url(base, "steps", run=run, tag=tag))
    if len(answer["steps"]) >= steps:
      return answer
    if time.monotonic() > deadline:
      raise RuntimeError(f"Only {len(answer['steps'])} of {steps} steps of {tag} "
                         f"loaded after {timeout} s")
    time.sleep(1.0)


def timed_get(url, headers=None):
  """(milliseconds, body bytes as sent) of a GET that must answer 200."""
  started = time.perf_counter()
  status, _, body = tensorboard_server.get(url, headers=headers)
  elapsed = (time.perf_counter() - started) * 1000
  if status != 200:
    raise RuntimeError(f"{url} answered {status}: {body[:300]!r}")
  return elapsed, body


def time_route(urls, headers=None):
  """Times a GET of each of `urls` after one untimed warm-up of the first.

  Returns:
    {"ms": [...], "first_ms": the warm-up, "bytes": size of the last body}.
  """
  first, _ = timed_get(urls[0], headers)
  times, body = [], b""
  for url in urls:
    elapsed, body = timed_get(url, headers)
    times.append(elapsed)
  return {"ms": times, "first_ms": first, "bytes": len(body)}


def process_tree(pid):
  """`pid` and all its descendants, from /proc/<pid>/task/*/children."""
  tree, todo = [], [pid]
  while todo:
    current = todo.pop()
    tree.append(current)
    for children in glob.glob(f"/proc/{current}/task/*/children"):
      try:
        with open(children, encoding="utf-8") as f:
          todo.extend(int(child) for child in f.read().split())
      except OSError:  # the thread or process is gone
        pass
  return tree


def _process_name(pid):
  try:
    with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
      return f.read().strip()
  except OSError:
    return "?"


def memory(pid):
  """VmRSS and VmHWM (MiB) of each process of the tree at `pid`, and totals."""
  rows = []
  for member in process_tree(pid):
    mib = {field: _common.proc_kib(f"/proc/{member}/status", field) / 1024
           for field in ("VmRSS", "VmHWM")}
    if not np.isnan(mib["VmRSS"]):
      rows.append({"pid": member, "name": _process_name(member), **mib})
  return {"processes": rows,
          "rss_mib": sum(r["VmRSS"] for r in rows),
          "hwm_mib": sum(r["VmHWM"] for r in rows)}


def measure_routes(base, run, tags, n, rng):
  """Times the routes; returns ({name: result}, the /steps answer of tags[0]).

  Args:
    base: TensorBoard's URL.
    run: the run.
    tags: the AM tags; the last one must have been requested already (it was
      polled while loading), the others not, so that their first /steps
      request is timed as "steps_cold".
    n: how many times to time /tags, /steps of tags[0] and /image.
    rng: picks the images.
  """
  results = {}
  cold = [timed_get(route_url(base, "steps", run=run, tag=tag), GZIP)
          for tag in tags[:-1]]
  if cold:
    text = gzip.decompress(cold[0][1])
    results["steps_cold"] = {"ms": [ms for ms, _ in cold], "bytes": len(cold[0][1]),
                             "json_bytes": len(text)}
    answer = json.loads(text)
  else:
    answer = tensorboard_server.get_json(route_url(base, "steps", run=run, tag=tags[0]))
  image_urls = []
  for _ in range(n):
    keys = answer["steps"][rng.integers(len(answer["steps"]))]["images"]
    image_urls.append(route_url(base, "image", key=keys[rng.integers(len(keys))]))
  results["tags"] = time_route([route_url(base, "tags")] * n, GZIP)
  results["steps"] = time_route(
      [route_url(base, "steps", run=run, tag=tags[0])] * n, GZIP)
  results["image"] = time_route(image_urls)
  # The floor of one blob read: TensorBoard's own image route, same blobs.
  results["image_tb"] = time_route(
      [url.replace("/featviz/image?key=", "/images/individualImage?blob_key=")
       for url in image_urls])
  return results, answer


# ----------------------------------------------------------------------------
# The panel in Chromium.

# Moves the slider to `index` as a drag does (an input event), then waits until
# every grid image shows one of `keys` (the new step's) and has loaded. Returns
# the milliseconds that took, measured in the page.
_STEP_CHANGE_JS = """async ({index, keys, timeoutMs}) => {
  const wanted = new Set(keys);
  const slider = document.querySelector('#fv-step-slider');
  const loaded = () => {
    const images = [...document.querySelectorAll('.fv-tile img')];
    return images.length === wanted.size && images.every((img) =>
        wanted.has(img.dataset.key) && img.complete && img.naturalWidth > 0 &&
        img.currentSrc === img.src);
  };
  const started = performance.now();
  slider.value = String(index);
  slider.dispatchEvent(new Event('input', {bubbles: true}));
  while (!loaded()) {
    if (performance.now() - started > timeoutMs) return -1;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return performance.now() - started;
}"""


def panel_problem():
  """Why the panel cannot be measured on this machine, or None if it can."""
  if importlib.util.find_spec("playwright") is None:
    return "Playwright is not installed"
  from tests.e2e import browser as test_browser  # pylint: disable=import-outside-toplevel
  if not os.access(test_browser.CHROMIUM, os.X_OK):
    return f"{test_browser.CHROMIUM} is missing (`make chromium` installs it)"
  return None


def measure_panel(base, steps_answer, n, rng):
  """Opens the panel on the AM tag of `steps_answer` and times `n` step changes.

  Returns:
    {"ms": [...], "open_ms": page open until the first grid loaded,
     "console_errors": [...]}.
  """
  from playwright import sync_api  # pylint: disable=import-outside-toplevel

  from tests.e2e import browser as test_browser  # pylint: disable=import-outside-toplevel

  run, tag, entries = steps_answer["run"], steps_answer["tag"], steps_answer["steps"]
  indices = rng.choice(len(entries) - 1, size=min(n, len(entries) - 1), replace=False)
  with sync_api.sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=test_browser.CHROMIUM,
                                         args=test_browser.CHROMIUM_ARGS)
    try:
      started = time.perf_counter()
      page, frame, console = test_browser.open_panel(browser, base)
      page.set_default_timeout(PANEL_TIMEOUT_MS)
      frame.wait_for_selector("#fv-tag-select")
      frame.select_option("#fv-run-select", run)
      frame.select_option("#fv-tag-select", tag)
      frame.wait_for_function(
          "(n) => document.querySelectorAll('.fv-tile img').length === n",
          arg=len(entries[-1]["images"]))
      test_browser.wait_for_images(frame, ".fv-tile img")
      open_ms = (time.perf_counter() - started) * 1000
      times = [frame.evaluate(_STEP_CHANGE_JS, {
          "index": int(i), "keys": entries[int(i)]["images"],
          "timeoutMs": PANEL_TIMEOUT_MS}) for i in indices]
      page.close()
    finally:
      browser.close()
  if any(t < 0 for t in times):
    raise RuntimeError(f"A step's grid did not load within {PANEL_TIMEOUT_MS} ms")
  return {"ms": times, "open_ms": open_ms, "console_errors": console.errors}


# ----------------------------------------------------------------------------
# Reporting.


def percentiles(values):
  """(p50, p95) of `values`, p95 by linear interpolation."""
  return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def print_table(results):
  """Prints one row per measurement with its target; returns the JSON rows."""
  labels = {"steps_cold": "GET /steps, first per tag", "tags": "GET /tags",
            "steps": "GET /steps (one AM tag)", "image": "GET /image (random)",
            "image_tb": "  same, images plugin", "panel": "panel: step change"}
  _common.print_header(f"  {'what':26s} {'n':>4s} {'p50 ms':>8s} {'p95 ms':>8s} "
                       f"{'first ms':>9s} {'bytes':>9s}  p95 target")
  rows = []
  for name, result in results.items():
    p50, p95 = percentiles(result["ms"])
    target = TARGETS_MS[name]
    verdict = (f"< {target} ms{_common.verdict(p95, target)}" if target
               else "(reference)")
    first = result.get("first_ms", result.get("open_ms"))
    size = result.get("bytes")
    print(f"  {labels[name]:26s} {len(result['ms']):4d} {p50:8.1f} {p95:8.1f} "
          f"{'' if first is None else f'{first:.1f}':>9s} "
          f"{'' if size is None else size:>9}  {verdict}")
    rows.append({"name": name, "n": len(result["ms"]), "p50_ms": p50, "p95_ms": p95,
                 "first_ms": first, "bytes": size, "target_ms": target,
                 "ok": None if target is None else p95 <= target,
                 "ms": result["ms"]})
  return rows


def print_memory(label, mem):
  parts = ", ".join(f"{p['name']} {p['VmRSS']:.0f} (peak {p['VmHWM']:.0f})"
                    for p in mem["processes"])
  print(f"  memory {label}: RSS {mem['rss_mib']:.0f} MiB, peak {mem['hwm_mib']:.0f} "
        f"MiB  [{parts}]")


def describe_logdir(args, logdir, write_seconds, cached):
  """Prints what the logdir holds and where it came from; returns its MiB."""
  size_mib = sum(os.path.getsize(os.path.join(folder, name))
                 for folder, _, names in os.walk(logdir) for name in names) / 2**20
  how = (f"cached (it was written in {write_seconds:.1f} s)" if cached
         else f"written in {write_seconds:.1f} s")
  print(f"Logdir: {args.steps} steps x {args.layers} layers x {args.units} units "
        f"of AM; inversion ({len(INVERSION_LAYERS)} layers x {PROBES} images) and "
        f"MFV (k={MFV_K}, {MFV_POINTS} points) at "
        f"{len(other_steps(args.steps, args.other_steps))} of those steps; "
        f"{size_mib:.0f} MiB, {how}\n  {os.path.relpath(logdir, _common.REPO_ROOT)}")
  return size_mib


def measure(args, logdir, rng):
  """Runs TensorBoard on `logdir` and measures everything.

  Returns:
    A dict: load_seconds, results ({name: result} of the routes and the
    panel), and memory ("loaded" and "end", from `memory`).
  """
  tags = [am_tag(layer) for layer in range(1, args.layers + 1)]
  started = time.perf_counter()
  with tensorboard_server.running_process(
      logdir, f"--load_fast={args.load_fast}") as (base, process):
    wait_until_loaded(base, TB_RUN, tags[-1], args.steps)
    load_seconds = time.perf_counter() - started
    print(f"TensorBoard (--load_fast={args.load_fast}): all {args.steps} steps "
          f"loaded {load_seconds:.1f} s after it started")
    loaded = memory(process.pid)
    results, answer = measure_routes(base, TB_RUN, tags, args.requests, rng)
    no_panel = "--no-panel" if args.no_panel else panel_problem()
    if no_panel:
      print(f"Panel not measured: {no_panel}")
    else:
      results["panel"] = measure_panel(base, answer, args.panel_changes, rng)
    end = memory(process.pid)
  return {"load_seconds": load_seconds, "results": results,
          "memory": {"loaded": loaded, "end": end}}


def main():
  args = _parse_args()
  rng = np.random.default_rng(args.seed)
  info = _common.machine()
  _common.print_machine(info)
  logdir, write_seconds, cached = cached_logdir(args)
  size_mib = describe_logdir(args, logdir, write_seconds, cached)
  measured = measure(args, logdir, rng)
  results = measured["results"]
  cold = results.get("steps_cold")
  if cold:
    print(f"One AM tag's /steps answer: {cold['json_bytes'] / 1e6:.2f} MB of JSON, "
          f"{cold['bytes'] / 1e6:.2f} MB gzipped")
  rows = print_table(results)
  print_memory("once loaded", measured["memory"]["loaded"])
  print_memory("at the end ", measured["memory"]["end"])
  errors = results.get("panel", {}).get("console_errors")
  if errors:
    print(f"  panel console errors: {errors[:5]}")
  info["load_average_end"] = list(os.getloadavg())
  _common.print_load_note(info)
  _common.write_json(args.json, {
      "machine": info,
      "sizes": {"steps": args.steps, "layers": args.layers, "units": args.units,
                "other_steps": args.other_steps},
      "logdir_mib": size_mib, "write_seconds": write_seconds,
      "logdir_cached": cached,
      "load_fast": args.load_fast, "load_seconds": measured["load_seconds"],
      "rows": rows, "memory": measured["memory"], "panel_console_errors": errors})
  if not args.keep_logdir:
    remove_logdir(logdir)


if __name__ == "__main__":
  main()
