"""Exports MFV embeddings for TensorBoard's own Projector tab.

In the run directory: `projector_config.pbtxt` with one embedding per MFV
series (its latest step), and under `projector/<series>/` the features the
facets were found in (the embedding layer's, after MFV's PCA to at most 50
dimensions) as a TSV tensor, a metadata TSV (facet, class label, t-SNE x and
y of every point) and a sprite of the embedded images in the Projector's
layout. The Projector then lays the images out by its own PCA, t-SNE or UMAP
of those features, and colours or labels them by facet or class.
"""

import os
import re

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.plugins.projector import projector_config_pb2

from tb_featviz import summary

CONFIG_FILENAME = "projector_config.pbtxt"
ASSETS_DIRNAME = "projector"


def _folder_name(tag):
  return re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)


def _read_config(path):
  config = projector_config_pb2.ProjectorConfig()
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path, "r") as f:
      text_format.Parse(f.read(), config)
  return config


def export(run_dir, tag, step, result, images, class_labels=None):
  """Writes (or replaces) the Projector embedding of one MFV series.

  Args:
    run_dir: the run's directory (where the featviz event files are).
    tag: the MFV tag, e.g. `featviz/mfv/logits/3`.
    step: the training step the embedding belongs to.
    result: an `MFVResult`.
    images: the N embedded images, for the sprite.
    class_labels: optional (N,) labels of the images, shown as metadata.

  Returns:
    The path of the config file.
  """
  folder = os.path.join(ASSETS_DIRNAME, _folder_name(tag))
  tf.io.gfile.makedirs(os.path.join(run_dir, folder))
  features = result.embedding if result.features is None else result.features
  np.savetxt(os.path.join(run_dir, folder, "tensor.tsv"), features,
             delimiter="\t", fmt="%.6g")
  labels = ([""] * len(result.labels) if class_labels is None
            else [str(label) for label in class_labels])
  rows = ["facet\tlabel\ttsne_x\ttsne_y"] + [
      f"{facet}\t{label}\t{x:.6g}\t{y:.6g}"
      for facet, label, (x, y) in zip(result.labels, labels, result.embedding)]
  with tf.io.gfile.GFile(os.path.join(run_dir, folder, "metadata.tsv"), "w") as f:
    f.write("\n".join(rows) + "\n")
  tiles = summary.sprite(images, result.display_shape)
  png = summary.encode_pngs(tiles[None], result.value_range, tiles.shape)[0]
  tf.io.write_file(os.path.join(run_dir, folder, "sprite.png"), png)
  height, width = summary.picture_shape(images, result.display_shape)[:2]

  config_path = os.path.join(run_dir, CONFIG_FILENAME)
  config = _read_config(config_path)
  name = f"{tag} (step {step})"
  kept = [e for e in config.embeddings
          if not e.tensor_path.startswith(folder + "/")]
  del config.embeddings[:]
  config.embeddings.extend(kept)
  embedding = config.embeddings.add(
      tensor_name=name, tensor_path=f"{folder}/tensor.tsv",
      metadata_path=f"{folder}/metadata.tsv")
  embedding.sprite.image_path = f"{folder}/sprite.png"
  embedding.sprite.single_image_dim.extend([width, height])
  with tf.io.gfile.GFile(config_path, "w") as f:
    f.write(text_format.MessageToString(config))
  return config_path
