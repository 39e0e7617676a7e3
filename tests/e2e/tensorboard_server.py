"""Starts a real `tensorboard` process on a free loopback port, for tests."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

_START_TIMEOUT_SECONDS = 90


def free_port():
  """A TCP port on 127.0.0.1 that nothing listens on right now."""
  with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1]


def get(url, timeout=30, headers=None):
  """(status, headers, body bytes) of a GET, without raising on 4xx/5xx.

  Args:
    url: what to fetch.
    timeout: seconds to wait for the connection and each read.
    headers: request headers to send, e.g. {"Accept-Encoding": "gzip"}.

  Returns:
    (status code, response headers, body bytes as sent, not decompressed).
  """
  request = urllib.request.Request(url, headers=headers or {})
  try:
    with urllib.request.urlopen(request, timeout=timeout) as response:
      return response.status, response.headers, response.read()
  except urllib.error.HTTPError as error:
    return error.code, error.headers, error.read()


def get_json(url):
  status, _, body = get(url)
  assert status == 200, (url, status, body[:500])
  return json.loads(body)


def featviz_enabled(listing):
  """Whether a /data/plugins_listing answer shows featviz active (it has data)."""
  return bool(listing.get("featviz", {}).get("enabled"))


@contextlib.contextmanager
def launched(command, base, *, log, read_log, ready=featviz_enabled, cwd=None):
  """Runs a TensorBoard `command` until the block ends.

  Waits until `ready(plugins listing)` holds (or the timeout passes, which
  fails with TensorBoard's own output), then yields the process (a
  `subprocess.Popen`); stops it after.

  Args:
    command: the argv that starts TensorBoard.
    base: its base URL (with any path prefix).
    log: the file its output goes to.
    read_log: returns that output so far, for the error message.
    ready: a predicate on the parsed /data/plugins_listing answer.
    cwd: the working directory of the process.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                             env=env, cwd=cwd)
  try:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while True:
      if process.poll() is not None or time.monotonic() > deadline:
        raise RuntimeError(f"TensorBoard did not start: {read_log()[-3000:]}")
      try:
        status, _, body = get(base + "/data/plugins_listing", timeout=2)
        if status == 200 and ready(json.loads(body)):
          break
      except (OSError, ValueError):
        pass
      time.sleep(0.5)
    yield process
  finally:
    process.terminate()
    try:
      process.wait(timeout=20)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


@contextlib.contextmanager
def running_process(logdir, *flags, path_prefix=""):
  """Runs `tensorboard --logdir logdir`; yields (base URL, the process).

  Waits until the plugin listing answers and the featviz plugin is active (or
  the timeout passes, which fails with TensorBoard's own output).

  Args:
    logdir: the directory to serve.
    *flags: more command-line flags, e.g. "--load_fast=false".
    path_prefix: TensorBoard's --path_prefix, e.g. "/tb".

  Yields:
    (base URL with the path prefix, the `subprocess.Popen` of TensorBoard).
  """
  port = free_port()
  tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
  command = [tensorboard, "--logdir", str(logdir), "--host", "127.0.0.1",
             "--port", str(port), "--reload_interval", "1", *flags]
  if path_prefix:
    command += ["--path_prefix", path_prefix]
  base = f"http://127.0.0.1:{port}{path_prefix}"
  with tempfile.TemporaryFile("w+") as log:  # neither in the logdir nor the repo

    def read_log():
      log.seek(0)
      return log.read()

    with launched(command, base, log=log, read_log=read_log) as process:
      yield base, process


@contextlib.contextmanager
def running(logdir, *flags, path_prefix=""):
  """Like `running_process`, but yields only the base URL."""
  with running_process(logdir, *flags, path_prefix=path_prefix) as (base, _):
    yield base
