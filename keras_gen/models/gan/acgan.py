"""AC-GAN: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs".

G takes a class c ~ p(c) beside z; D does not take the class, but predicts it: one trunk, two
heads, P(S | X) (real or fake) and P(C | X) (the class). With

    L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]
    L_C = E[log P(C = c | X_real)]    + E[log P(C = c | X_fake)]

D maximises L_S + L_C and G maximises L_C - L_S (section 3). Here L_S is the game's (game.py;
non-saturating by default, as DCGAN), and each L_C term is a softmax cross-entropy weighted by
`class_weight`:

    L_D = d_loss(D_S(x), D_S(G(z, c))) + w (CE(D_C(x), y) + CE(D_C(G(z, c)), c))
    L_G = g_loss(D_S(G(z, c)))         + w CE(D_C(G(z, c)), c)

Classes for the fakes are drawn uniformly, as the paper samples c ~ p(c). The networks are
DCGAN's (dcgan.py): G concatenates a class embedding to z; D's trunk ends in two 4x4 valid
convolutions, the real/fake logit and the K class logits. Sampling takes the class like
cdcgan: `keras-gen sample RUN --label 7`; `keras-gen evaluate` scores the samples' per-class
accuracy with the domain classifier (label_accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.models.base import option
from keras_gen.models.gan.latent_gan import LatentGAN
from keras_gen.models.gan.dcgan import _check_image_size, _init, build_generator, discriminator_trunk


@keras.saving.register_keras_serializable(package="keras_gen")
class ACGAN(LatentGAN):
    """A class-conditional G and an unconditional D with a real/fake head and a class head."""

    @dataclass
    class Options(LatentGAN.Options):
        base_filters: int = option(64, "DCGAN's width at the largest feature map", min=1)
        embed_dim: int = option(50, "size of the class embedding concatenated to z (z is 100)", min=1)
        class_weight: float = option(1.0, "weight w of the class log-likelihood L_C in both losses (the paper's 1)",
                                     min=0.0)

    harness_options = {"latent_dim": 8, "base_filters": 4, "embed_dim": 4}

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is None:
            raise KerasGenError("acgan is class-conditional: it needs labelled data (digits, shapes, photos, textures, "
                                "a labelled TFDS set, or a folder with one subfolder per class).")
        super().__init__(**kwargs)
        self.class_loss_tracker = keras.metrics.Mean(name="class_loss")
        self.real_accuracy_tracker = keras.metrics.Mean(name="real_class_accuracy")  # D's accuracy on real images
        self.extra_trackers += [self.class_loss_tracker, self.real_accuracy_tracker]

    def build_networks(self):
        o = self.options
        _check_image_size(self.image_size)
        generator = build_generator(o.latent_dim, self.image_size, self.channels, o.base_filters,
                                    self.num_classes, o.embed_dim)
        inputs, features = discriminator_trunk(self.image_size, self.channels, o.base_filters, wrap=self.d_layer)
        source = self.d_layer(layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init()))(features)  # (B, 1, 1, 1)
        classes = self.d_layer(layers.Conv2D(self.num_classes, 4, 1, "valid", kernel_initializer=_init()))(features)
        discriminator = keras.Model(inputs[0], [layers.Flatten(dtype="float32", name="logits")(source),
                                                layers.Flatten(dtype="float32", name="class_logits")(classes)],
                                    name="discriminator")
        return generator, discriminator

    # -- training ------------------------------------------------------------------------------
    def draw_classes(self, batch):
        """c ~ p(c), uniform over the classes: (batch,) int32."""
        return self.random_uniform((batch,), 0, self.num_classes, dtype="int32")

    @staticmethod
    def class_loss(class_logits, classes):
        """-E[log P(C = c | X)]: softmax cross-entropy of D's class head."""
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(classes, class_logits, from_logits=True))

    def train_step(self, data):
        """D's update on L_S + w L_C (real images with their labels, fakes with their drawn classes),
        then G's update on its turn."""
        real, labels = data
        labels = tf.cast(labels, tf.int32)
        batch, game, w = tf.shape(real)[0], self.game, self.options.class_weight

        def critic(images):  # the real/fake head, for the penalties
            return self.discriminator(images, training=True)[0]

        z, classes = self.draw_latents(batch), self.draw_classes(batch)
        with tf.GradientTape() as tape:
            fake = self.generator([z, classes], training=True)
            real_seen, fake_seen = game.augment(real), game.augment(fake)
            real_logits, real_class_logits = self.discriminator(real_seen, training=True)
            fake_logits, fake_class_logits = self.discriminator(fake_seen, training=True)
            class_loss = self.class_loss(real_class_logits, labels) + self.class_loss(fake_class_logits, classes)
            d_loss = game.discriminator_loss(real_logits, fake_logits) + w * class_loss
            d_loss += game.penalty(critic, real_seen, fake_seen)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)
        self.class_loss_tracker.update_state(class_loss)
        correct = tf.equal(tf.argmax(real_class_logits, axis=-1, output_type=tf.int32), labels)
        self.real_accuracy_tracker.update_state(tf.reduce_mean(tf.cast(correct, tf.float32)))

        def generator_step():
            z, classes = self.draw_latents(batch), self.draw_classes(batch)
            with tf.GradientTape() as tape:
                fake_logits, fake_class_logits = self.discriminator(
                    game.augment(self.generator([z, classes], training=True)), training=True)
                g_loss = game.generator_loss(fake_logits) + w * self.class_loss(fake_class_logits, classes)
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            return g_loss

        game.generator_turn(generator_step)
        return self.track_discriminator(d_loss, real_logits, fake_logits)

    # -- sampling: G at a class ---------------------------------------------------------------
    def generator_specs(self):
        return [kinds.latent(self.options.latent_dim), kinds.label(self.num_classes)]

    def generate_images(self, z, label):
        """Latents (B, latent_dim) and classes (B,) -> images (B, S, S, C) in [-1, 1]."""
        return self.generator([z, label], training=False)
