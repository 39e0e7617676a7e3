"""Finding Keras checkpoints in a folder, telling when they are complete, and their steps.

Two kinds of checkpoint are read, the ones `keras.callbacks.ModelCheckpoint`
writes: whole models (`.keras` zip files) and weights only (`.weights.h5`,
with `save_weights_only=True`; these need the architecture from a `.keras`
file).

The step of a checkpoint, by default, is the number in its name (see
`StepRule`), minus one: ModelCheckpoint's `{epoch}` counts from 1, while
FeatureVizCallback and keras.callbacks.TensorBoard log epoch e (from 0) as step
e. So `model-03.keras`, written after the third epoch, is logged at step 2,
where the callback would have logged the same model. The other source is the
number of training batches stored with the checkpoint (the optimizer's
iteration counter, in `.keras` files and in `.weights.h5` files of compiled
models), which is the step the callback logs with `every_n_steps`.

No TensorFlow here: only the file system, zipfile and h5py.
"""

import dataclasses
import os
import re
import zipfile

KERAS = "keras"
WEIGHTS = "weights"
SUFFIXES = {KERAS: ".keras", WEIGHTS: ".weights.h5"}
# Name parts of files still being written or copied (e.g. "model.keras.tmp" is
# not a checkpoint anyway; these catch "model.tmp.keras", "model.part.keras").
TEMPORARY_MARKERS = (".tmp", ".temp", ".part", ".partial", ".incomplete",
                     ".download", ".crdownload", ".swp", ".lock")

NAME = "name"
ITERATIONS = "iterations"
AUTO = "auto"
SOURCES = (AUTO, NAME, ITERATIONS)
DEFAULT_STEP_PATTERN = r"(?i)(?:epoch|step)[^0-9a-z]{0,3}(\d+)"
DEFAULT_STEP_OFFSET = -1


class CheckpointError(ValueError):
  """A checkpoint that cannot be used; the message is one line."""


def kind_of(filename):
  """KERAS, WEIGHTS, or None for any other file (and temporary or hidden files)."""
  name = os.path.basename(filename)
  if name.startswith((".", "~")) or name.endswith("~"):
    return None
  for kind, suffix in SUFFIXES.items():  # as Keras spells them (it needs them so)
    if name.endswith(suffix):
      stem = name[:-len(suffix)].lower()
      if not stem or any("." + part in TEMPORARY_MARKERS
                         for part in stem.split(".")[1:]):
        return None
      return kind
  return None


def stem_of(filename):
  """The file name without its checkpoint suffix."""
  name = os.path.basename(filename)
  kind = kind_of(name)
  return name[:-len(SUFFIXES[kind])] if kind else name


def list_checkpoints(directory):
  """The checkpoint files directly inside `directory`, sorted by name."""
  try:
    names = os.listdir(directory)
  except FileNotFoundError:
    return []
  return sorted(os.path.join(directory, name) for name in names
                if kind_of(name) and os.path.isfile(os.path.join(directory, name)))


# -- completeness ---------------------------------------------------------------


def signature(path):
  """(size, mtime in ns) of `path`, or None if it is gone."""
  try:
    stat = os.stat(path)
  except FileNotFoundError:
    return None
  return (stat.st_size, stat.st_mtime_ns)


def looks_complete(path):
  """Whether the file's format says it is whole.

  A `.keras` file must be a zip whose central directory (written last) can be
  read and lists `config.json`; a `.weights.h5` file must open as HDF5.
  """
  kind = kind_of(path)
  try:
    if kind == KERAS:
      with zipfile.ZipFile(path) as archive:
        return "config.json" in archive.namelist()
    if kind == WEIGHTS:
      import h5py  # pylint: disable=import-outside-toplevel
      with h5py.File(path, "r") as f:
        return "layers" in f or "vars" in f or len(f) > 0
  except (OSError, zipfile.BadZipFile, ValueError, KeyError):
    return False
  return False


class StabilityTracker:
  """Says when a file has stopped changing: the same size and mtime at two polls.

  Call `stable(path)` once per poll; it is True from the second poll at which
  the file's signature is unchanged (and non-empty), and its format looks
  complete.
  """

  def __init__(self):
    self._seen = {}

  def stable(self, path):
    current = signature(path)
    previous = self._seen.get(path)
    self._seen[path] = current
    if current is None or current[0] == 0 or previous != current:
      return False
    return looks_complete(path)

  def forget(self, path):
    self._seen.pop(path, None)


# -- steps ----------------------------------------------------------------------


def number_in_name(filename, pattern=None):
  """The number a checkpoint's file name carries, or None.

  Args:
    filename: the file (only its base name is read).
    pattern: a regular expression searched in the base name; its first group
      (or, without groups, the whole match) is the number. None: the first
      integer after "epoch" or "step" (DEFAULT_STEP_PATTERN), else the first
      integer in the name without its suffix ("model-03.keras" -> 3,
      "weights.05-0.42.weights.h5" -> 5).
  """
  name = os.path.basename(filename)
  if pattern is not None:
    match = re.search(pattern, name)
    if match is None:
      return None
    text = next((g for g in match.groups() if g is not None), match.group(0))
    try:
      return int(text)
    except ValueError:
      raise CheckpointError(f"--step-pattern matched {text!r} in {name}, which "
                            "is not an integer; put the digits in the first "
                            "group, e.g. 'epoch(\\d+)'.") from None
  stem = stem_of(name)
  match = re.search(DEFAULT_STEP_PATTERN, stem) or re.search(r"(\d+)", stem)
  return int(match.group(1)) if match else None


def _iterations_in(h5file):
  variables = h5file.get("optimizer/vars")
  if variables is None or "0" not in variables:
    return None
  counter = variables["0"]
  if counter.shape != () or counter.dtype.kind not in "iu":
    return None
  return int(counter[()])


def stored_iterations(path):
  """The optimizer's iteration count saved with a checkpoint, or None.

  Keras 3 saves the optimizer's variables (the first one being its iteration
  counter) in `.keras` files and, for compiled models, in `.weights.h5` files.
  """
  import h5py  # pylint: disable=import-outside-toplevel
  try:
    if kind_of(path) == KERAS:
      with zipfile.ZipFile(path) as archive:
        if "model.weights.h5" not in archive.namelist():
          return None
        with archive.open("model.weights.h5") as member, h5py.File(member, "r") as f:
          return _iterations_in(f)
    with h5py.File(path, "r") as f:
      return _iterations_in(f)
  except (OSError, zipfile.BadZipFile, ValueError, KeyError):
    return None


@dataclasses.dataclass(frozen=True)
class StepRule:
  """How a checkpoint's step is found.

  Attributes:
    source: NAME (the number in the file name + `offset`), ITERATIONS (the
      optimizer iterations stored in the file) or AUTO: the name first, then
      the iterations (the iterations first when `batch_steps`).
    pattern: the regex for the number in the name (see number_in_name).
    offset: added to the number in the name (not to iterations); the default
      -1 turns ModelCheckpoint's 1-based {epoch} into the callback's epoch step.
    batch_steps: the configuration logs batch counts (every_n_steps), so AUTO
      prefers the stored iterations.
  """
  source: str = AUTO
  pattern: str = None
  offset: int = DEFAULT_STEP_OFFSET
  batch_steps: bool = False

  def __post_init__(self):
    if self.source not in SOURCES:
      raise CheckpointError(f"unknown step source {self.source!r}; use one of "
                            f"{', '.join(SOURCES)}.")
    if self.pattern is not None:
      try:
        re.compile(self.pattern)
      except re.error as error:
        raise CheckpointError(f"--step-pattern {self.pattern!r} is not a valid "
                              f"regular expression ({error}).") from None

  def _from_name(self, path):
    number = number_in_name(path, self.pattern)
    return None if number is None else number + self.offset

  def step_of(self, path):
    """(step, where it came from: "name" or "iterations") of a checkpoint.

    Raises:
      CheckpointError: if no source gives a step, or the step is negative.
    """
    if self.source == NAME:
      order = (NAME,)
    elif self.source == ITERATIONS:
      order = (ITERATIONS,)
    else:
      order = (ITERATIONS, NAME) if self.batch_steps else (NAME, ITERATIONS)
    for source in order:
      step = self._from_name(path) if source == NAME else stored_iterations(path)
      if step is None:
        continue
      if step < 0:
        raise CheckpointError(
            f"{os.path.basename(path)}: its step would be {step} (the number in "
            f"its name plus --step-offset {self.offset}); use --step-offset 0 "
            "if its number already is the step.")
      return step, source
    wanted = {NAME: "no number in its name" + (
        f" matching {self.pattern!r}" if self.pattern else ""),
              ITERATIONS: "no optimizer iterations stored in it"}
    raise CheckpointError(
        f"cannot tell the step of {os.path.basename(path)}: "
        + " and ".join(wanted[s] for s in order) + "; pass --step-pattern, "
        "--step-from or (for one file) --step.")
