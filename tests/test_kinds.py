"""The table of kinds: one place for what each kind of visualization takes."""

import inspect

import numpy as np
import pytest

import tb_featviz
from tb_featviz import budget
from tb_featviz import kinds
from tb_featviz import metadata
from tb_featviz import plugin_data_pb2
from tests import isolation


def test_config_keys_are_the_callbacks_arguments():
  parameters = inspect.signature(tb_featviz.FeatureVizCallback.__init__).parameters
  assert set(kinds.CONFIG_KEYS) == set(parameters) - {"self", "log_dir"}


def test_every_kind_is_a_kind_of_the_proto_and_names_its_options():
  proto_kinds = {metadata.kind_name(value)
                 for value in plugin_data_pb2.FeatVizPluginData.Kind.values()}
  for kind in kinds.KINDS:
    assert kind.name in proto_kinds, kind.name
    assert metadata.kind_name(metadata.kind_value(kind.name)) == kind.name
    assert set(kind.required_keys) <= set(kind.config_keys or ())
    assert set(kind.array_keys) <= set(kind.config_keys or ())
    assert callable(kind.function())
  assert len(kinds.BY_NAME) == len(kinds.KINDS)


def test_the_table_is_read_without_tensorflow():
  printed = isolation.run_without_tensorflow(
      "from tb_featviz import kinds\n"
      "from tb_featviz.watch import config_file\n"
      "print(len(kinds.CONFIG_KEYS), config_file.ARRAY_FIELDS[0])\n"
      "import tb_featviz.optvis\n"
      "assert tb_featviz.optvis.recipe is sys.modules['tb_featviz.optvis.recipe']\n")
  assert printed.split()[0] == str(len(kinds.CONFIG_KEYS))


def test_items_carry_their_layer_and_unit_and_name_their_tags():
  settings = kinds.Settings()
  am = kinds.ActivationMaximization({"conv2": 4, "logits": [1, 3]}, {}, settings)
  assert [(i.layer, i.unit, i.tag) for i in am.items()] == [
      ("conv2", None, "featviz/am/conv2"), ("logits", None, "featviz/am/logits")]
  mfv = kinds.Multifaceted({"images": np.zeros((4, 8, 8, 1)), "layer": "logits",
                            "units": [3, 7]}, {}, settings)
  assert [(i.layer, i.unit, i.name, i.tag) for i in mfv.items()] == [
      ("logits", 3, "logits/3", "featviz/mfv/logits/3"),
      ("logits", 7, "logits/7", "featviz/mfv/logits/7")]
  inversion = kinds.Inversion({"images": np.zeros((2, 8, 8, 1)), "layers": ["c"]},
                              {}, settings)
  [item] = inversion.items()
  assert inversion.once_tag(item) == "featviz/inversion/c/originals"
  assert am.once_tag(am.items()[0]) is None


@pytest.mark.parametrize("kind, config, message", [
    (kinds.Inversion, {"images": 1}, r"missing \['layers'\]"),
    (kinds.Inversion, {"images": 1, "layers": ["c"], "x": 2}, r"unknown \['x'\]"),
    (kinds.Multifaceted, {"images": 1, "layer": "l", "kk": 2},
     r"unknown \['kk'\]; missing \['units'\]"),
    (kinds.Multifaceted, [1, 2], "takes a dict with the keys images, labels"),
    (kinds.ActivationMaximization, ["conv2"], r"takes \{layer name: units\}"),
])
def test_a_configuration_of_the_wrong_shape_names_the_keys(kind, config, message):
  with pytest.raises(ValueError, match=message):
    kind(config, {}, kinds.Settings())


def test_options_are_checked_against_the_library_function():
  with pytest.raises(ValueError, match=r"inversion_options has unknown option\(s\) "
                     r"\['stepz'\]; it takes .*steps"):
    kinds.Inversion({"images": 1, "layers": ["c"]}, {"stepz": 3}, kinds.Settings())
  # What the visualizer sets itself is not an option.
  with pytest.raises(ValueError, match=r"\['value_range'\]"):
    kinds.ActivationMaximization({"c": 1}, {"value_range": (0, 1)}, kinds.Settings())


def test_out_of_memory_advice_halves_the_batch_size_in_use():
  settings = kinds.Settings()
  assert "am_options={'batch_size': 64} (now 128)" in kinds.ActivationMaximization(
      {"c": 1}, {}, settings).oom_advice()
  assert "inversion_options={'batch_size': 4} (now 8)" in kinds.Inversion(
      {"images": 1, "layers": ["c"]}, {"batch_size": 8}, settings).oom_advice()
  assert "n_images" in kinds.Multifaceted(
      {"images": 1, "layer": "l", "units": [1]}, {}, settings).oom_advice()


def test_every_kind_estimates_its_cost_from_trainings_pace(trained_cnn, digits_data):
  images, labels = digits_data
  visualizer = tb_featviz.FeatureVizCallback(
      "unused", am={"conv2": 4}, inversion={"images": images[:4], "layers": ["conv1"]},
      mfv={"images": images[:60], "labels": labels[:60], "layer": "logits",
           "units": [3]},
      examples={"images": images[:50], "k": 3}).visualizer
  visualizer.validate(trained_cnn)
  pace = budget.Pace(step_seconds=0.01, batch_size=32, trace_seconds=1.0)
  for kind in visualizer.kinds:
    for item in kind.items():
      cost = kind.cost(trained_cnn, item, pace)
      assert cost.compute > 0 and cost.trace == cost.loops * 1.0 > 0, (item, cost)
