"""A tiny generator with InfoGAN-style codes (test-only), so `code` inputs run through the
shared harness before InfoGAN fills them in: a categorical and a uniform code beside z, drawn
from the seed unless a request gives them (CLI flags, the SavedModel's `sample` with an empty
code meaning "draw", the edge runner), and drawn in train_step with `random_uniform`.

    G(z, c, u) -> image, trained by moment matching to the batch mean: E (G - mean(x))^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.registry import register


@register("toy_coded", family="test", data_kind="images",
          summary="test-only: a generator of z and InfoGAN-style codes")
@keras.saving.register_keras_serializable(package="keras_gen_tests")
class ToyCoded(GenerativeModel):
    @dataclass
    class Options(ModelOptions):
        latent_dim: int = option(4, "z size", min=1)
        categories: int = option(3, "values of the categorical code", min=2)

    harness_options = {"latent_dim": 4, "categories": 3}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        z = keras.Input((o.latent_dim,), name="z")
        category = keras.Input((), dtype="int32", name="category")
        continuous = keras.Input((2,), name="continuous")
        h = layers.Concatenate()([z, layers.Embedding(o.categories, 4)(category), continuous])
        x = layers.Dense(self.image_size * self.image_size * self.channels, activation="tanh")(h)
        self.generator = keras.Model([z, category, continuous], layers.Reshape(self.image_shape)(x), name="generator")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def default_optimizers(self):
        return {"generator": keras.optimizers.Adam(1e-2)}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, images):
        import tensorflow as tf

        batch = tf.shape(images)[0]
        z = self.random_normal((batch, self.options.latent_dim))
        category = self.random_uniform((batch,), 0, self.options.categories, dtype="int32")
        continuous = self.random_uniform((batch, 2), -1.0, 1.0)
        with tf.GradientTape() as tape:
            fake = self.generator([z, category, continuous], training=True)
            loss = tf.reduce_mean(tf.square(fake - tf.reduce_mean(images, axis=0)))
        self.apply_gradients("generator", tape, loss)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def input_specs(self):
        return [kinds.latent(self.options.latent_dim),
                kinds.code("category", "categorical", num_classes=self.options.categories),
                kinds.code("continuous", "uniform", dim=2)]

    def generate(self, z, category, continuous):
        return self.generator([z, category, continuous], training=False)
