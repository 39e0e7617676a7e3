"""The export of MFV embeddings for TensorBoard's Projector tab."""

import os

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.plugins.projector import projector_config_pb2

from tb_featviz import projector
from tests import fake_results


def _config(run_dir):
  config = projector_config_pb2.ProjectorConfig()
  with open(os.path.join(run_dir, projector.CONFIG_FILENAME)) as f:
    text_format.Parse(f.read(), config)
  return config


def test_each_series_has_one_embedding_with_its_files_replaced_at_each_step(tmp_path):
  result = fake_results.mfv_result(n=7)
  images = np.random.default_rng(3).random((7, 4, 4, 1), dtype=np.float32)
  for step in (0, 5):
    projector.export(str(tmp_path), "featviz/mfv/logits/3", step, result, images,
                     class_labels=np.full(7, 3))
  projector.export(str(tmp_path), "featviz/mfv/logits/7", 5, result, images)
  embeddings = _config(tmp_path).embeddings
  assert [e.tensor_name for e in embeddings] == [
      "featviz/mfv/logits/3 (step 5)", "featviz/mfv/logits/7 (step 5)"]
  first = embeddings[0]
  folder = os.path.join(str(tmp_path), os.path.dirname(first.tensor_path))
  # The tensor is the features the facets were found in, not the 2-D layout.
  tensor = np.loadtxt(os.path.join(folder, "tensor.tsv"))
  np.testing.assert_allclose(tensor, result.features, rtol=1e-5)
  rows = [row.split("\t") for row in
          open(os.path.join(folder, "metadata.tsv")).read().splitlines()]
  assert rows[0] == ["facet", "label", "tsne_x", "tsne_y"] and len(rows) == 8
  assert rows[1][:2] == ["0", "3"]
  np.testing.assert_allclose(np.array([row[2:] for row in rows[1:]], float),
                             result.embedding, rtol=1e-5)
  sprite = tf.io.decode_png(tf.io.read_file(os.path.join(str(tmp_path),
                                                         first.sprite.image_path)))
  assert sprite.shape == (3 * 4, 3 * 4, 1)
  assert list(first.sprite.single_image_dim) == [4, 4]
