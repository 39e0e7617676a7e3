"""`tb-featviz run`, the configuration file, and one-line errors for bad arguments.

Most of it calls `cli.main` in-process (a TensorFlow import per subprocess is
costly here); one subprocess checks that a real error on the command line is a
single line on stderr, TensorFlow's own start-up chatter included.
"""

import inspect
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tb_featviz  # noqa: E402
from tb_featviz import kinds  # noqa: E402
from tb_featviz.watch import cli  # noqa: E402
from tb_featviz.watch import config_file as run_config  # noqa: E402
from tests import digits as digits_lib  # noqa: E402
from tests import event_files  # noqa: E402

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


def test_a_real_command_line_error_is_one_line_on_stderr(files, tmp_path):
  """Past TensorFlow's import (whose C++ log lines are held back)."""
  config = _write_config(files, "layer.json", am={"conv9": 2})
  done = subprocess.run([TB_FEATVIZ, "run", str(files / "model-02.keras"),
                         "--config", config, "--logdir", str(tmp_path)],
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 2
  assert done.stderr.splitlines() == [
      f"tb-featviz: error: {config} does not fit the model of "
      f"{files / 'model-02.keras'}: Model 'digits_cnn' has no layer named "
      "'conv9'. Its layers are: conv1, pool1, conv2, pool2, conv3, gap, embed, "
      "logits."]
  assert done.stdout == ""


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


# -- the configuration file (no model needed) --------------------------------------


def test_config_keys_are_the_callbacks_arguments():
  parameters = inspect.signature(tb_featviz.FeatureVizCallback.__init__).parameters
  assert set(kinds.CONFIG_KEYS) == set(parameters) - {"self", "log_dir"}


def test_json_and_toml_configs_load_the_same(tmp_path):
  images = np.random.default_rng(0).random((5, 8, 8, 1)).astype(np.float32)
  np.save(tmp_path / "probe.npy", images)
  np.savez(tmp_path / "val.npz", x=images, y=np.arange(5))
  np.savez(tmp_path / "one.npz", only=images)
  (tmp_path / "c.json").write_text(json.dumps({
      "am": {"conv2": 8, "logits": "all"}, "am_options": {"steps": 64},
      "inversion": {"images": "probe.npy", "layers": ["conv1"]},
      "mfv": {"images": "one.npz", "labels": "val.npz:y", "layer": "logits",
              "units": [3]},
      "value_range": [0, 1], "display_shape": [8, 8], "run_name": "viz",
      "every_n_steps": 10}))
  (tmp_path / "c.toml").write_text(
      'value_range = [0, 1]\ndisplay_shape = [8, 8]\nrun_name = "viz"\n'
      'every_n_steps = 10\n'
      '[am]\nconv2 = 8\nlogits = "all"\n[am_options]\nsteps = 64\n'
      '[inversion]\nimages = "probe.npy"\nlayers = ["conv1"]\n'
      '[mfv]\nimages = "one.npz"\nlabels = "val.npz:y"\nlayer = "logits"\n'
      'units = [3]\n')
  from_json = run_config.load(tmp_path / "c.json")
  from_toml = run_config.load(tmp_path / "c.toml")
  for loaded in (from_json, from_toml):
    assert loaded.run_name == "viz" and loaded.batch_steps
    assert loaded.visualizer["am"] == {"conv2": 8, "logits": "all"}
    assert loaded.visualizer["value_range"] == (0, 1)
    np.testing.assert_array_equal(loaded.visualizer["inversion"]["images"], images)
    np.testing.assert_array_equal(loaded.visualizer["mfv"]["images"], images)
    np.testing.assert_array_equal(loaded.visualizer["mfv"]["labels"], np.arange(5))
  assert "run_name" not in from_json.visualizer  # the callback's own arguments only


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "must be an object"),
    ('{"am": {"conv2": 2}, "value_range": [0]}', r"value_range must be \[low, high\]"),
    ('{"am": [1]}', "am must be an object"),
    ('{"am": {"c": 1}, "run_name": "../up"}', "run_name must be a relative"),
    ('{"am": {"c": 1}, "every_n_steps": 0}', "every_n_steps must be a positive"),
    ('{"value_range": [0, 1]}', "nothing to visualize"),
    ('{"inversion": {"images": "val.npz", "layers": ["c"]}}', "holds 2 arrays"),
    ('{"inversion": {"images": "val.npz:z", "layers": ["c"]}}', "has no array 'z'"),
    ('{"inversion": {"images": "val.npy:x", "layers": ["c"]}}', "file not found"),
    ('{"inversion": {"images": 3, "layers": ["c"]}}', "must be a path"),
])
def test_config_mistakes_are_named(tmp_path, content, message):
  np.savez(tmp_path / "val.npz", x=np.zeros(2), y=np.zeros(2))
  (tmp_path / "c.json").write_text(content)
  with pytest.raises(run_config.ConfigError, match=message) as raised:
    run_config.load(tmp_path / "c.json")
  assert "\n" not in str(raised.value) and str(tmp_path / "c.json") in str(raised.value)


def test_toml_needs_python_3_11(tmp_path, monkeypatch):
  monkeypatch.setattr(run_config, "tomllib", None)
  (tmp_path / "c.toml").write_text("[am]\nconv2 = 2\n")
  with pytest.raises(run_config.ConfigError, match="Python 3.11 or later"):
    run_config.load(tmp_path / "c.toml")
