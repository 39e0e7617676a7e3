"""The serving side: the featviz TensorBoard plugin and the panel's files.

TensorBoard finds `FeatVizLoader` through the `tensorboard_plugins` entry point
`featviz = tb_featviz.plugin:FeatVizLoader`. Nothing in this package imports
TensorFlow: it reads only what `tb_featviz.metadata` defines and what the
summaries wrote, through TensorBoard's data provider.
"""

from tb_featviz.plugin.featviz_plugin import FeatVizPlugin
from tb_featviz.plugin.loader import FeatVizLoader

__all__ = ["FeatVizLoader", "FeatVizPlugin"]
