"""What a run directory already holds, so that no step is logged twice.

A `RunLog` knows, for every step, which featviz image tags are already logged
in `<logdir>/<run_name>`, whoever wrote them (FeatureVizCallback, an earlier
watcher, `tb-featviz run`). It learns it from two places:

- the state file `.tb_featviz_watch.json` in the run directory, rewritten
  atomically (temporary file + rename) after each checkpoint's summaries are
  flushed: the tags logged per step, and the size up to which each event file
  is accounted for;
- the event files themselves: any event file the state does not account for
  (written by the callback, or by a watcher killed between its flush and its
  state update) is read, and the featviz tags found in it are added.

So a watcher stopped in any way and started again redoes nothing that reached
the disk, and a run can mix steps of the callback and of the watcher.
"""

import json
import os
import tempfile

try:
  import fcntl
except ImportError:  # not POSIX: no lock
  fcntl = None

from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import event_pb2

from tb_featviz import metadata

STATE_FILENAME = ".tb_featviz_watch.json"
LOCK_FILENAME = ".tb_featviz_watch.lock"
STATE_VERSION = 1
ORIGINALS_ENDING = "/" + metadata.ORIGINALS_SUFFIX


def is_event_file(name):
  return "tfevents" in name


def read_tags(path):
  """{step: set of featviz tags} in one event file (a truncated end is ignored)."""
  found = {}
  loader = event_file_loader.RawEventFileLoader(path)
  for record in loader.Load():
    event = event_pb2.Event.FromString(record)
    if not event.HasField("summary"):
      continue
    for value in event.summary.value:
      if value.tag.startswith(metadata.TAG_PREFIX + "/"):
        found.setdefault(int(event.step), set()).add(value.tag)
  return found


def write_json_atomically(path, data):
  """Writes `data` as JSON to `path` so that readers see the old or the new file."""
  directory = os.path.dirname(os.path.abspath(path))
  handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
  try:
    os.chmod(temporary, 0o644)  # mkstemp makes it private
    with os.fdopen(handle, "w", encoding="utf-8") as f:
      json.dump(data, f, indent=1, sort_keys=True)
      f.flush()
      os.fsync(f.fileno())
    os.replace(temporary, path)
  except BaseException:
    if os.path.exists(temporary):
      os.unlink(temporary)
    raise


class RunLocked(RuntimeError):
  """Another process is visualizing checkpoints into the same run."""


class RunLog:
  """The featviz tags already logged in a run directory, per step.

  Args:
    run_dir: `<logdir>/<run_name>` (need not exist yet).
    own_marker: the mark in the names of this process's event files (see
      CheckedWriter's `name`); their content is known from `record`, so they
      are never read back.
    lock: hold an exclusive lock on the run (`.tb_featviz_watch.lock`, POSIX
      only) until `close`, so that two watchers never write the same run. The
      operating system releases it when the process ends, however it ends.

  Raises:
    RunLocked: if another process holds the lock.
  """

  def __init__(self, run_dir, own_marker=None, lock=False):
    self.run_dir = run_dir
    self.path = os.path.join(run_dir, STATE_FILENAME)
    self.own_marker = own_marker
    self.done = {}  # step -> set of tags
    self.accounted = {}  # event file name -> size accounted for
    self._lock = None
    if lock:
      self._acquire()
    self._load()
    self.refresh()

  def _acquire(self):
    if fcntl is None:
      return
    os.makedirs(self.run_dir, exist_ok=True)
    handle = open(os.path.join(self.run_dir, LOCK_FILENAME), "a+")
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      handle.close()
      raise RunLocked(f"another tb-featviz process is writing to {self.run_dir}; "
                      "stop it first (one watcher per run).") from None
    self._lock = handle

  def close(self):
    """Releases the lock (if held)."""
    if self._lock is not None:
      self._lock.close()
      self._lock = None

  def _load(self):
    try:
      with open(self.path, encoding="utf-8") as f:
        state = json.load(f)
    except FileNotFoundError:
      return
    except (OSError, ValueError):
      return  # unreadable: the event files tell the same story
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
      return
    for step, tags in state.get("done", {}).items():
      self.done.setdefault(int(step), set()).update(tags)
    self.accounted = {str(name): int(size)
                      for name, size in state.get("event_files", {}).items()}

  def _event_files(self):
    try:
      names = os.listdir(self.run_dir)
    except FileNotFoundError:
      return {}
    sizes = {}
    for name in names:
      if is_event_file(name):
        try:
          sizes[name] = os.path.getsize(os.path.join(self.run_dir, name))
        except FileNotFoundError:
          pass
    return sizes

  def refresh(self):
    """Reads the event files not yet accounted for (other writers' new steps)."""
    for name, size in sorted(self._event_files().items()):
      if self._own(name) or self.accounted.get(name) == size:
        continue
      for step, tags in read_tags(os.path.join(self.run_dir, name)).items():
        self.done.setdefault(step, set()).update(tags)
      self.accounted[name] = size

  def missing(self, step, tags):
    """The tags of `tags` not yet logged at `step`, in order."""
    have = self.done.get(step, set())
    return [tag for tag in tags if tag not in have]

  def _own(self, name):
    return self.own_marker is not None and f".{self.own_marker}-" in name

  def once_logged(self):
    """The tags of data written once per run (originals) that are logged."""
    return {tag for tags in self.done.values() for tag in tags
            if tag.endswith(ORIGINALS_ENDING)}

  def record(self, step, tags):
    """Notes that `tags` were logged at `step` and flushed; saves the state.

    The writer must have been flushed: the sizes of this process's event files
    are taken as accounted for.
    """
    self.done.setdefault(step, set()).update(tags)
    for name, size in self._event_files().items():
      if self._own(name):
        self.accounted[name] = size
    self.save()

  def save(self):
    os.makedirs(self.run_dir, exist_ok=True)
    write_json_atomically(self.path, {
        "version": STATE_VERSION,
        "done": {str(step): sorted(tags) for step, tags in sorted(self.done.items())},
        "event_files": dict(sorted(self.accounted.items())),
    })
