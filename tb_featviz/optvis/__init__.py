"""The algorithms: TensorFlow only, never TensorBoard."""
