"""Trains a small CNN on scikit-learn's digits with FeatureVizCallback.

Offline: the digits ship with scikit-learn (8x8, upscaled here to 28x28). Writes
TensorBoard logs (Scalars from keras.callbacks.TensorBoard, the featviz panel's
data from tb_featviz.FeatureVizCallback: activation maximization of conv2,
conv3 and the logits beside the validation digits that drive each unit most,
inversion of 8 validation digits from four layers, and the facets of classes 3
and 7) to `runs/digits_cnn` by default:

  python demo/train_digits.py --logdir runs
  tensorboard --logdir runs        # then open the "Feature Viz" tab
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import tb_featviz  # noqa: E402

SIZE = 28
BATCH_SIZE = 32


def load_data(seed=0):
  """Digits as (N, 28, 28, 1) floats in [0, 1] and labels, shuffled and split."""
  data = load_digits()
  images = tf.image.resize((data.images / 16.0)[..., None], (SIZE, SIZE)).numpy()
  images = np.clip(images, 0.0, 1.0).astype(np.float32)
  order = np.random.default_rng(seed).permutation(len(images))
  images, labels = images[order], data.target[order]
  return (images[:1500], labels[:1500]), (images[1500:], labels[1500:])


def build_model():
  """Three conv blocks, a 32-unit embedding and a softmax over the 10 digits."""
  inputs = keras.Input((SIZE, SIZE, 1))
  h = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1")(inputs)
  h = keras.layers.MaxPooling2D()(h)
  h = keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2")(h)
  h = keras.layers.MaxPooling2D()(h)
  h = keras.layers.Conv2D(64, 3, activation="relu", padding="same", name="conv3")(h)
  h = keras.layers.GlobalAveragePooling2D()(h)
  h = keras.layers.Dense(32, activation="relu", name="embed")(h)
  outputs = keras.layers.Dense(10, activation="softmax", name="logits")(h)
  return keras.Model(inputs, outputs, name="digits_cnn")


def compiled_model(seed=0):
  """`build_model()` with seeded weights, compiled for training with Adam(3e-3)."""
  keras.utils.set_random_seed(seed)
  model = build_model()
  model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                metrics=["accuracy"])
  return model


def featviz_callback(run_dir, x_val, y_val, am_steps=256, **options):
  """The demo's FeatureVizCallback, visualizing after every epoch.

  Args:
    run_dir: the run's log directory.
    x_val, y_val: validation digits: the first 8 are inverted, and all of them
      give the facets of classes 3 and 7 and the examples of every AM unit.
    am_steps: optimization steps per activation maximization.
    **options: more FeatureVizCallback arguments (e.g. budget=0.1).

  Returns:
    A tb_featviz.FeatureVizCallback.
  """
  return tb_featviz.FeatureVizCallback(
      run_dir,
      am={"conv2": 16, "conv3": 16, "logits": "all"},
      am_options={"steps": am_steps},
      inversion={"images": x_val[:8], "layers": ["conv1", "conv2", "conv3", "embed"]},
      # The 32-unit embedding folds a class together; conv3 keeps its looks.
      mfv={"images": x_val, "labels": y_val, "layer": "logits", "units": [3, 7],
           "embedding_layer": "conv3", "k": 3},
      examples={"images": x_val, "k": 9},
      every_n_epochs=1, **options)


def train(model, data, epochs, callbacks=(), verbose=2):
  """Fits `model` on `load_data()`'s ((x_train, y_train), (x_val, y_val))."""
  (x_train, y_train), validation = data
  return model.fit(x_train, y_train, validation_data=validation, epochs=epochs,
                   batch_size=BATCH_SIZE, callbacks=list(callbacks),
                   verbose=verbose)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--logdir", default="runs", help="root log directory")
  parser.add_argument("--epochs", type=int, default=12)
  parser.add_argument("--am-steps", type=int, default=256,
                      help="optimization steps per activation maximization")
  args = parser.parse_args(argv)

  data = load_data()
  _, (x_val, y_val) = data
  model = compiled_model()
  run_dir = os.path.join(args.logdir, "digits_cnn")
  callbacks = [
      keras.callbacks.TensorBoard(run_dir),
      featviz_callback(run_dir, x_val, y_val, am_steps=args.am_steps),
  ]
  started = time.time()
  train(model, data, args.epochs, callbacks)
  print(f"Trained {args.epochs} epochs in {time.time() - started:.0f} s; "
        f"logs in {run_dir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
