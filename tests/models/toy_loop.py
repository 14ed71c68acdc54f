"""A tiny model that samples in a loop, to test the mechanism the diffusion and PixelCNN families
fill in: a sampler written in numpy (edge) and with tf.while_loop (SavedModel, Keras), a network
exported alone to ONNX, and the shared harness run on it like on any registered model.

The "refiner" starts from Gaussian noise x_0 and moves a fraction of the way to the network's
output each step:  x_{k+1} = x_k + (f(x_k, t_k) - x_k) / (K - k),  t_k = k / K,  k = 0..K-1,
so the last step lands on f's output. f is trained as a denoiser: f(x + s * e, s) ~ x.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.registry import register
from keras_gen.samplers import Sampler, register_sampler


@register_sampler
class RefineSampler(Sampler):
    name = "toy_refine"

    def option_specs(self):
        return [kinds.option("steps", int(self.config.get("steps", 4)), 1, 64, "int32", "refinement steps")]

    def run_numpy(self, network, inputs, n, seed):
        x, steps = inputs["noise"], int(inputs["steps"])
        for k in range(steps):
            out = network({"x": x, "t": np.asarray(k / steps, np.float32)})["images"]
            x = x + (out - x) / np.float32(steps - k)
        return x

    def run_tf(self, network, inputs, n, seed):
        import tensorflow as tf

        steps = tf.cast(inputs["steps"], tf.int32)

        def body(k, x):
            t = tf.cast(k, tf.float32) / tf.cast(steps, tf.float32)
            out = network({"x": x, "t": t})["images"]
            return k + 1, x + (out - x) / tf.cast(steps - k, tf.float32)

        _, x = tf.while_loop(lambda k, x: k < steps, body, (tf.constant(0), tf.convert_to_tensor(inputs["noise"])))
        return x


@keras.saving.register_keras_serializable(package="keras_gen_tests")
class TimeMap(layers.Layer):
    """Broadcast the scalar t to a (B, H, W, 1) channel."""

    def call(self, x, t):
        return keras.ops.ones_like(x[..., :1]) * keras.ops.reshape(keras.ops.cast(t, x.dtype), (-1, 1, 1, 1))

    def compute_output_shape(self, x_shape, t_shape):
        return (*x_shape[:-1], 1)


@register("toy_refiner", family="test", data_kind="images",
          summary="test-only: a denoiser sampled by a refinement loop")
@keras.saving.register_keras_serializable(package="keras_gen_tests")
class ToyRefiner(GenerativeModel):
    @dataclass
    class Options(ModelOptions):
        filters: int = option(4, "width of the denoiser", min=1)
        steps: int = option(3, "default refinement steps at sampling", min=1, max=64)

    harness_options = {"filters": 4, "steps": 3}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        x = keras.Input(self.image_shape, name="x")
        t = keras.Input((), name="t", batch_size=None)
        h = layers.Concatenate()([x, TimeMap()(x, t)])
        h = layers.Conv2D(self.options.filters, 3, padding="same", activation="relu")(h)
        images = layers.Conv2D(self.channels, 3, padding="same", activation="tanh", name="images")(h)
        self.denoiser = keras.Model([x, t], images, name="denoiser")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    def default_optimizers(self):
        return {"denoiser": keras.optimizers.Adam(1e-3)}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        import tensorflow as tf

        images = data[0] if isinstance(data, (tuple, list)) else data
        batch = tf.shape(images)[0]
        sigma = tf.abs(self.random_normal((batch, 1, 1, 1)))
        noisy = images + sigma * self.random_normal(tf.shape(images))
        with tf.GradientTape() as tape:
            denoised = self.denoiser([noisy, tf.reshape(sigma, (-1,))], training=True)
            loss = tf.reduce_mean(tf.square(denoised - images))
        self.apply_gradients("denoiser", tape, loss)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def input_specs(self):
        return [kinds.InputSpec("noise", "latent", self.image_shape, "float32", distribution="gaussian")]

    def sampler(self):
        return RefineSampler(steps=self.options.steps)

    def network_specs(self):
        return [kinds.image(self.image_shape, name="x"), kinds.option("t", 0.0, 0.0, 1.0, "float32")]

    def network(self, x, t):
        import tensorflow as tf

        t = tf.broadcast_to(tf.cast(t, tf.float32), tf.shape(x)[:1])  # a scalar step for the whole batch
        return {"images": self.denoiser([x, t], training=False)}
