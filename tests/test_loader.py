"""How TensorBoard finds and loads the plugin: its entry point, its flags, and
no TensorFlow on the serving side."""

import importlib.metadata

from tensorboard import program
from tensorboard.plugins.core import core_plugin

from tb_featviz import metadata
from tb_featviz import plugin
from tests import isolation


def test_the_serving_side_imports_no_tensorflow():
  assert isolation.run_without_tensorflow(
      "import tb_featviz.plugin\n"
      "from tb_featviz.plugin import featviz_plugin, image_cache, loader\n"
      "from tb_featviz.plugin import static_files, steps\n"
      "print(tb_featviz.plugin.FeatVizLoader.__name__)\n") == "FeatVizLoader"


def test_entry_point_names_the_loader():
  points = importlib.metadata.entry_points(group="tensorboard_plugins")
  assert {p.name: p.value for p in points}[metadata.PLUGIN_NAME] == (
      "tb_featviz.plugin:FeatVizLoader")


def _flags(*argv):
  tensorboard = program.TensorBoard(
      plugins=[core_plugin.CorePluginLoader, plugin.FeatVizLoader])
  tensorboard.configure(argv=["tensorboard", "--logdir", "unused", *argv])
  return tensorboard.flags


def test_loader_keeps_every_featviz_step_by_default():
  assert _flags().samples_per_plugin == {"featviz": 0}
  assert _flags("--samples_per_plugin=images=3").samples_per_plugin == {
      "images": 3, "featviz": 0}


def test_loader_keeps_what_the_user_set():
  assert _flags("--samples_per_plugin=featviz=5").samples_per_plugin == {
      "featviz": 5}


def test_loader_parses_an_unparsed_flag_value():
  class Flags:
    samples_per_plugin = "images=2, scalars=7"
  flags = Flags()
  plugin.FeatVizLoader().fix_flags(flags)
  assert flags.samples_per_plugin == {"images": 2, "scalars": 7, "featviz": 0}
