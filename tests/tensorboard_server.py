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


def get(url, timeout=30):
  """(status, headers, body bytes) of a GET, without raising on 4xx/5xx."""
  try:
    with urllib.request.urlopen(url, timeout=timeout) as response:
      return response.status, response.headers, response.read()
  except urllib.error.HTTPError as error:
    return error.code, error.headers, error.read()


def get_json(url):
  status, _, body = get(url)
  assert status == 200, (url, status, body[:500])
  return json.loads(body)


@contextlib.contextmanager
def running(logdir, *flags, path_prefix=""):
  """Runs `tensorboard --logdir logdir` and yields its base URL.

  Waits until the plugin listing answers and the featviz plugin is active (or
  the timeout passes, which fails with TensorBoard's own output).

  Args:
    logdir: the directory to serve.
    *flags: more command-line flags, e.g. "--load_fast=false".
    path_prefix: TensorBoard's --path_prefix, e.g. "/tb".
  """
  port = free_port()
  tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
  command = [tensorboard, "--logdir", str(logdir), "--host", "127.0.0.1",
             "--port", str(port), "--reload_interval", "1", *flags]
  if path_prefix:
    command += ["--path_prefix", path_prefix]
  log = tempfile.TemporaryFile("w+")  # neither in the logdir nor the repo
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
  base = f"http://127.0.0.1:{port}{path_prefix}"
  try:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while True:
      if process.poll() is not None or time.monotonic() > deadline:
        log.seek(0)
        raise RuntimeError(f"TensorBoard did not start: {log.read()[-3000:]}")
      try:
        status, _, body = get(base + "/data/plugins_listing", timeout=2)
        if status == 200 and json.loads(body).get("featviz", {}).get("enabled"):
          break
      except (OSError, ValueError):
        pass
      time.sleep(0.5)
    yield base
  finally:
    process.terminate()
    try:
      process.wait(timeout=20)
    except subprocess.TimeoutExpired:
      process.kill()
    log.close()
