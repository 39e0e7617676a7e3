"""Keeps recent images in memory and reads a step's images together.

The panel shows a step as a grid: one /image request per unit, all at once.
Under TensorBoard's fast loader every blob read is a gRPC call to the data
server, and tensorboard-data-server 0.7.2 does not set TCP_NODELAY, so a call
on its own waits for a delayed ACK before its data arrive. Calls in flight
together do not: their traffic carries the ACKs. So the first request for an
image of a known step also starts reading the step's other images in the
background, and the requests that follow find them read, or being read. (The
measurements behind this and the numbers below are in docs/benchmarks.md,
"Measurements behind the code".)
"""

import collections
import concurrent.futures
import threading

# Enough for several steps of 256 PNGs of 224x224x3 (about 100 KB each).
MAX_BYTES = 64 * 1024 * 1024
# How many series' step groups are remembered (as many as /steps answers).
MAX_SERIES = 16
# Blob reads in flight at once, besides the requests' own threads: more show a
# grid sooner, with diminishing returns and more variable single reads.
READERS = 32
# Images read ahead of a request that had to read its own: enough to carry
# its ACKs; more compete with it for the cores on a small machine.
FIRST_AHEAD = 4


class StepImageCache:
  """Image bytes by blob key, read a step at a time.

  Args:
    max_bytes: the most image bytes kept; the least recently used go first.
    max_series: how many series' step groups are remembered.
    readers: threads that read a step's next images, and how many are read
      ahead of a request that found its image read or being read.
    first_ahead: how many are read ahead of a request that reads its own.
  """

  def __init__(self, max_bytes=MAX_BYTES, max_series=MAX_SERIES,
               readers=READERS, first_ahead=FIRST_AHEAD):
    self._max_bytes = max_bytes
    self._max_series = max_series
    self._readers = readers
    self._first_ahead = min(first_ahead, readers)
    self._lock = threading.Lock()
    self._images = collections.OrderedDict()  # key -> bytes
    self._bytes = 0
    self._reading = {}  # key -> Future of bytes
    self._groups = collections.OrderedDict()  # series -> {key: keys of its step}
    self._pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=readers, thread_name_prefix="featviz-images")

  def remember_steps(self, series, steps):
    """Records which images belong together, forgetting the series' old images.

    A series is remembered again when it changed. Its blob keys may then
    name other images than before (a run restarted in the same logdir writes
    its steps again, under the same keys), so what was kept of it goes.

    Args:
      series: a hashable name of the time series, e.g. (experiment, run, tag).
      steps: for each step, the blob keys of its images.
    """
    groups = {}
    for keys in steps:
      keys = tuple(keys)
      for key in keys:
        groups[key] = keys
    with self._lock:
      for key in self._groups.pop(series, ()):
        image = self._images.pop(key, None)
        if image is not None:
          self._bytes -= len(image)
      self._groups[series] = groups
      while len(self._groups) > self._max_series:
        self._groups.popitem(last=False)

  def touch(self, series):
    """Marks `series` as used, so its step groups are forgotten last."""
    with self._lock:
      if series in self._groups:
        self._groups.move_to_end(series)

  def read(self, key, fetch):
    """The bytes of image `key`, from memory or from `fetch(key)`.

    If `key` belongs to a remembered step, the step's next images not yet in
    memory are read by `fetch` in the background: a few after a request that
    had to read its own image, as many as there are readers after one that
    found its image read or being read (the panel asking for a grid).

    Args:
      key: a blob key.
      fetch: a callable key -> bytes; what it raises reaches the caller (for
        `key`) or is dropped (for the other images of the step).

    Returns:
      The image's bytes.
    """
    with self._lock:
      image = self._images.get(key)
      pending = None if image is not None else self._reading.get(key)
      own = image is None and pending is None
      if own:
        pending = self._start(key)
      # A lone image needs only enough reads beside its own to carry its
      # ACKs; more would compete with it for the CPU. A request that finds
      # its image already read or reading is part of a grid: read on.
      ahead = self._first_ahead if own else self._readers
      for other in self._following(key, ahead):
        if other not in self._images and other not in self._reading:
          self._pool.submit(self._read_into, self._start(other), other, fetch)
      if image is not None:
        self._images.move_to_end(key)
        return image
    if own:
      self._read_into(pending, key, fetch)
    return pending.result()

  def _following(self, key, count):
    """Up to `count` keys after `key` in its step, wrapping around.

    The panel asks for a step's images in order, so these are the ones it
    asks for next; a request further on starts the next stretch. Reading
    less than the whole step keeps a lone request (a step picked and left)
    from queueing reads that nobody waits for in front of the next one.
    """
    for groups in reversed(self._groups.values()):
      keys = groups.get(key)
      if keys is not None:
        at = keys.index(key)
        return [keys[(at + i) % len(keys)]
                for i in range(1, min(count, len(keys) - 1) + 1)]
    return ()

  def _start(self, key):
    future = concurrent.futures.Future()
    self._reading[key] = future
    return future

  def _read_into(self, future, key, fetch):
    try:
      image = fetch(key)
    except BaseException as error:  # pylint: disable=broad-except
      with self._lock:
        del self._reading[key]
      future.set_exception(error)
      return
    with self._lock:
      del self._reading[key]
      self._keep(key, image)
    future.set_result(image)

  def _keep(self, key, image):
    if len(image) > self._max_bytes:
      return
    self._images[key] = image
    self._bytes += len(image)
    while self._bytes > self._max_bytes:
      _, dropped = self._images.popitem(last=False)
      self._bytes -= len(dropped)
