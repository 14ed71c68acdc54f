"""A tiny paired image-to-image model (test-only), so the contract's image inputs and paired
data run through the shared harness before pix2pix and super-resolution fill them in: an input
of kind `image` with any height and width, `train_step` on aligned (A, B) batches, `translate`
for the paired metrics, and sampling that takes the image as a condition (`--image PATH`).

    B ~ f(A),  f fully convolutional,  trained with L1:  E |f(a) - b|.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.registry import register


@register("toy_translator", family="test", data_kind="paired",
          summary="test-only: a paired A->B image translator")
@keras.saving.register_keras_serializable(package="keras_gen_tests")
class ToyTranslator(GenerativeModel):
    @dataclass
    class Options(ModelOptions):
        filters: int = option(4, "width of the translator", min=1)

    harness_options = {"filters": 4}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        image = keras.Input((None, None, self.channels), name="image")
        h = layers.Conv2D(self.options.filters, 3, padding="same", activation="relu")(image)
        out = layers.Conv2D(self.channels, 3, padding="same", activation="tanh", name="images")(h)
        self.translator = keras.Model(image, out, name="translator")
        self.loss_tracker = keras.metrics.Mean(name="l1")
        self.built = True

    def default_optimizers(self):
        return {"translator": keras.optimizers.Adam(1e-3)}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        import tensorflow as tf

        a, b = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(self.translator(a, training=True) - b))
        self.apply_gradients("translator", tape, loss)
        self.loss_tracker.update_state(loss)
        return {"l1": self.loss_tracker.result()}

    def input_specs(self):
        return [kinds.image((None, None, self.channels), name="image")]

    def generate(self, image):
        return self.translator(image, training=False)

    def translate(self, images_a):
        return self.generate(images_a)
