"""Multifaceted feature visualization: a class made of two kinds shows both."""

import keras
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import tb_featviz
from tb_featviz.optvis import mfv as mfv_lib
from tb_featviz.optvis import recipe
from tests import digits as digits_lib

KINDS = (0, 1)  # digits 0 and 1 share label 0: one class, two looks


@pytest.fixture(scope="module")
def two_kind_class(digits_data):
  """(model, class images, their original digits, judge).

  The model learns 9 classes where digits 0 and 1 are one class. The judge is
  an independent classifier of the original 10 digits (logistic regression on
  pixels).
  """
  images, digits = digits_data
  merged = np.where(digits == 1, 0, np.where(digits > 1, digits - 1, digits))
  model = digits_lib.trained_cnn(images[:1400], merged[:1400])
  judge = LogisticRegression(max_iter=2000).fit(images[:1400].reshape(1400, -1),
                                                digits[:1400])
  in_class = merged == 0
  return model, images[in_class], digits[in_class], judge


@pytest.fixture(scope="module")
def facets(two_kind_class):
  model, images, _, _ = two_kind_class
  return tb_featviz.multifaceted(model, images, layer="logits", unit=0,
                                 embedding_layer="conv3", k=2, seed=0)


def test_two_facets_show_the_two_kinds(two_kind_class, facets):
  _, _, _, judge = two_kind_class
  judged = judge.predict(facets.facets.reshape(2, -1))
  assert set(judged) == set(KINDS), judged


def test_clusters_follow_the_kinds(two_kind_class, facets):
  _, _, kinds, _ = two_kind_class
  for facet in range(2):
    members = kinds[facets.labels == facet]
    assert np.max(np.bincount(members)) / len(members) > 0.9
  for facet, nearest in enumerate(facets.nearest):
    assert len(nearest) == 15 and np.all(facets.labels[nearest] == facet)


def test_each_facet_raises_the_unit_above_its_mean_image(facets):
  assert np.all(facets.activations > facets.mean_activations), (
      facets.activations, facets.mean_activations)


def test_each_facet_stays_nearest_its_own_cluster(facets):
  np.testing.assert_array_equal(facets.facet_nearest, [0, 1])
  assert np.all(facets.facet_similarity > 0.9), facets.facet_similarity


def test_each_facet_beats_the_best_image_of_its_cluster(facets):
  assert np.all(facets.activations >= facets.cluster_best), (
      facets.activations, facets.cluster_best)


def test_the_ceiling_keeps_facets_nearer_the_data_than_the_unit_alone(
    two_kind_class, facets):
  model, images, _, _ = two_kind_class
  unbounded = tb_featviz.multifaceted(model, images, layer="logits", unit=0,
                                      embedding_layer="conv3", k=2, seed=0,
                                      ceiling_margin=None, anchor_weight=0.0)
  np.testing.assert_array_equal(unbounded.labels, facets.labels)
  assert np.all(facets.activations < unbounded.activations), (
      facets.activations, unbounded.activations)
  assert np.all(facets.facet_similarity > unbounded.facet_similarity), (
      facets.facet_similarity, unbounded.facet_similarity)


def test_cluster_best_and_fidelity_are_those_of_the_images(two_kind_class, facets):
  model, images, _, _ = two_kind_class
  values = mfv_lib.unit_values(recipe.extractor(model, "logits"), images, 0)
  for facet in range(2):
    assert facets.cluster_best[facet] == pytest.approx(
        values[facets.labels == facet].max(), rel=1e-5)
  np.testing.assert_allclose(
      facets.activations, mfv_lib.unit_values(recipe.extractor(model, "logits"),
                                              facets.facets, 0), rtol=1e-5)
  embedder = recipe.extractor(model, "conv3")
  features = embedder(images).numpy()
  nearest, cosine = mfv_lib.facet_fidelity(embedder, facets.facets, features,
                                           facets.labels, 2)
  np.testing.assert_array_equal(nearest, facets.facet_nearest)
  np.testing.assert_allclose(cosine, facets.facet_similarity, rtol=1e-5)


def test_facet_fidelity_finds_the_nearest_centroid_by_cosine():
  features = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 2.0], [1.0, 1.0]])
  labels = np.array([0, 0, 1, 1, 2])
  facets = np.array([[2.0, 0.1], [5.0, 0.0], [1.0, 1.2]])  # facet 1 lies on 0's
  nearest, cosine = mfv_lib.facet_fidelity(lambda x: x, facets, features, labels, 3)
  np.testing.assert_array_equal(nearest, [0, 0, 2])
  np.testing.assert_allclose(cosine, [np.cos(np.arctan(0.05)), 0.0,
                                      (1.0 + 1.2) / np.sqrt(2 * (1 + 1.44))],
                             rtol=1e-6)


def test_result_contract(two_kind_class, facets):
  _, images, _, _ = two_kind_class
  assert facets.facets.shape == facets.mean_images.shape == (2, 28, 28, 1)
  assert facets.embedding.shape == (len(images), 2)
  assert facets.labels.shape == (len(images),) and set(facets.labels) == {0, 1}
  assert facets.facets.min() >= 0 and facets.facets.max() <= 1
  assert facets.cluster_best.shape == facets.facet_similarity.shape == (2,)
  assert facets.facet_nearest.shape == (2,) and facets.facet_nearest.dtype == np.int32
  np.testing.assert_allclose(facets.mean_images[0],
                             images[facets.nearest[0]].mean(axis=0), atol=1e-6)


def test_same_seed_same_facets_and_embedding(two_kind_class, facets):
  model, images, _, _ = two_kind_class
  again = tb_featviz.multifaceted(model, images, layer="logits", unit=0,
                                  embedding_layer="conv3", k=2, seed=0)
  np.testing.assert_array_equal(again.embedding, facets.embedding)
  np.testing.assert_array_equal(again.facets, facets.facets)
  np.testing.assert_array_equal(again.labels, facets.labels)


def test_previous_step_keeps_layout_and_facet_ids(two_kind_class, facets):
  model, images, _, _ = two_kind_class
  later = tb_featviz.multifaceted(model, images, layer="logits", unit=0,
                                  embedding_layer="conv3", k=2, seed=1,
                                  previous=facets, steps=8)
  spread = np.linalg.norm(facets.embedding - facets.embedding.mean(0), axis=1).mean()
  moved = np.linalg.norm(later.embedding - facets.embedding, axis=1).mean()
  assert moved < 0.25 * spread, (moved, spread)
  assert np.mean(later.labels == facets.labels) > 0.95


def test_align_undoes_rotation_scale_and_shift():
  rng = np.random.default_rng(0)
  reference = rng.normal(size=(40, 2)).astype(np.float32)
  angle = 1.1
  rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
  moved = 3.0 * reference @ rotation + np.array([5.0, -2.0])
  np.testing.assert_allclose(mfv_lib.align(moved, reference), reference, atol=1e-4)


def test_match_labels_renames_to_the_previous_ids():
  previous = np.array([0, 0, 1, 1, 2, 2])
  swapped = np.array([2, 2, 0, 0, 1, 1])
  np.testing.assert_array_equal(mfv_lib.match_labels(swapped, previous, 3), previous)


def test_default_embedding_layer_is_the_previous_layer(trained_cnn):
  assert mfv_lib.previous_layer(trained_cnn, "logits") == "embed"
  with pytest.raises(ValueError, match="first layer"):
    mfv_lib.previous_layer(trained_cnn, "conv1")


def test_one_image_clusters_and_small_sets(trained_cnn, digits_data):
  images, _ = digits_data
  two = images[:2]
  result = tb_featviz.multifaceted(trained_cnn, two, layer="logits", unit=3, k=2,
                                   steps=4)
  assert sorted(len(n) for n in result.nearest) == [1, 1]
  np.testing.assert_array_equal(np.sort(result.mean_images.reshape(2, -1), axis=0),
                                np.sort(two.reshape(2, -1), axis=0))
  few = tb_featviz.multifaceted(trained_cnn, images[:6], layer="logits", unit=3,
                                k=2, m=15, steps=4)
  assert sum(len(n) for n in few.nearest) == 6  # m larger than the clusters


@pytest.mark.parametrize("options", [{"ceiling_margin": -0.1},
                                     {"anchor_weight": -1.0}])
def test_negative_ceiling_margin_or_anchor_weight_is_a_clear_error(
    trained_cnn, digits_data, options):
  images, _ = digits_data
  with pytest.raises(ValueError, match="must be >= 0"):
    tb_featviz.multifaceted(trained_cnn, images[:20], layer="logits", unit=0,
                            k=2, **options)


@pytest.mark.parametrize("count, k, message", [
    (3, 4, "k=4 facets need at least 4 different images; got 3"),
    (0, 2, "empty"),
])
def test_too_few_images_is_a_clear_error(trained_cnn, digits_data, count, k, message):
  images, _ = digits_data
  with pytest.raises(ValueError, match=message):
    tb_featviz.multifaceted(trained_cnn, images[:count], layer="logits", unit=0, k=k)


def test_duplicate_images_count_once(trained_cnn, digits_data):
  images, _ = digits_data
  copies = np.repeat(images[:1], 10, axis=0)
  with pytest.raises(ValueError, match="10 images of which 1 differ"):
    tb_featviz.multifaceted(trained_cnn, copies, layer="logits", unit=0, k=2)
  with_copies = np.concatenate([copies, images[1:8]])
  result = tb_featviz.multifaceted(trained_cnn, with_copies, layer="logits",
                                   unit=0, k=2, steps=4)
  assert result.embedding.shape == (17, 2)


def test_a_unit_no_image_activates_is_a_clear_error(digits_data):
  images, _ = digits_data
  inputs = keras.Input((28, 28, 1))
  hidden = keras.layers.Flatten()(inputs)
  dead = keras.layers.Dense(4, activation="relu", name="dead",
                            bias_initializer=keras.initializers.Constant(-1e3))(hidden)
  model = keras.Model(inputs, keras.layers.Dense(2, name="out")(dead))
  with pytest.raises(ValueError, match="Unit 1 of layer 'dead' is not activated"):
    tb_featviz.multifaceted(model, images[:20], layer="dead", unit=1, k=2,
                            embedding_layer="flatten")


def test_bad_unit_and_k(trained_cnn, digits_data):
  images, _ = digits_data
  with pytest.raises(ValueError, match="has 10 units"):
    tb_featviz.multifaceted(trained_cnn, images[:20], layer="logits", unit=10)
  with pytest.raises(ValueError, match="positive integers"):
    tb_featviz.multifaceted(trained_cnn, images[:20], layer="logits", unit=1, k=0)


def test_align_keeps_the_spread_of_a_noisy_layout():
  rng = np.random.default_rng(1)
  reference = rng.normal(size=(50, 2)).astype(np.float32)
  noisy = reference + rng.normal(scale=0.7, size=(50, 2))
  aligned = mfv_lib.align(noisy, reference)
  spread = lambda points: np.sqrt(((points - points.mean(0))**2).sum())  # noqa: E731
  assert spread(aligned) == pytest.approx(spread(reference), rel=1e-5)


def test_images_go_through_the_model_in_chunks_of_bounded_bytes(monkeypatch):
  images = np.random.default_rng(0).random((10, 4, 4, 1)).astype(np.float32)
  sizes = []

  def doubled(batch):
    sizes.append(len(batch))
    return batch * 2

  monkeypatch.setattr(mfv_lib, "CHUNK_BYTES", 3 * 4 * 16)  # three 4x4 images
  np.testing.assert_array_equal(mfv_lib._batched(doubled, images), images * 2)
  assert sizes == [3, 3, 3, 1]
  sizes.clear()
  monkeypatch.setattr(mfv_lib, "CHUNK_BYTES", 1)  # smaller than one image
  mfv_lib._batched(doubled, images)
  assert sizes == [1] * 10
