"""Multifaceted feature visualization (Nguyen, Yosinski & Clune 2016).

A unit can respond to several different things. MFV finds them: the images that
drive the unit are embedded (features at a high layer -> PCA -> t-SNE), the 2-D
embedding is clustered with k-means, and activation maximization starts from
the mean of the m images nearest each centroid, giving one picture per facet.

Left alone, AM runs far past the data and the facets of a unit end up alike.
So each facet's unit is capped just above the best real image of its cluster,
and the facet is pulled towards its cluster's centroid in the embedding layer;
`facet_fidelity` measures whether it is still nearest that centroid.

Across training (`previous=`), t-SNE starts from the previous step's layout,
the new layout is aligned to it (Procrustes) and cluster ids are matched to the
previous ones, so points move smoothly and facet 2 stays facet 2.
"""

import dataclasses

import numpy as np
import tensorflow as tf
from scipy import optimize as scipy_optimize
from sklearn import cluster as sk_cluster
from sklearn import decomposition as sk_decomposition
from sklearn import manifold as sk_manifold

from tb_featviz.optvis import am as am_lib
from tb_featviz.optvis import features as features_lib
from tb_featviz.optvis import inversion as inversion_lib
from tb_featviz.optvis import recipe
from tb_featviz.optvis import regularizers as reg_lib

PCA_DIMENSIONS = 50
MAX_PERPLEXITY = 30.0
# Images go through the model in chunks of at most this many input bytes: one
# call for 2,000 digits (every call costs milliseconds on its own), about 100
# images a chunk at 224x224x3.
CHUNK_BYTES = 64 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Phase:
  """One phase of centre-biased AM.

  Attributes:
    share: the fraction of all steps spent in this phase.
    smoothing: weight of total variation and of the blur penalty.
    update_region: the central fraction of each side that may change, or None.
  """
  share: float
  smoothing: float
  update_region: float = None


# Strong smoothing with updates held to the centre forms a blurry object there
# (the mean image is centred); later phases sharpen it in a wider centre. Left
# free, the borders fill with stripes that raise the unit more than the object.
CENTRE_BIASED_PHASES = (Phase(0.5, 2.0, 0.6), Phase(0.25, 0.5, 0.8),
                        Phase(0.25, 0.1, 0.8))
DEFAULT_LEARNING_RATE = 0.02  # pixels, from a mean image: small steps keep it
# Left alone, AM from a mean image runs on to 2-3 times the logit of its
# cluster's best image, and the facets of a class drift towards one class-wide
# pattern: of the facets of two demo CNNs (every class, k=3, seeds 0-2), 52%
# and 71% stayed nearest (cosine, in conv3) their own cluster's centroid. A
# ceiling at the cluster's best plus 0.1 of the unit's largest value, and a
# pull of weight 3 (same unit) towards the centroid, kept 100% of both, at
# 1.1-1.6 times the best image. On the second CNN the ceiling alone kept 70%,
# the pull alone 82%, and a pull of 10 left some facets below their cluster's
# best (bench/mfv_fidelity.py). The pull makes facets grainier.
DEFAULT_CEILING_MARGIN = 0.1
DEFAULT_ANCHOR_WEIGHT = 3.0


@dataclasses.dataclass
class MFVResult:
  """What `multifaceted` found.

  Attributes:
    facets: float32 (k, *input_shape), one AM image per facet.
    mean_images: float32 (k, *input_shape), the AM starting points.
    embedding: float32 (N, 2), t-SNE coordinates of the images.
    labels: int32 (N,), the facet (k-means cluster) of each image.
    activations: float32 (k,), the unit's value for each facet.
    mean_activations: float32 (k,), the unit's value for each mean image.
    nearest: k int arrays, the images averaged into each mean image.
    layer, unit: what was visualized.
    value_range: (low, high) of the images.
    display_shape: how vector inputs are shown as pictures, or None.
    features: float32 (N, d <= 50), the images' embedding-layer features
      after PCA: what t-SNE laid out and the facets were found in.
    cluster_best: float32 (k,), the unit's best value over each cluster's
      images: `activations / cluster_best` is how far AM went past the data.
    facet_nearest: int32 (k,), for each facet pushed through the embedding
      layer, the cluster whose centroid it is nearest to (by cosine): its own
      id while the facet stays its facet.
    facet_similarity: float32 (k,), the cosine similarity of each facet to
      its own cluster's centroid in the embedding layer.
  """
  facets: np.ndarray
  mean_images: np.ndarray
  embedding: np.ndarray
  labels: np.ndarray
  activations: np.ndarray
  mean_activations: np.ndarray
  nearest: list
  layer: str
  unit: int
  value_range: tuple
  display_shape: tuple = None
  features: np.ndarray = None
  cluster_best: np.ndarray = None
  facet_nearest: np.ndarray = None
  facet_similarity: np.ndarray = None


def previous_layer(model, layer):
  """The name of the layer before `layer` (the default embedding layer)."""
  names = features_lib.layer_names(model)
  features_lib.find_layer(model, layer)
  index = names.index(layer)
  if index == 0:
    raise ValueError(f"Layer {layer!r} is the first layer; pass embedding_layer=.")
  return names[index - 1]


def _batched(function, images):
  """`function` over `images` in chunks of at most CHUNK_BYTES, concatenated.

  Chunks are sized as float32, whatever `images` holds: the model sees them
  as float32, and that copy is what the bound is for.
  """
  image_bytes = np.dtype(np.float32).itemsize * int(np.prod(images.shape[1:]))
  chunk = max(1, CHUNK_BYTES // max(1, image_bytes))
  return np.concatenate([np.asarray(function(images[i:i + chunk]))
                         for i in range(0, len(images), chunk)])


def reduce(features, *, seed=0):
  """PCA to at most 50 dimensions: float32 (N, min(50, N, D)).

  Args:
    features: (N, D) representations.
    seed: seeds PCA.
  """
  dimensions = min(PCA_DIMENSIONS, len(features), features.shape[1])
  reduced = sk_decomposition.PCA(dimensions, random_state=seed).fit_transform(features)
  return reduced.astype(np.float32)


def embed(reduced, *, seed=0, init=None):
  """t-SNE of PCA-reduced features (see `reduce`) to 2-D.

  Args:
    reduced: (N, d) representations, d <= 50.
    seed: seeds t-SNE.
    init: (N, 2) starting layout for t-SNE (e.g. the previous step's), or None.

  Returns:
    float32 (N, 2).
  """
  n = len(reduced)
  if n < 4:  # too few points for t-SNE's neighbourhoods: keep PCA's 2-D layout
    return np.pad(reduced[:, :2], ((0, 0), (0, max(0, 2 - reduced.shape[1])))
                  ).astype(np.float32)
  tsne = sk_manifold.TSNE(
      2, perplexity=min(MAX_PERPLEXITY, (n - 1) / 3.0), random_state=seed,
      init="pca" if init is None else np.asarray(init, np.float64))
  return tsne.fit_transform(np.asarray(reduced, np.float64)).astype(np.float32)


def align(embedding, reference):
  """`embedding` rotated, shifted and scaled onto `reference` (Procrustes).

  The scale makes the spread equal to the reference's, so that layouts keep
  their size across steps.
  """
  mean_e, mean_r = embedding.mean(0), reference.mean(0)
  centred_e, centred_r = embedding - mean_e, reference - mean_r
  u, _, vt = np.linalg.svd(centred_e.T @ centred_r)
  rotation = u @ vt
  # Keep the reference's spread. The least-squares scale shrinks the layout by
  # how well the two agree, and step after step that compounds to a dot.
  scale = np.sqrt(float((centred_r**2).sum()) / max(float((centred_e**2).sum()), 1e-12))
  return (scale * centred_e @ rotation + mean_r).astype(np.float32)


def match_labels(labels, previous_labels, k):
  """Renames clusters so that they overlap the previous ones most (Hungarian)."""
  overlap = np.zeros((k, k))
  np.add.at(overlap, (labels, previous_labels), 1)
  rows, columns = scipy_optimize.linear_sum_assignment(-overlap)
  renaming = np.empty(k, np.int32)
  renaming[rows] = columns
  return renaming[labels]


def cluster(embedding, k, *, seed=0):
  """k-means on the 2-D embedding; returns (labels int32 (N,), centroids (k, 2))."""
  kmeans = sk_cluster.KMeans(k, n_init=10, random_state=seed).fit(embedding)
  return kmeans.labels_.astype(np.int32), kmeans.cluster_centers_


def nearest_members(embedding, labels, k, m):
  """For each cluster, the indices of its (at most) m members nearest its centre."""
  chosen = []
  for facet in range(k):
    members = np.flatnonzero(labels == facet)
    centre = embedding[members].mean(axis=0)
    distance = np.linalg.norm(embedding[members] - centre, axis=1)
    chosen.append(members[np.argsort(distance, kind="stable")[:m]])
  return chosen


def _centroids(features, labels, k):
  """The mean of each cluster's features, float32 (k, D) (0 for an empty one)."""
  features = np.asarray(features, np.float32).reshape(len(features), -1)
  sums = np.zeros((k, features.shape[1]), np.float32)
  np.add.at(sums, labels, features)
  counts = np.bincount(labels, minlength=k).astype(np.float32)
  return sums / np.maximum(counts, 1.0)[:, None]


def _unit_rows(vectors):
  norms = np.linalg.norm(vectors, axis=1, keepdims=True)
  return vectors / np.maximum(norms, 1e-12)


def facet_fidelity(embedder, facets, features, labels, k):
  """Whether each facet is still its facet: nearest its own cluster's centroid.

  Args:
    embedder: callable images -> embedding-layer features (e.g. the
      FeatureExtractor of the embedding layer).
    facets: (k, *input_shape), facet i made for cluster i.
    features: (N, ...) the embedding-layer features of the clustered images.
    labels: (N,) the cluster of each image, in [0, k).
    k: the number of clusters.

  Returns:
    (nearest, cosine): int32 (k,), the cluster whose centroid each facet is
    nearest to (by cosine, flattened features; its own id when it stays its
    facet, a tie counted as its own);
    float32 (k,), each facet's cosine similarity to its own centroid.
  """
  facet_features = _batched(embedder, np.asarray(facets)).reshape(len(facets), -1)
  cosines = _unit_rows(facet_features) @ _unit_rows(_centroids(features, labels, k)).T
  own = cosines[np.arange(k), np.arange(k)]
  nearest = np.where(cosines.max(axis=1) > own, cosines.argmax(axis=1), np.arange(k))
  return nearest.astype(np.int32), own.astype(np.float32)


def _cluster_best(values, labels, k):
  """The largest of `values` (N,) in each of the k clusters (-inf if empty)."""
  best = np.full(k, -np.inf, np.float32)
  np.maximum.at(best, labels, np.asarray(values, np.float32))
  return best


@dataclasses.dataclass(frozen=True)
class _StayInCluster:
  """What AM maximizes for a facet (the `term` of AM's `objective_term`).

  The unit's value up to a ceiling, minus weight * (1 - cosine similarity of
  the image's embedding-layer features to its cluster's centroid). Each
  image's row is [ceiling, weight, unit-length centroid...].

  Attributes:
    embedder: the FeatureExtractor of the embedding layer.
  """
  embedder: object

  def __call__(self, images, values, rows):
    ceiling, weight, centroid = rows[:, 0], rows[:, 1], rows[:, 2:]
    features = tf.reshape(self.embedder(images), (tf.shape(images)[0], -1))
    cosine = tf.reduce_sum(tf.math.l2_normalize(features, axis=1) * centroid, axis=1)
    return tf.minimum(values, ceiling) - weight * (1.0 - cosine)


def _stay_in_cluster_rows(best, centres, scale, *, ceiling_margin, anchor_weight):
  """The rows of `_StayInCluster`, one per facet, float32 (k, 2 + D).

  Args:
    best: (k,) the best value of the unit in each cluster.
    centres: (k, D) the clusters' centroids in the embedding layer.
    scale: the unit's typical magnitude (> 0), in which margin and weight are
      counted, so that they do not depend on the unit's scale.
    ceiling_margin: the ceiling is best + ceiling_margin * scale; None for none.
    anchor_weight: the weight of the pull towards the centroid, times scale.

  Returns:
    float32 (k, 2 + D).
  """
  ceiling = (np.full(len(best), np.inf) if ceiling_margin is None
             else best + ceiling_margin * scale)
  weight = np.full(len(best), anchor_weight * scale)
  return np.concatenate([ceiling[:, None], weight[:, None], _unit_rows(centres)],
                        axis=1).astype(np.float32)


def _check_images(images, k, extractor, unit, value_range):
  images = inversion_lib.check_images(images, extractor.input_shape, value_range)
  distinct = len(np.unique(images.reshape(len(images), -1), axis=0))
  if distinct < k:
    raise ValueError(
        f"k={k} facets need at least {k} different images; got {len(images)} "
        f"images of which {distinct} differ. Pass more images or a smaller k.")
  values = unit_values(extractor, images, unit)
  if np.all(values <= 0) and np.ptp(values) == 0:
    raise ValueError(
        f"Unit {unit} of layer {extractor.layer.name!r} is not activated by any "
        f"of the {len(images)} images (all give {values[0]:.3g}); pass images "
        "that drive it, or choose another unit.")
  return images, values


def unit_values(extractor, images, unit):
  """The value of `unit` (channel mean / logit) for each of `images`, (N,)."""
  units = tf.fill([len(images)], unit)
  values = _batched(lambda batch: features_lib.unit_objective(
      extractor(batch), units[:len(batch)], features_lib.CHANNEL), images)
  features_lib.check_finite(
      values, f"The model's output at layer {extractor.name!r} for the MFV images")
  return values


def _facets(model, layer, unit, starts, *, steps, learning_rate, seed, value_range,
            centre_bias, display_shape, am_options, objective_term=None):
  """AM from every mean image at once, in centre-biased phases if asked."""
  k = len(starts)
  am_options = dict(am_options, learning_rate=learning_rate, seed=seed,
                    value_range=value_range, display_shape=display_shape,
                    objective_term=objective_term)
  if not centre_bias:
    return am_lib.activation_maximization(
        model, layer, [unit] * k, init=starts, steps=steps, **am_options)
  image_input = starts.ndim == 4
  result = None
  for index, phase in enumerate(CENTRE_BIASED_PHASES):
    smoothing = []
    if image_input or display_shape is not None:
      smoothing.append(reg_lib.TotalVariation(
          phase.smoothing, value_range=value_range,
          display_shape=None if image_input else display_shape[:2]))
    if image_input:
      smoothing.append(reg_lib.Blur(phase.smoothing, value_range=value_range))
    am_options["seed"] = seed + index
    result = am_lib.activation_maximization(
        model, layer, [unit] * k, init=starts if result is None else result.images,
        steps=max(1, int(round(steps * phase.share))), param="pixel",
        regularizers=smoothing,
        update_region=phase.update_region if image_input else None, **am_options)
  return result


def multifaceted(model, images, *, layer, unit, embedding_layer=None, k=4, m=15,
                 seed=0, value_range=(0.0, 1.0), steps=256,
                 learning_rate=DEFAULT_LEARNING_RATE, centre_bias=True,
                 ceiling_margin=DEFAULT_CEILING_MARGIN,
                 anchor_weight=DEFAULT_ANCHOR_WEIGHT, previous=None,
                 display_shape=None, am_options=None):
  """Finds the facets of one unit: one AM image per cluster of its images.

  Args:
    model: a Keras 3 Functional or Sequential model with one input.
    images: (N, *input_shape) images that drive the unit (for a class unit,
      that class's images).
    layer: the layer of the unit (softmax/sigmoid layers are read as logits).
    unit: the unit's id.
    embedding_layer: where representations are taken for the embedding;
      default the layer before `layer`.
    k: the number of facets.
    m: how many images nearest each centroid make its mean image.
    seed: seeds PCA, t-SNE, k-means and AM.
    value_range: (low, high) of the model's input pixels.
    steps: AM steps in all (split across phases with centre bias).
    learning_rate: the AM step size.
    centre_bias: run AM in the centre-biased phases of the paper
      (CENTRE_BIASED_PHASES); otherwise one default AM run from each mean.
    ceiling_margin: AM stops raising a facet's unit once it passes the best
      image of the facet's cluster by this much (a fraction of the unit's
      largest magnitude over `images`); None: no ceiling.
    anchor_weight: the weight (same unit) of a pull of each facet towards its
      cluster's centroid in the embedding layer, 1 - cosine similarity; 0:
      none. The pull runs the model up to the embedding layer once more at
      every step. With no ceiling and no pull, AM maximizes the unit alone.
    previous: the MFVResult of the previous step for the same images, to keep
      the layout and the facet ids stable across training.
    display_shape: for vector inputs, the (H, W) used to see them as images.
    am_options: more keyword arguments for `activation_maximization`.

  Returns:
    An `MFVResult`.

  Raises:
    ValueError: for unknown layers or units, images that do not fit the model,
      fewer different images than k, a unit no image activates, or a negative
      ceiling_margin or anchor_weight.
  """
  value_range = recipe.check_value_range(value_range)
  if not isinstance(k, int) or k < 1 or not isinstance(m, int) or m < 1:
    raise ValueError(f"k and m must be positive integers, got k={k!r}, m={m!r}.")
  if (ceiling_margin is not None and not ceiling_margin >= 0) or not anchor_weight >= 0:
    raise ValueError("ceiling_margin (or None) and anchor_weight must be >= 0, got "
                     f"{ceiling_margin!r} and {anchor_weight!r}.")
  extractor = recipe.extractor(model, layer)
  [unit] = extractor.check_units([unit])
  display_shape = recipe.check_display_shape(display_shape, extractor.input_shape)
  images, values = _check_images(images, k, extractor, unit, value_range)
  embedding_layer = embedding_layer or previous_layer(model, layer)
  embedder = recipe.extractor(model, embedding_layer)
  features = _batched(embedder, images).reshape(len(images), -1)
  features_lib.check_finite(
      features, f"The model's output at layer {embedding_layer!r} (the embedding)")

  same_images = previous is not None and previous.embedding.shape == (len(images), 2)
  reduced = reduce(features, seed=seed)
  embedding = embed(reduced, seed=seed, init=previous.embedding if same_images else None)
  if same_images:
    embedding = align(embedding, previous.embedding)
  labels, _ = cluster(embedding, k, seed=seed)
  if same_images and len(previous.mean_images) == k:
    labels = match_labels(labels, previous.labels, k)
  nearest = nearest_members(embedding, labels, k, m)
  means = np.stack([images[index].mean(axis=0) for index in nearest])
  best = _cluster_best(values, labels, k)

  objective_term = None
  if ceiling_margin is not None or anchor_weight > 0:
    rows = _stay_in_cluster_rows(
        best, _centroids(features, labels, k), float(np.max(np.abs(values))),
        ceiling_margin=ceiling_margin, anchor_weight=anchor_weight)
    objective_term = (_StayInCluster(embedder), rows)
  result = _facets(model, layer, unit, means, steps=steps,
                   learning_rate=learning_rate, seed=seed,
                   value_range=value_range, centre_bias=centre_bias,
                   display_shape=display_shape, am_options=dict(am_options or {}),
                   objective_term=objective_term)
  nearest_centroid, cosine = facet_fidelity(embedder, result.images, features,
                                            labels, k)
  return MFVResult(
      facets=result.images, mean_images=means.astype(np.float32),
      embedding=embedding, labels=labels, activations=result.activations,
      mean_activations=unit_values(extractor, means, unit).astype(np.float32),
      nearest=nearest, layer=layer, unit=unit, value_range=value_range,
      display_shape=display_shape, features=reduced, cluster_best=best,
      facet_nearest=nearest_centroid, facet_similarity=cosine)
