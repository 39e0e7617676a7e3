"""The command line: `tb-featviz run|watch` visualizes saved checkpoints.

The same visualizations as FeatureVizCallback, computed by a process separate
from training (cli.py parses the command line, config_file.py reads the
configuration, checkpoints.py finds complete checkpoints and their steps,
watcher.py loads and visualizes them, state.py remembers what a run holds).
"""
