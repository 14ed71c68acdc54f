"""A tiny pix2pix-style model (test-only), so the adversarial game runs in an image-to-image step
through the shared harness before the real pix2pix lands: paired data, a fully convolutional G,
a conditional D that sees the input beside the target (or G's output), the game's loss plus L1,
and augmentation on, applied to each (input, image) pair with one draw so the pair stays aligned.
It trains on non-square images (the harness runs it at 12 x 20) and takes any size at the edge.

    L_D = d_loss(D(T(a, b)), D(T(a, G(a))))            T: one draw for both images of a pair
    L_G = g_loss(D(T(a, G(a)))) + lambda |G(a) - b|_1
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.models.base import GenerativeModel, option
from keras_gen.models.gan.game import AdamOptions, AdversarialGame, GameOptions, adam_pair
from keras_gen.registry import register


@register("toy_pix2pix", family="test", data_kind="paired",
          summary="test-only: a paired translator trained by L1 and the adversarial game, any image size")
@keras.saving.register_keras_serializable(package="keras_gen_tests")
class ToyPix2Pix(GenerativeModel):
    @dataclass
    class Options(AdamOptions, GameOptions):
        filters: int = option(4, "width of both networks", min=1)
        l1_weight: float = option(100.0, "lambda of the L1 term (pix2pix's 100)", min=0.0)

    harness_options = {"filters": 4, "augment": "translation,cutout"}  # the game with augmentation on
    harness_image_size = (12, 20)
    square_only = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o, c = self.options, self.channels
        self.game = AdversarialGame(self)
        source = keras.Input((None, None, c), name="image")
        h = layers.Conv2D(o.filters, 3, padding="same", activation="relu")(source)
        self.generator = keras.Model(source, layers.Conv2D(c, 3, padding="same", activation="tanh",
                                                           name="images")(h), name="generator")
        pair = keras.Input((None, None, 2 * c), name="pair")  # (input, image) stacked on channels
        h = layers.LeakyReLU(0.2)(self.game.discriminator_layer(layers.Conv2D(o.filters, 3, 2, "same"))(pair))
        patches = self.game.discriminator_layer(layers.Conv2D(1, 3, padding="same"))(h)  # (B, H/2, W/2, 1)
        self.discriminator = keras.Model(pair, layers.Flatten(name="logits")(patches), name="discriminator")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.l1_tracker = keras.metrics.Mean(name="l1")
        self.built = True

    def default_optimizers(self):
        return adam_pair(self.options, "generator", "discriminator")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.l1_tracker, *self.game.metrics]

    def critic(self, source, image):
        return self.discriminator(tf.concat([source, image], axis=-1), training=True)

    def train_step(self, data):
        source, target = data
        game = self.game
        with tf.GradientTape() as tape:
            fake = self.generator(source, training=True)
            real_seen, fake_seen = game.augment(source, target), game.augment(source, fake)
            real_logits, fake_logits = self.critic(*real_seen), self.critic(*fake_seen)
            d_loss = game.discriminator_loss(real_logits, fake_logits)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)

        def generator_step():
            with tf.GradientTape() as tape:
                fake = self.generator(source, training=True)
                l1 = tf.reduce_mean(tf.abs(fake - target))
                g_loss = game.generator_loss(self.critic(*game.augment(source, fake))) + self.options.l1_weight * l1
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            self.l1_tracker.update_state(l1)
            return g_loss

        game.generator_turn(generator_step)
        self.d_loss_tracker.update_state(d_loss)
        return {m.name: m.result() for m in self.metrics}

    def input_specs(self):
        return [kinds.image((None, None, self.channels), name="image")]

    def generate(self, image):
        return self.generator(image, training=False)

    def translate(self, images_a):
        return self.generate(images_a)
