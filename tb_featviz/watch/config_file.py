"""Reads the `tb-featviz` configuration file: the callback's arguments as JSON/TOML.

The file holds the keyword arguments of `FeatureVizCallback` (but `log_dir`),
e.g.

  {"am": {"conv2": 8},
   "inversion": {"images": "probe.npy", "layers": ["conv1"]},
   "mfv": {"images": "val.npz:x", "labels": "val.npz:y", "layer": "logits",
           "units": [3]},
   "am_options": {"steps": 64}, "value_range": [0, 1], "run_name": "featviz"}

Images and labels are arrays stored next to the config: "probe.npy", or
"val.npz:x" for the array `x` of an .npz file (the key may be left out when the
file holds one array); paths are relative to the config file. Small arrays may
also be written inline as nested lists.

This module imports neither TensorFlow nor Keras, so that configuration
mistakes are reported at once.
"""

import dataclasses
import json
import os

import numpy as np

from tb_featviz import kinds

try:
  import tomllib
except ImportError:  # Python 3.10
  tomllib = None


class ConfigError(ValueError):
  """A configuration that cannot work; the message is one line."""


@dataclasses.dataclass
class RunConfig:
  """A loaded configuration.

  Attributes:
    path: the config file.
    visualizer: keyword arguments for `tb_featviz.visualizer.Visualizer`
      (arrays loaded).
    run_name: the subdirectory of the logdir written to.
    batch_steps: whether the callback would log batch counts (`every_n_steps`)
      rather than epoch indices.
  """
  path: str
  visualizer: dict
  run_name: str = kinds.DEFAULT_RUN_NAME
  batch_steps: bool = False


def _parse(path):
  if path.lower().endswith(".toml"):
    if tomllib is None:
      raise ConfigError(f"{path}: TOML configurations need Python 3.11 or later "
                        "(tomllib); write the same keys as a .json file.")
    try:
      with open(path, "rb") as f:
        return tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
      raise ConfigError(f"{path}: not valid TOML: {error}.") from None
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except json.JSONDecodeError as error:
    raise ConfigError(f"{path}: not valid JSON: {error.msg} (line {error.lineno}, "
                      f"column {error.colno}).") from None
  except UnicodeDecodeError:
    raise ConfigError(f"{path}: not a text (JSON) file.") from None


def load_array(reference, base_dir, what):
  """Loads an array named by `reference`: "x.npy", "d.npz:key" or "d.npz".

  Args:
    reference: the string from the config.
    base_dir: the directory relative paths start from (the config's).
    what: the config field, for messages (e.g. "inversion.images").

  Raises:
    ConfigError: if the file or key is missing or the file cannot be read.
  """
  file_part, key = reference, None
  head, sep, tail = reference.rpartition(":")
  if sep and head.lower().endswith(".npz"):
    file_part, key = head, tail
  path = os.path.join(base_dir, os.path.expanduser(file_part))
  if not os.path.isfile(path):
    raise ConfigError(f"{what}: file not found: {path}.")
  try:
    loaded = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as error:
    message = " ".join(str(error).split())
    raise ConfigError(f"{what}: cannot read {path} as a NumPy .npy/.npz file "
                      f"({message}).") from None
  if not isinstance(loaded, np.lib.npyio.NpzFile):
    if key is not None:
      raise ConfigError(f"{what}: {path} is an .npy file; drop ':{key}'.")
    return loaded
  with loaded:
    if key is None:
      if len(loaded.files) != 1:
        raise ConfigError(f"{what}: {path} holds {len(loaded.files)} arrays "
                          f"({', '.join(loaded.files)}); name one as "
                          f"'{file_part}:<key>'.")
      key = loaded.files[0]
    if key not in loaded.files:
      raise ConfigError(f"{what}: {path} has no array {key!r}; it holds "
                        f"{', '.join(loaded.files) or 'none'}.")
    return loaded[key]


# Where arrays may be given as file references: (section, key).
ARRAY_FIELDS = tuple(
    [(kind.name, key) for kind in kinds.KINDS for key in kind.array_keys]
    + [(kinds.options_key(kind), key) for kind in kinds.KINDS
       for key in kind.option_array_keys])


def _resolve_arrays(config, base_dir):
  for section, key in ARRAY_FIELDS:
    part = config.get(section)
    if not isinstance(part, dict) or key not in part:
      continue
    value = part[key]
    what = f"{section}.{key}"
    if isinstance(value, str):
      part[key] = load_array(value, base_dir, what)
    elif isinstance(value, list):
      try:
        part[key] = np.asarray(value, dtype=np.int64 if key == "labels" else np.float32)
      except ValueError as error:
        raise ConfigError(f"{what}: not a rectangular array of numbers "
                          f"({error}).") from None
    else:
      raise ConfigError(f"{what} must be a path to a .npy/.npz file (e.g. "
                        f"'probe.npy' or 'val.npz:x') or a list, got {value!r}.")


def _check_types(config):
  for key in (key for kind in kinds.KINDS
              for key in (kind.name, kinds.options_key(kind))):
    if key in config and not isinstance(config[key], dict):
      raise ConfigError(f"{key} must be an object (a table in TOML), got "
                        f"{type(config[key]).__name__} {config[key]!r}.")
  for key in ("value_range", "display_shape"):
    if key in config and config[key] is not None:
      value = config[key]
      if not isinstance(value, list) or not all(
          isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{key} must be a list of numbers, got {value!r}.")
      config[key] = tuple(value)
  if "value_range" in config and len(config["value_range"]) != 2:
    raise ConfigError(f"value_range must be [low, high], got "
                      f"{list(config['value_range'])}.")
  run_name = config.get("run_name", kinds.DEFAULT_RUN_NAME)
  if (not isinstance(run_name, str) or not run_name.strip()
      or os.path.isabs(run_name) or ".." in run_name.replace("\\", "/").split("/")):
    raise ConfigError(f"run_name must be a relative directory name inside the "
                      f"logdir, got {run_name!r}.")
  for key in ("every_n_epochs", "every_n_steps"):
    value = config.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < 1):
      raise ConfigError(f"{key} must be a positive integer, got {value!r}.")


def load(path):
  """Reads and checks the configuration file at `path`.

  Checks what can be checked without the model: the file, its syntax, the
  top-level keys, value types and the array files. Layers, units and shapes
  are checked against the model later (Visualizer.validate).

  Returns:
    A RunConfig.

  Raises:
    ConfigError: with a one-line message naming the file and the problem.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise ConfigError(f"config file not found: {path}.")
  config = _parse(path)
  if not isinstance(config, dict):
    raise ConfigError(f"{path}: the configuration must be an object of "
                      f"FeatureVizCallback arguments, got {type(config).__name__}.")
  unknown = sorted(set(config) - set(kinds.CONFIG_KEYS))
  if unknown:
    raise ConfigError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; "
                      f"the keys are {', '.join(kinds.CONFIG_KEYS)}.")
  if not any(config.get(kind.name) for kind in kinds.KINDS):
    raise ConfigError(f"{path}: nothing to visualize; give at least one of "
                      f"{', '.join(kind.name for kind in kinds.KINDS)}.")
  try:
    _check_types(config)
    _resolve_arrays(config, os.path.dirname(os.path.abspath(path)))
  except ConfigError as error:
    raise ConfigError(f"{path}: {error}") from None
  return RunConfig(
      path=path,
      visualizer={key: config[key] for key in kinds.VISUALIZER_KEYS if key in config},
      run_name=config.get("run_name", kinds.DEFAULT_RUN_NAME),
      batch_steps=config.get("every_n_steps") is not None)
