"""FeatVizLoader: how TensorBoard creates the featviz plugin."""

from tensorboard.plugins import base_plugin

from tb_featviz import metadata
from tb_featviz.plugin import featviz_plugin


class FeatVizLoader(base_plugin.TBLoader):
  """Loads FeatVizPlugin and makes TensorBoard keep every featviz step.

  TensorBoard keeps only about 10 steps of a third-party plugin's series unless
  told otherwise; `fix_flags` makes `--samples_per_plugin=featviz=all` the
  default, so the panel shows every step. A value the user gives wins.
  """

  def fix_flags(self, flags):
    """Adds `featviz=0` (keep all) to `flags.samples_per_plugin` if unset.

    Args:
      flags: TensorBoard's parsed flags (an `argparse.Namespace`).
    """
    samples = getattr(flags, "samples_per_plugin", None)
    if isinstance(samples, str):  # not parsed yet, e.g. set via `configure()`
      samples = dict((k.strip(), int(v)) for k, v in
                     (pair.split("=") for pair in samples.split(",") if pair))
    samples = dict(samples or {})
    samples.setdefault(metadata.PLUGIN_NAME, 0)
    flags.samples_per_plugin = samples

  def load(self, context):
    """Returns a FeatVizPlugin.

    Args:
      context: a `base_plugin.TBContext`.

    Returns:
      A `FeatVizPlugin`.
    """
    return featviz_plugin.FeatVizPlugin(context)
