"""The compiled optimization loop: traced once per Loop, no host callbacks."""

import io
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_featviz
from tb_featviz.optvis import engine
from tb_featviz.optvis import param as param_lib
from tb_featviz.optvis import recipe
from tb_featviz.optvis import regularizers as reg_lib
from tb_featviz.optvis import transforms as transforms_lib

HOST_CALLBACK_OPS = {"PyFunc", "EagerPyFunc", "PyFuncStateless", "NumpyFunction"}


def test_loops_traced_once_each_are_not_reported_as_retracing():
  # One callback interval traces a loop per layer and kind; TensorFlow must
  # not take a dozen first tracings for "excessive retracing" of one function.
  messages = io.StringIO()
  handler = logging.StreamHandler(messages)
  tf.get_logger().addHandler(handler)
  try:
    for _ in range(8):
      renderer = engine.Renderer(engine.Loop(
          lambda images, targets: tf.reduce_mean(images, axis=[1, 2, 3]) * targets,
          param_lib.PixelParam()))
      renderer(tf.zeros((2, 4, 4, 1)), tf.ones((2,)), steps=2,
               learning_rate=0.1, seed=0)
      assert renderer.trace_count == 1
  finally:
    tf.get_logger().removeHandler(handler)
  assert "retracing" not in messages.getvalue()


def _graph_ops(concrete_function):
  graph_def = concrete_function.graph.as_graph_def()
  ops = {node.op for node in graph_def.node}
  for function in graph_def.library.function:
    ops.update(node.op for node in function.node_def)
  return ops


def test_the_graph_walk_sees_a_host_callback():
  # The check below is only worth something if it can see a py_function hidden
  # in a while loop's body.
  @tf.function
  def loop(x):
    def body(i, x):
      y = tf.py_function(np.sin, [x], tf.float32)
      return i + 1, tf.ensure_shape(y, ())

    return tf.while_loop(lambda i, x: i < 3, body, (0, x))[1]

  ops = _graph_ops(loop.get_concrete_function(tf.TensorSpec((), tf.float32)))
  assert ops & HOST_CALLBACK_OPS


def _tiny_cnn():
  inputs = keras.Input((12, 12, 3))
  h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
  h = keras.layers.GlobalAveragePooling2D()(h)
  outputs = keras.layers.Dense(3, activation="softmax", name="probs")(h)
  return keras.Model(inputs, outputs)


@pytest.mark.parametrize("layer,preset", [("conv", "default"), ("probs", "default"),
                                          ("conv", "plain")])
def test_the_compiled_loop_has_no_host_callbacks(layer, preset):
  model = _tiny_cnn()
  tb_featviz.activation_maximization(model, layer, 2, steps=2, preset=preset)
  renderers = recipe.extractor(model, layer).__dict__["_renderers"]
  assert len(renderers) == 1
  [renderer] = renderers.values()
  params = renderer.loop.param.initial((2, 12, 12, 3), seed=[0, 0])
  concrete = renderer._loop.get_concrete_function(  # noqa: SLF001
      params, tf.constant([0, 1], tf.int32), tf.constant(2), tf.constant(0.05),
      tf.constant(0))
  assert renderer.trace_count == 1, "the cached trace should have been reused"
  ops = _graph_ops(concrete)
  assert "Conv2D" in ops and ops & {"While", "StatelessWhile"}, sorted(ops)
  assert not ops & HOST_CALLBACK_OPS, sorted(ops & HOST_CALLBACK_OPS)


def _renderers(model, layer):
  return recipe.extractor(model, layer).__dict__["_renderers"]


def _tiny_conv_model():
  inputs = keras.Input((10, 10, 1))
  return keras.Model(inputs, keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs))


am = tb_featviz.activation_maximization


def test_a_second_call_with_the_same_shapes_does_not_retrace():
  model = _tiny_conv_model()
  am(model, "conv", 4, steps=3, seed=0)
  renderers = dict(_renderers(model, "conv"))
  assert len(renderers) == 1
  [renderer] = renderers.values()
  assert renderer.trace_count == 1
  am(model, "conv", [5, 2, 0, 1], steps=7, seed=3, learning_rate=0.1)
  am(model, "conv", [7, 7, 6, 6], steps=0, seed=4)
  assert dict(_renderers(model, "conv")) == renderers
  assert renderer.trace_count == 1


def test_a_short_last_chunk_does_not_retrace():
  model = _tiny_conv_model()
  am(model, "conv", 8, steps=3, batch_size=3)  # chunks of 3, 3 and 2 (padded)
  [renderer] = _renderers(model, "conv").values()
  assert renderer.trace_count == 1
  am(model, "conv", [7, 6, 5, 4, 3, 2, 1], steps=3, batch_size=3)
  assert renderer.trace_count == 1


def _vector_model():
  inputs = keras.Input((16,))
  return keras.Model(inputs, keras.layers.Dense(4, name="dense")(inputs))


# Every option of activation_maximization that changes the compiled loop, each
# with a value other than its default: (model, layer, options).
_LOOP_OPTIONS = {
    "objective": ("conv", {"objective": "neuron"}),
    "preset": ("conv", {"preset": "plain"}),
    "param": ("conv", {"param": "pixel"}),
    "transforms": ("conv", {"transforms": transforms_lib.Compose(
        [transforms_lib.Jitter(1)])}),
    "regularizers": ("conv", {"regularizers": [reg_lib.L2(0.1)]}),
    "optimizer": ("conv", {"optimizer": "sgd"}),
    "value_range": ("conv", {"value_range": (-1.0, 1.0)}),
    "norm_bound": ("conv", {"param": "pixel", "norm_bound": 3.0}),
    "jit_compile": ("conv", {"jit_compile": True}),
    "update_region": ("conv", {"param": "pixel", "update_region": 0.5}),
    "display_shape": ("dense", {"display_shape": (4, 4)}),
    "regularizer weight": ("conv", {"regularizers": [reg_lib.L2(0.2)]}),
    "jitter": ("conv", {"transforms": transforms_lib.Compose(
        [transforms_lib.Jitter(2)])}),
    "interpolation": ("conv", {"transforms": transforms_lib.Compose(
        [transforms_lib.Jitter(1)], interpolation=transforms_lib.NEAREST)}),
}


def test_each_option_that_shapes_the_loop_gets_a_trace_of_its_own():
  models = {"conv": _tiny_conv_model(), "dense": _vector_model()}
  baseline = {"conv": {}, "dense": {"display_shape": (2, 8)}}
  for layer, options in [("conv", {}), ("dense", baseline["dense"])]:
    am(models[layer], layer, 2, steps=1, **options)
  for name, (layer, options) in _LOOP_OPTIONS.items():
    before = {loop: r.trace_count for loop, r in _renderers(models[layer], layer).items()}
    am(models[layer], layer, 2, steps=1, **{**baseline[layer], **options})
    after = _renderers(models[layer], layer)
    new = [r for loop, r in after.items() if loop not in before]
    assert len(new) == 1 and new[0].trace_count == 1, name
    assert {loop: after[loop].trace_count for loop in before} == before, name
    # The same option again reuses that trace.
    am(models[layer], layer, [1, 0], steps=2, seed=5, **{**baseline[layer], **options})
    assert new[0].trace_count == 1 and len(_renderers(models[layer], layer)) == len(after), name


def test_options_that_do_not_shape_the_loop_share_it():
  model = _tiny_conv_model()
  am(model, "conv", 2, steps=1, regularizers=[reg_lib.L2(0.1)])
  am(model, "conv", [1, 3], steps=4, seed=9, learning_rate=0.2,
     regularizers=(reg_lib.L2(0.1),))
  [renderer] = _renderers(model, "conv").values()
  assert renderer.trace_count == 1


def test_an_option_that_cannot_be_compared_is_refused_with_advice():
  class Mutable:  # defines equality, so it has no hash
    def __eq__(self, other):
      return isinstance(other, Mutable)

    def __call__(self, images):
      return tf.zeros(tf.shape(images)[:1])

  with pytest.raises(ValueError, match="frozen dataclass"):
    am(_tiny_conv_model(), "conv", 1, steps=1, regularizers=[Mutable()])
