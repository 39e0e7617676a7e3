"""`tb-featviz run` and one-line errors for bad arguments, calling `cli.main`
in-process (a TensorFlow import per subprocess is costly here; the console
script itself is run in e2e/test_command_line.py).
"""

import json
import os
import sys

import keras
import numpy as np
import pytest

from tb_featviz.watch import cli
from tests import digits as digits_lib
from tests import event_files

TB_FEATVIZ = os.path.join(os.path.dirname(sys.executable), "tb-featviz")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  """A model trained for 2 epochs saved as model-02.keras (and its weights),
  probe and validation arrays, and a config that uses all three kinds."""
  root = tmp_path_factory.mktemp("cli")
  images, labels = digits_lib.digits()
  x, y = images[:128], labels[:128]
  keras.utils.set_random_seed(0)
  model = digits_lib.cnn()
  model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
  model.fit(x, y, epochs=2, batch_size=64, verbose=0)
  model.save(root / "model-02.keras")
  model.save_weights(root / "w.weights.h5")
  np.save(root / "probe.npy", x[:2])
  np.savez(root / "val.npz", x=x, y=y)
  config = {"am": {"conv2": 2}, "am_options": {"steps": 4},
            "inversion": {"images": "probe.npy", "layers": ["conv1"]},
            "inversion_options": {"steps": 4},
            "mfv": {"images": "val.npz:x", "labels": "val.npz:y", "layer": "logits",
                    "units": [3], "k": 2, "embedding_layer": "conv3"},
            "mfv_options": {"steps": 4}, "value_range": [0, 1]}
  (root / "featviz.json").write_text(json.dumps(config))
  return root


def _write_config(root, name, **changes):
  config = json.loads((root / "featviz.json").read_text())
  for key, value in changes.items():
    if value is None:
      config.pop(key, None)
    else:
      config[key] = value
  path = root / name
  path.write_text(json.dumps(config))
  return str(path)


def test_run_logs_one_file_at_the_step_in_its_name_once(files, tmp_path, capsys):
  argv = ["run", str(files / "model-02.keras"), "--config",
          str(files / "featviz.json"), "--logdir", str(tmp_path)]
  assert cli.main(argv) == 0
  err = capsys.readouterr().err
  assert "step 1 (name) model-02.keras: am/conv2" in err  # {epoch} 2 -> step 1
  assert "mfv/logits/3" in err and "FAILED" not in err
  steps = event_files.steps_by_tag(tmp_path / "featviz")
  for tag in ("featviz/am/conv2", "featviz/am/conv2/record",
              "featviz/inversion/conv1", "featviz/inversion/conv1/originals",
              "featviz/inversion_error/conv1", "featviz/mfv/logits/3",
              "featviz/mfv/logits/3/record", "featviz/seconds/mfv/logits/3"):
    assert steps[tag] == [1], tag
  assert (tmp_path / "featviz" / "projector_config.pbtxt").exists()

  # The same step again is not logged twice; another step is.
  assert cli.main(argv) == 0
  assert "already logged" in capsys.readouterr().err
  am_only = _write_config(files, "am_only.json", inversion=None, mfv=None)
  weights = ["run", str(files / "w.weights.h5"), "--model",
             str(files / "model-02.keras"), "--step", "7", "--config", am_only,
             "--logdir", str(tmp_path)]
  assert cli.main(weights) == 0
  assert "step 7 (--step) w.weights.h5: am/conv2" in capsys.readouterr().err
  steps = event_files.steps_by_tag(tmp_path / "featviz")
  assert steps["featviz/am/conv2"] == [1, 7]
  assert steps["featviz/mfv/logits/3"] == steps["featviz/inversion/conv1"] == [1]


def _bad(files, tmp_path, case):
  """argv for one bad-argument case, and the fragment its message must hold."""
  model, config = str(files / "model-02.keras"), str(files / "featviz.json")
  logdir = ["--logdir", str(tmp_path / "logs")]
  if case == "missing model":
    return ["run", str(tmp_path / "nope.keras"), "--config", config, *logdir], \
        "model file not found"
  if case == "missing config":
    return ["run", model, "--config", str(tmp_path / "nope.json"), *logdir], \
        "config file not found"
  if case == "bad json":
    (tmp_path / "bad.json").write_text('{"am": {"conv2": 2,}}')
    return ["run", model, "--config", str(tmp_path / "bad.json"), *logdir], \
        "not valid JSON"
  if case == "unknown key":
    return ["run", model, "--config", _write_config(files, "k.json", amm={}),
            *logdir], "unknown key(s) 'amm'"
  if case == "unknown inversion key":
    return ["run", model, "--config", _write_config(
        files, "i.json", inversion={"imgs": "probe.npy", "layers": ["conv1"]}),
            *logdir], "inversion takes"
  if case == "unknown option":
    return ["run", model, "--config", _write_config(
        files, "o.json", am_options={"stepz": 3}), *logdir], \
        "am_options has unknown option(s) ['stepz']"
  if case == "unknown layer":
    return ["run", model, "--config", _write_config(files, "l.json",
                                                    am={"conv9": 2}), *logdir], \
        "no layer named 'conv9'"
  if case == "unit out of range":
    return ["run", model, "--config", _write_config(files, "u.json",
                                                    am={"conv2": [40]}), *logdir], \
        "which has 32 units"
  if case == "missing array":
    return ["run", model, "--config", _write_config(
        files, "a.json", inversion={"images": "gone.npy", "layers": ["conv1"]}),
            *logdir], "inversion.images: file not found"
  if case == "weights without model":
    return ["run", str(files / "w.weights.h5"), "--config", config, *logdir], \
        "pass --model"
  if case == "missing --config":
    return ["run", model, *logdir], "the following arguments are required: --config"
  if case == "bad step pattern":
    return ["run", model, "--config", config, "--step-pattern", "epoch(", *logdir], \
        "not a valid regular expression"
  if case == "no step":
    (tmp_path / "final.keras").write_bytes((files / "model-02.keras").read_bytes())
    return ["run", str(tmp_path / "final.keras"), "--step-from", "name",
            "--config", config, *logdir], "cannot tell the step of final.keras"
  if case == "missing folder":
    return ["watch", str(tmp_path / "nowhere"), "--once", "--config", config,
            *logdir], "checkpoint folder not found"
  raise AssertionError(case)


@pytest.mark.parametrize("case", [
    "missing model", "missing config", "bad json", "unknown key",
    "unknown inversion key", "unknown option", "unknown layer", "unit out of range",
    "missing array", "weights without model", "missing --config",
    "bad step pattern", "no step", "missing folder"])
def test_bad_arguments_exit_2_with_one_line(files, tmp_path, capsys, case):
  argv, fragment = _bad(files, tmp_path, case)
  try:
    code = cli.main(argv)
  except SystemExit as exit_:  # argparse's own errors
    code = exit_.code
  err = capsys.readouterr().err
  assert code == 2, err
  assert len(err.strip().splitlines()) == 1, err
  assert err.startswith("tb-featviz") and "error:" in err, err
  assert fragment in err
  assert not (tmp_path / "logs").exists() or not any(
      "tfevents" in name for _, _, names in os.walk(tmp_path / "logs")
      for name in names)


def test_help_for_every_command(capsys):
  for command in ([], ["run"], ["watch"]):
    with pytest.raises(SystemExit) as exit_:
      cli.main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(" ".join(["usage: tb-featviz", *command]))
    assert "ModelCheckpoint" in out  # the step rule is explained
    if command:
      assert "--step-offset" in out and "--config" in out
  commands = cli.build_parser()._subparsers._group_actions[0].choices  # pylint: disable=protected-access
  assert sorted(commands) == ["run", "watch"]
  for name, parser in commands.items():
    undocumented = [a.dest for a in parser._actions if not a.help]  # pylint: disable=protected-access
    assert parser.description and not undocumented, name
