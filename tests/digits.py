"""Small offline data and models for the tests: scikit-learn's 8x8 digits."""

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

IMAGE_SIZE = 28


def digits(size=IMAGE_SIZE):
  """Returns (images, labels): 1797 digits in [0, 1], shape (N, size, size, 1)."""
  data = load_digits()
  images = (data.images / 16.0).astype(np.float32)[..., None]
  if size != 8:
    images = tf.image.resize(images, (size, size)).numpy()
  return np.clip(images, 0.0, 1.0), data.target.astype(np.int64)


def cnn(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1), classes=10):
  """The demo-sized CNN: conv1..conv3, embed (Dense 32), logits (softmax)."""
  inputs = keras.Input(input_shape)
  h = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1")(inputs)
  h = keras.layers.MaxPooling2D(name="pool1")(h)
  h = keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2")(h)
  h = keras.layers.MaxPooling2D(name="pool2")(h)
  h = keras.layers.Conv2D(64, 3, activation="relu", padding="same", name="conv3")(h)
  h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
  h = keras.layers.Dense(32, activation="relu", name="embed")(h)
  outputs = keras.layers.Dense(classes, activation="softmax", name="logits")(h)
  return keras.Model(inputs, outputs, name="digits_cnn")


def trained_cnn(images, labels, epochs=20, seed=0):
  """The CNN trained on `images`, `labels` with Adam(3e-3), batch 32."""
  keras.utils.set_random_seed(seed)
  model = cnn(images.shape[1:], int(labels.max()) + 1)
  model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                metrics=["accuracy"])
  model.fit(images, labels, epochs=epochs, batch_size=32, verbose=0)
  return model
