"""A tiny super-resolution model (test-only), so a model whose input and output sizes differ runs
through the shared harness: paired data read at one size per side (A: the low-resolution input,
B: the high-resolution target, twice its side), a fully convolutional network that doubles the
size, trained with L1. At 16 px output it reads 8 x 8 inputs; at the edge any size.

    y = f(x),  f: nearest 2x up-sampling, then two 3x3 convolutions;  L = E |f(x) - y|
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.registry import register

SCALE = 2


@register("toy_upscaler", family="test", data_kind="paired",
          summary="test-only: 2x super-resolution, low-resolution A in, high-resolution B out")
@keras.saving.register_keras_serializable(package="keras_gen_tests")
class ToyUpscaler(GenerativeModel):
    @dataclass
    class Options(ModelOptions):
        filters: int = option(2 * SCALE, "width of the network: two features per output sub-pixel", min=1)

    harness_options = {"filters": 4}
    harness_image_size = 16  # the output's side; the input is 8 x 8
    square_only = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        height, width, c = self.image_shape
        if height % SCALE or width % SCALE:
            from keras_gen import KerasGenError

            raise KerasGenError(f"toy_upscaler makes images {SCALE}x its input: pass an even --image-size.")
        low = keras.Input((None, None, c), name="image")
        h = layers.UpSampling2D(SCALE, interpolation="nearest")(low)
        h = layers.Conv2D(self.options.filters, 3, padding="same", activation="relu")(h)
        high = layers.Conv2D(c, 3, padding="same", activation="tanh", name="images")(h)
        self.upscaler = keras.Model(low, high, name="upscaler")
        self.loss_tracker = keras.metrics.Mean(name="l1")
        self.built = True

    def data_shapes(self):
        height, width, c = self.image_shape
        return (height // SCALE, width // SCALE, c), self.image_shape

    def default_optimizers(self):
        return {"upscaler": keras.optimizers.Adam(1e-3)}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        low, high = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(self.upscaler(low, training=True) - high))
        self.apply_gradients("upscaler", tape, loss)
        self.loss_tracker.update_state(loss)
        return {"l1": self.loss_tracker.result()}

    def input_specs(self):
        return [kinds.image((None, None, self.channels), name="image")]

    def generate(self, image):
        return self.upscaler(image, training=False)

    def translate(self, images_a):
        return self.generate(images_a)
