"""The tb-featviz configuration file: JSON or TOML, arrays by reference, and
one-line messages for mistakes (no model needed)."""

import json

import numpy as np
import pytest

from tb_featviz.watch import config_file as run_config


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
