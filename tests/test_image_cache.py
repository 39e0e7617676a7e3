"""The plugin's image cache: a step's images read together, kept in bounds."""

import collections
import threading
import time

import pytest

from tb_featviz.plugin import image_cache


class Fetcher:
  """Counts reads; `image(key)` is what key `key` holds."""

  def __init__(self, fail=(), gate=None):
    self.calls = collections.Counter()
    self.fail = set(fail)
    self.gate = gate
    self._lock = threading.Lock()

  @staticmethod
  def image(key):
    return f"png of {key}".encode()

  def __call__(self, key):
    with self._lock:
      self.calls[key] += 1
    if self.gate is not None:
      self.gate.wait(5)
    if key in self.fail:
      raise LookupError(f"no blob {key}")
    return self.image(key)


def _cache(**kwargs):
  return image_cache.StepImageCache(**kwargs)


def test_an_image_is_read_once_then_served_from_memory():
  cache, fetch = _cache(), Fetcher()
  assert cache.read("a", fetch) == Fetcher.image("a")
  assert cache.read("a", fetch) == Fetcher.image("a")
  assert fetch.calls == {"a": 1}


def test_an_image_of_a_known_step_brings_the_whole_step():
  cache, fetch = _cache(), Fetcher()
  cache.remember_steps("series", [["s0/0", "s0/1", "s0/2"], ["s1/0", "s1/1"]])
  assert cache.read("s0/1", fetch) == Fetcher.image("s0/1")
  for key in ("s0/0", "s0/2", "s0/1"):
    assert cache.read(key, fetch) == Fetcher.image(key)
  # Each image of step 0 read exactly once, nothing of step 1.
  assert fetch.calls == {"s0/0": 1, "s0/1": 1, "s0/2": 1}


def test_requests_that_arrive_together_share_one_read():
  gate = threading.Event()
  cache, fetch = _cache(), Fetcher(gate=gate)
  cache.remember_steps("series", [[f"k{i}" for i in range(8)]])
  results = {}

  def request(key):
    results[key] = cache.read(key, fetch)

  threads = [threading.Thread(target=request, args=(f"k{i % 8}",))
             for i in range(24)]
  for thread in threads:
    thread.start()
  gate.set()
  for thread in threads:
    thread.join(10)
  assert results == {f"k{i}": Fetcher.image(f"k{i}") for i in range(8)}
  assert fetch.calls == {f"k{i}": 1 for i in range(8)}


def test_a_failed_read_reaches_its_caller_and_is_not_kept():
  cache, fetch = _cache(), Fetcher(fail={"bad"})
  for _ in range(2):
    with pytest.raises(LookupError, match="no blob bad"):
      cache.read("bad", fetch)
  assert fetch.calls == {"bad": 2}


def test_a_failed_read_of_another_image_of_the_step_is_dropped():
  cache, fetch = _cache(), Fetcher(fail={"s/1"})
  cache.remember_steps("series", [["s/0", "s/1", "s/2"]])
  assert cache.read("s/0", fetch) == Fetcher.image("s/0")
  assert cache.read("s/2", fetch) == Fetcher.image("s/2")
  with pytest.raises(LookupError):
    cache.read("s/1", fetch)  # its background read's error, or its own
  before = fetch.calls["s/1"]
  with pytest.raises(LookupError):
    cache.read("s/1", fetch)
  assert fetch.calls["s/1"] == before + 1  # the error was not kept


def test_the_least_recently_used_images_go_first_past_the_byte_bound():
  size = len(Fetcher.image("a"))
  cache, fetch = _cache(max_bytes=2 * size), Fetcher()
  cache.read("a", fetch)
  cache.read("b", fetch)
  cache.read("a", fetch)  # now b is the least recently used
  cache.read("c", fetch)
  cache.read("a", fetch)
  assert fetch.calls == {"a": 1, "b": 1, "c": 1}
  cache.read("b", fetch)
  assert fetch.calls["b"] == 2


def test_remembering_a_series_again_forgets_what_was_kept_of_it():
  # A run restarted in the same logdir writes step 0 again, under the same key.
  cache, fetch = _cache(), Fetcher()
  cache.remember_steps("series", [["s/0"]])
  cache.remember_steps("other", [["o/0"]])
  cache.read("s/0", fetch)
  cache.read("o/0", fetch)
  cache.remember_steps("series", [["s/0"], ["s/1"]])
  cache.read("s/0", fetch)
  cache.read("o/0", fetch)
  assert fetch.calls == {"s/0": 2, "o/0": 1}


def test_only_the_last_series_are_remembered():
  cache, fetch = _cache(max_series=2), Fetcher()
  for name in ("first", "second", "third"):
    cache.remember_steps(name, [[f"{name}/0", f"{name}/1"]])
  cache.touch("first")  # gone already: nothing to keep
  cache.read("first/0", fetch)
  cache.read("third/0", fetch)
  cache.read("third/1", fetch)
  assert fetch.calls == {"first/0": 1, "third/0": 1, "third/1": 1}
  cache.read("first/1", fetch)  # not brought with first/0
  assert fetch.calls["first/1"] == 1


def _wait_for_reads(fetch, count, timeout=5.0):
  deadline = time.monotonic() + timeout
  while len(fetch.calls) < count and time.monotonic() < deadline:
    time.sleep(0.01)
  time.sleep(0.05)  # room for a read too many to show


def test_a_lone_request_reads_a_few_ahead_and_a_grid_reads_on():
  cache, fetch = _cache(readers=3, first_ahead=1), Fetcher()
  keys = [f"s/{i}" for i in range(6)]
  cache.remember_steps("series", [keys])
  cache.read("s/4", fetch)  # reads its own image, and s/5 ahead
  _wait_for_reads(fetch, 2)
  assert set(fetch.calls) == {"s/4", "s/5"}
  # s/5 was read ahead: a grid is being asked for, so three more follow,
  # in order and wrapping around.
  cache.read("s/5", fetch)
  _wait_for_reads(fetch, 5)
  assert fetch.calls == {"s/4": 1, "s/5": 1, "s/0": 1, "s/1": 1, "s/2": 1}
