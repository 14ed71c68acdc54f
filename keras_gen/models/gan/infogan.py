"""InfoGAN: Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016, "InfoGAN: Interpretable
Representation Learning by Information Maximizing Generative Adversarial Nets".

G takes noise z and a latent code c = (c_cat, c_cont): a categorical c_cat ~ Cat(K) and
continuous c_cont ~ U(-1, 1)^M. With no labels, the game alone would let G ignore c; InfoGAN
adds the mutual information I(c; G(z, c)), made tractable by a variational lower bound with an
auxiliary distribution Q(c | x) (section 5, lemma 5.1):

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c))
    min_{G, Q} max_D  V(D, G) - lambda L_I(G, Q)

Q shares D's convolutional trunk and adds a small head (FC 128 - LeakyReLU - FC; the paper's
costs nearly nothing). log Q(c | x) is a softmax cross-entropy for c_cat and, for c_cont, a
factored Gaussian with unit variance (the paper treats c_cont as factored Gaussian; a fixed
variance is the common, stabler choice), so with H(c) constant:

    L_info = CE(Q_cat(x), c_cat) + lambda_cont * 1/2 ||c_cont - Q_mu(x)||^2
    L_D = d_loss(D(x), D(G(z, c))) + lambda L_info        (trains D and Q: Q's head and D's trunk)
    L_G = g_loss(D(G(z, c)))       + lambda L_info        (trains G)

lambda = 1 (the paper's for discrete codes). On MNIST the paper uses one 10-way code, two
continuous codes and 62 noise dimensions, the defaults here. The codes are `code` inputs of the
export: drawn from the seed unless a request gives them. `code_traversal` (keras_gen.pictures)
draws the paper's figure 2: one row per category, a continuous code varied over [-2, 2]; the
run writes it as RUN/code_traversal.png.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.models.base import option
from keras_gen.models.gan.latent_gan import LatentGAN
from keras_gen.models.gan.dcgan import _check_image_size, _init, discriminator_trunk, generator_body


@keras.saving.register_keras_serializable(package="keras_gen")
class InfoGAN(LatentGAN):
    """DCGAN's networks; G takes (z, category, continuous), D has a Q head on its trunk."""

    @dataclass
    class Options(LatentGAN.Options):
        latent_dim: int = option(62, "noise z size (the paper's MNIST 62)", min=1)
        base_filters: int = option(64, "DCGAN's width at the largest feature map", min=1)
        categories: int = option(10, "values of the categorical code (the paper's MNIST 10)", min=2, max=1000)
        continuous_codes: int = option(2, "continuous codes U(-1, 1) (the paper's MNIST 2)", min=1, max=64)
        info_weight: float = option(1.0, "lambda of the information term (the paper's 1 for discrete codes)", min=0.0)
        continuous_weight: float = option(1.0, "lambda_cont: weight of the continuous codes' Gaussian term inside "
                                               "L_info", min=0.0)
        q_units: int = option(128, "width of Q's hidden layer (the paper's 128)", min=1)

    harness_options = {"latent_dim": 8, "base_filters": 4, "categories": 3, "continuous_codes": 2, "q_units": 8}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.info_loss_tracker = keras.metrics.Mean(name="info_loss")
        self.category_accuracy_tracker = keras.metrics.Mean(name="q_category_accuracy")  # Q recovers c_cat
        self.extra_trackers += [self.info_loss_tracker, self.category_accuracy_tracker]

    def build_networks(self):
        o = self.options
        _check_image_size(self.image_size)
        z = keras.Input((o.latent_dim,), name="z")
        category = keras.Input((), dtype="int32", name="category")
        continuous = keras.Input((o.continuous_codes,), name="continuous")
        # An embedding of K is a one-hot code times a learned matrix, which G's first layer applies anyway.
        code_vector = layers.Embedding(o.categories, o.categories, name="category_embedding")(category)
        x = layers.Concatenate()([z, code_vector, continuous])
        generator = keras.Model([z, category, continuous], generator_body(x, self.image_size, self.channels,
                                                                          o.base_filters), name="generator")

        inputs, features = discriminator_trunk(self.image_size, self.channels, o.base_filters, wrap=self.d_layer)
        source = self.d_layer(layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init()))(features)  # (B, 1, 1, 1)
        hidden = layers.LeakyReLU(0.2)(layers.Dense(o.q_units)(layers.Flatten()(features)))  # Q's head
        discriminator = keras.Model(inputs[0], [
            layers.Flatten(dtype="float32", name="logits")(source),
            layers.Dense(o.categories, dtype="float32", name="category_logits")(hidden),
            layers.Dense(o.continuous_codes, dtype="float32", name="continuous_mean")(hidden),
        ], name="discriminator")
        return generator, discriminator

    # -- training ------------------------------------------------------------------------------
    def draw_codes(self, batch):
        """(c_cat (batch,) int32 ~ Cat(K), c_cont (batch, M) ~ U(-1, 1))."""
        o = self.options
        return (self.random_uniform((batch,), 0, o.categories, dtype="int32"),
                self.random_uniform((batch, o.continuous_codes), -1.0, 1.0))

    def information_loss(self, q_outputs, codes):
        """-E[log Q(c | G(z, c))] up to constants: the negative of L_I's lower bound minus H(c)."""
        (category_logits, continuous_mean), (category, continuous) = q_outputs, codes
        categorical = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(category, category_logits,
                                                                                  from_logits=True))
        gaussian = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(continuous - continuous_mean), axis=-1))
        return categorical + self.options.continuous_weight * gaussian

    def train_step(self, data):
        """D and Q's update on the game + lambda L_info (Q is fitted on fakes only: reals have no
        code), then G's update on its turn, on the game + lambda L_info."""
        real = data[0] if isinstance(data, (tuple, list)) else data  # unsupervised: labels are not used
        batch, game, weight = tf.shape(real)[0], self.game, self.options.info_weight

        def critic(images):  # the real/fake head, for the penalties
            return self.discriminator(images, training=True)[0]

        z, codes = self.draw_latents(batch), self.draw_codes(batch)
        with tf.GradientTape() as tape:
            fake = self.generator([z, *codes], training=True)
            real_seen, fake_seen = game.augment(real), game.augment(fake)
            real_logits, *_ = self.discriminator(real_seen, training=True)
            fake_logits, *fake_q = self.discriminator(fake_seen, training=True)
            info = self.information_loss(fake_q, codes)
            d_loss = game.discriminator_loss(real_logits, fake_logits) + weight * info
            d_loss += game.penalty(critic, real_seen, fake_seen)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)
        self.info_loss_tracker.update_state(info)
        correct = tf.equal(tf.argmax(fake_q[0], axis=-1, output_type=tf.int32), codes[0])
        self.category_accuracy_tracker.update_state(tf.reduce_mean(tf.cast(correct, tf.float32)))

        def generator_step():
            z, codes = self.draw_latents(batch), self.draw_codes(batch)
            with tf.GradientTape() as tape:
                fake_logits, *fake_q = self.discriminator(game.augment(self.generator([z, *codes], training=True)),
                                                          training=True)
                g_loss = game.generator_loss(fake_logits) + weight * self.information_loss(fake_q, codes)
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            return g_loss

        game.generator_turn(generator_step)
        return self.track_discriminator(d_loss, real_logits, fake_logits)

    # -- sampling: G of z and the codes ---------------------------------------------------------
    def generator_specs(self):
        o = self.options
        return [kinds.latent(o.latent_dim), kinds.code("category", "categorical", num_classes=o.categories),
                kinds.code("continuous", "uniform", dim=o.continuous_codes)]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate_images(self, z, category, continuous):
        """z (B, latent_dim), category (B,) in [0, K), continuous (B, M) -> images (B, S, S, C) in [-1, 1]."""
        return self.generator([z, category, continuous], training=False)
