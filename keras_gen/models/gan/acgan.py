"""AC-GAN: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs".

G takes a class c ~ p(c) beside z; D does not take the class, but predicts it: one trunk, two
heads, P(S | X) (real or fake) and P(C | X) (the class). With

    L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]
    L_C = E[log P(C = c | X_real)]    + E[log P(C = c | X_fake)]

D maximises L_S + L_C and G maximises L_C - L_S (section 3). Here L_S is the loop's game
(non-saturating by default, as DCGAN), and each L_C term is a softmax cross-entropy weighted by
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
from keras_gen.models.gan.adversarial import AdversarialGAN
from keras_gen.models.gan.dcgan import _check_image_size, _init, build_generator, discriminator_trunk
from keras_gen.registry import register


@register("acgan", "AC-GAN (Odena et al. 2017): D also classifies; samples a requested class",
          family="adversarial", paper="Odena, Olah & Shlens 2017")
@keras.saving.register_keras_serializable(package="keras_gen")
class ACGAN(AdversarialGAN):
    """A class-conditional G and an unconditional D with a real/fake head and a class head."""

    @dataclass
    class Options(AdversarialGAN.Options):
        base_filters: int = option(64, "DCGAN's width at the largest feature map", min=1)
        embed_dim: int = option(50, "size of the class embedding concatenated to z (z is 100)", min=1)
        class_weight: float = option(1.0, "weight w of the class log-likelihood L_C in both losses (the paper's 1)",
                                     min=0.0)

    data_kind = "labelled"
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

    # -- the loop's hooks: G draws its classes, D's second head classifies ------------------
    def split_batch(self, data):
        images, labels = data
        return images, tf.cast(labels, tf.int32)

    def generator_input(self, batch, labels):
        z = self.random_normal((batch, self.options.latent_dim))
        classes = self.random_uniform((batch,), 0, self.num_classes, dtype="int32")  # c ~ p(c), uniform
        return [z, classes], classes

    def discriminate(self, images, labels):
        return self.split_discriminator_output(self.discriminator(images, training=True))

    def split_discriminator_output(self, outputs):
        logits, class_logits = outputs
        return logits, class_logits

    def auxiliary_loss(self, real_class_logits, fake_class_logits, labels, fake_classes):
        real_ce = keras.losses.sparse_categorical_crossentropy(labels, real_class_logits, from_logits=True)
        fake_ce = keras.losses.sparse_categorical_crossentropy(fake_classes, fake_class_logits, from_logits=True)
        class_loss = tf.reduce_mean(real_ce) + tf.reduce_mean(fake_ce)
        self.class_loss_tracker.update_state(class_loss)
        correct = tf.equal(tf.argmax(real_class_logits, axis=-1, output_type=tf.int32), labels)
        self.real_accuracy_tracker.update_state(tf.reduce_mean(tf.cast(correct, tf.float32)))
        return self.options.class_weight * class_loss

    def generator_auxiliary_loss(self, fake_class_logits, fake_classes):
        ce = keras.losses.sparse_categorical_crossentropy(fake_classes, fake_class_logits, from_logits=True)
        return self.options.class_weight * tf.reduce_mean(ce)

    # -- sampling: G at a class ---------------------------------------------------------------
    def generator_specs(self):
        return [kinds.latent(self.options.latent_dim), kinds.label(self.num_classes)]

    def generate_images(self, z, label):
        """Latents (B, latent_dim) and classes (B,) -> images (B, S, S, C) in [-1, 1]."""
        return self.generator([z, label], training=False)
