"""tb-featviz: see what an image model learns, while it learns, in TensorBoard.

The public API is imported lazily, so that the TensorBoard plugin
(`tb_featviz.plugin`), which shares this package, never imports TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "activation_maximization": "tb_featviz.optvis.am",
    "AMResult": "tb_featviz.optvis.am",
    "FeatureVizCallback": "tb_featviz.callback",
    "summary": "tb_featviz.summary",
    "invert": "tb_featviz.optvis.inversion",
    "multifaceted": "tb_featviz.optvis.mfv",
    "MFVResult": "tb_featviz.optvis.mfv",
    "InversionResult": "tb_featviz.optvis.inversion",
    "top_examples": "tb_featviz.optvis.examples",
    "ExamplesResult": "tb_featviz.optvis.examples",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
  if name not in _PUBLIC:
    raise AttributeError(f"module 'tb_featviz' has no attribute {name!r}")
  module = importlib.import_module(_PUBLIC[name])
  value = module if module.__name__.endswith("." + name) else getattr(module, name)
  globals()[name] = value
  return value


def __dir__():
  return __all__
