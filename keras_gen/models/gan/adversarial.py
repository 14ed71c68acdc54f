"""The adversarial loop every GAN of this family stands on, so that a variant is its networks and
its losses (Goodfellow et al. 2014 and what followed):

    each train_step, on one real batch x (B, H, W, C) and fresh z ~ N(0, I):
        D step   L_D = d_loss(D(T(x)), D(T(G(z))))  + lambda_GP GP + gamma/2 R1,  then clip D's weights if asked
        G step   L_G = g_loss(D(T(G(z'))))          on every n_critic-th D step (WGAN's algorithm 1)

with the game's losses from keras_gen/losses/adversarial.py and T the differentiable augmentation
of keras_gen/layers/augment.py (identity when off). Its options: the game (`loss`), `n_critic`,
the critic's regularisers (`gradient_penalty`, `r1_gamma`, `clip_value`, `spectral_norm`), the
augmentation (`augment`, and ADA's `ada_target`), and `ema` (the base class keeps the moving
average of the weights in the optimizers; sampling, the run's pictures and exports use it).

A variant subclasses `AdversarialGAN`, adds its options, and writes `build_networks()` (and
`default_optimizers()` where the paper uses another optimizer). A class-conditional one overrides
`split_batch` and `conditioned`. Each train_step is one D update: with n_critic = k, G is updated
after every k-th, so the D optimizer counts k updates for each of G's, every real batch is seen
by D exactly once, and an epoch of S steps makes S D and S / k G updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen import inputs as kinds, latents
from keras_gen.errors import KerasGenError
from keras_gen.layers.augment import AUGMENT_CHOICES, ada_update, diff_augment
from keras_gen.losses.adversarial import (ADVERSARIAL_LOSSES, PROBABILITY_LOSSES, clip_weights, discriminator_loss,
                                          generator_loss, gradient_penalty, r1_penalty)
from keras_gen.models.base import GenerativeModel, ModelOptions, option

TRUNCATION = "truncation"  # the option every GAN's sampling request takes (`--truncation` of `sample`)


class AdversarialGAN(GenerativeModel):
    """A generator `self.generator` and a discriminator `self.discriminator`, trained alternately
    with one optimizer each. Not registered: variants are."""

    @dataclass
    class Options(ModelOptions):
        latent_dim: int = option(100, "z size (DCGAN's)", min=1)
        loss: str = option("non_saturating", "the game: non_saturating, minimax (Goodfellow et al. 2014), wasserstein "
                           "(Arjovsky et al. 2017), hinge (Miyato et al. 2018), least_squares (Mao et al. 2017)",
                           choices=ADVERSARIAL_LOSSES)
        label_smoothing: float = option(0.0, "one-sided: real target 1 - s (Salimans et al. 2016; 0.1 is usual); "
                                             "non_saturating and minimax only", min=0.0, max=0.99)
        learning_rate: float = option(2e-4, "Adam's rate, for both networks (DCGAN's)", min=0.0, min_exclusive=True)
        beta_1: float = option(0.5, "Adam's beta_1; 0.9 made DCGAN training oscillate", min=0.0, max=0.999)
        beta_2: float = option(0.999, "Adam's beta_2", min=0.0, max=0.9999)
        n_critic: int = option(1, "D updates per G update (WGAN: 5); each D update takes its own real batch",
                               min=1, max=100)
        gradient_penalty: float = option(0.0, "lambda of the WGAN-GP penalty (Gulrajani et al. 2017: 10); 0 is off",
                                         min=0.0)
        r1_gamma: float = option(0.0, "gamma of the R1 penalty on reals (Mescheder et al. 2018; 0.1-10); 0 is off",
                                 min=0.0)
        clip_value: float = option(0.0, "clip D's weights to [-c, c] after each update (WGAN: 0.01); 0 is off",
                                   min=0.0)
        spectral_norm: bool = option(False, "spectral normalisation of D's layers (Miyato et al. 2018)")
        augment: str = option("none", "DiffAugment policies applied to real and fake before D (Zhao et al. 2020)",
                              choices=AUGMENT_CHOICES)
        ada_target: float = option(0.0, "ADA (Karras et al. 2020): apply augment with a probability p tuned so "
                                        "that E[sign D(real)] stays at this target (0.6 is the paper's); 0 is off: "
                                        "p = 1", min=0.0, max=1.0)
        ada_interval: int = option(4, "D steps between two ADA adjustments of p (the paper's 4)", min=1)
        ada_images: int = option(20000, "real images over which p can go from 0 to 1 (the paper: 500k, for "
                                        "runs of millions of images; small CPU runs need faster)", min=1)

    data_kind = "images"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        if o.ada_target and o.augment == "none":
            raise KerasGenError("ada_target tunes how often the augmentation applies: also pass an augment policy, "
                                "e.g. --set augment=color,translation,cutout.")
        if o.label_smoothing and o.loss not in PROBABILITY_LOSSES:
            raise KerasGenError(f"label_smoothing is for the non_saturating and minimax games, not loss={o.loss}.")
        self.generator, self.discriminator = self.build_networks()
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Mean D(x) and D(G(z)) in the D step: probabilities for the BCE games (d_real -> 1 and
        # d_fake -> 0 is a D that has won, which the run warns about), raw scores otherwise.
        scores = ("d_real", "d_fake") if o.loss in PROBABILITY_LOSSES else ("critic_real", "critic_fake")
        self.real_score_tracker = keras.metrics.Mean(name=scores[0])
        self.fake_score_tracker = keras.metrics.Mean(name=scores[1])
        self.extra_trackers = []
        if o.ada_target:
            # p lives in the model's variables, so checkpoints carry it and resume is exact.
            self.augment_p = self.add_weight(shape=(), initializer="zeros", trainable=False, name="augment_p")
            self.ada_sign_sum = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ada_sign_sum")
            self.ada_count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ada_count")
            self.extra_trackers += [keras.metrics.Mean(name="augment_p"), keras.metrics.Mean(name="ada_r_t")]
        self.built = True  # both sub-networks are built above; nothing is created lazily

    # -- what a variant writes -------------------------------------------------------------
    def build_networks(self) -> tuple[keras.Model, keras.Model]:
        """(generator, discriminator), built from self.options; the discriminator wraps its layers
        in keras.layers.SpectralNormalization when `spectral_norm` is on (see `d_layer`)."""
        raise NotImplementedError(f"{type(self).__name__} does not define build_networks()")

    def d_layer(self, layer):
        """A discriminator layer, spectrally normalised when the option is on."""
        return keras.layers.SpectralNormalization(layer) if self.options.spectral_norm else layer

    def default_optimizers(self):
        o = self.options
        return {"generator": keras.optimizers.Adam(o.learning_rate, beta_1=o.beta_1, beta_2=o.beta_2),
                "discriminator": keras.optimizers.Adam(o.learning_rate, beta_1=o.beta_1, beta_2=o.beta_2)}

    # Conditioning hooks: unconditional models ignore labels; a conditional variant overrides both.
    def split_batch(self, data):
        """(images, labels or None) from what the data kind yields."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def conditioned(self, x, labels):
        """A network's input: x alone, or [x, labels] for a class-conditional model."""
        return x

    # Heads beside D's real/fake output (AC-GAN's classifier, InfoGAN's Q): a variant whose G
    # draws its own conditions or whose D has more outputs overrides these four.
    def generator_input(self, batch, labels):
        """(G's input, what it was drawn with): z ~ N(0, I) and the batch's labels by default;
        AC-GAN draws the classes, InfoGAN the codes. z is drawn first (the recorded runs' order)."""
        z = self.random_normal((batch, self.options.latent_dim))
        return self.conditioned(z, labels), labels

    def split_discriminator_output(self, outputs):
        """(real/fake logits (B, 1), the auxiliary heads' outputs or None)."""
        return outputs, None

    def auxiliary_loss(self, real_aux, fake_aux, labels, given):
        """Added to D's loss: AC-GAN's class log-likelihood, InfoGAN's information term; 0 by default."""
        return 0.0

    def generator_auxiliary_loss(self, fake_aux, given):
        """Added to G's loss; 0 by default."""
        return 0.0

    def discriminate(self, images, labels):
        """(logits, auxiliary outputs) of D on what it sees, in training mode."""
        return self.split_discriminator_output(self.discriminator(self.conditioned(images, labels), training=True))

    # -- the loop --------------------------------------------------------------------------
    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker,
                *self.extra_trackers]

    def augment(self, images):
        """T(images) before D: identity when `augment` is none; a fresh draw per call."""
        o = self.options
        if o.augment == "none":
            return images
        return diff_augment(images, self._replica_seed(), o.augment, self.augment_p if o.ada_target else None)

    def critic_regulariser(self, real, fake, labels):
        """lambda_GP * GP + gamma / 2 * R1 on what D sees (the augmented images); 0 when both off."""
        o = self.options
        batch = tf.shape(real)[0]
        critic = lambda x: self.discriminate(x, labels)[0]  # noqa: E731
        penalty = 0.0
        if o.gradient_penalty:
            epsilon = self.random_uniform((batch,))
            penalty += o.gradient_penalty * gradient_penalty(critic, real, fake, epsilon)
        if o.r1_gamma:
            penalty += 0.5 * o.r1_gamma * r1_penalty(critic, real)
        return penalty

    def discriminator_step(self, real, labels):
        o = self.options
        g_input, given = self.generator_input(tf.shape(real)[0], labels)
        with tf.GradientTape() as tape:
            fake = self.generator(g_input, training=True)
            real_seen, fake_seen = self.augment(real), self.augment(fake)
            real_logits, real_aux = self.discriminate(real_seen, labels)
            fake_logits, fake_aux = self.discriminate(fake_seen, labels)
            d_loss = discriminator_loss(real_logits, fake_logits, o.label_smoothing, o.loss)
            if real_aux is not None:
                d_loss = d_loss + self.auxiliary_loss(real_aux, fake_aux, labels, given)
            if o.gradient_penalty or o.r1_gamma:
                d_loss = d_loss + self.critic_regulariser(real_seen, fake_seen, labels)
            scaled = self.scale_loss(d_loss)
        self.apply_gradients("discriminator", tape, scaled)
        if o.clip_value:
            clip_weights(self.discriminator.trainable_variables, o.clip_value)
        return d_loss, real_logits, fake_logits

    def generator_step(self, batch, labels):
        o = self.options
        g_input, given = self.generator_input(batch, labels)
        with tf.GradientTape() as tape:
            fake = self.generator(g_input, training=True)
            fake_logits, fake_aux = self.discriminate(self.augment(fake), labels)
            g_loss = generator_loss(fake_logits, o.loss)
            if fake_aux is not None:
                g_loss = g_loss + self.generator_auxiliary_loss(fake_aux, given)
            scaled = self.scale_loss(g_loss)
        self.apply_gradients("generator", tape, scaled)
        self.g_loss_tracker.update_state(g_loss)
        return g_loss

    def adapt_augmentation(self, real_logits):
        """ADA: accumulate sign(D(x)) and, every `ada_interval` D steps, move p (layers/augment.py)."""
        o = self.options
        self.ada_sign_sum.assign_add(tf.reduce_sum(tf.sign(tf.cast(real_logits, tf.float32))))
        self.ada_count.assign_add(tf.cast(tf.size(real_logits), tf.float32))
        r_t = self.ada_sign_sum / tf.maximum(self.ada_count, 1.0)
        due = self.optimizers["discriminator"].iterations % o.ada_interval == 0
        self.augment_p.assign(tf.where(due, ada_update(self.augment_p, r_t, o.ada_target, self.ada_count,
                                                       float(o.ada_images)), self.augment_p))
        self.ada_sign_sum.assign(tf.where(due, 0.0, self.ada_sign_sum))
        self.ada_count.assign(tf.where(due, 0.0, self.ada_count))
        self.extra_trackers[0].update_state(self.augment_p)
        self.extra_trackers[1].update_state(r_t)

    def train_step(self, data):
        real, labels = self.split_batch(data)
        o = self.options
        d_loss, real_logits, fake_logits = self.discriminator_step(real, labels)
        if o.ada_target:
            self.adapt_augmentation(real_logits)
        batch = tf.shape(real)[0]
        if o.n_critic == 1:
            self.generator_step(batch, labels)
        else:  # G after every n_critic-th D update, counted by D's optimizer (saved: resume is exact)
            due = self.optimizers["discriminator"].iterations % o.n_critic == 0
            tf.cond(due, lambda: self.generator_step(batch, labels), lambda: tf.constant(0.0))

        self.d_loss_tracker.update_state(d_loss)
        if o.loss in PROBABILITY_LOSSES:
            real_logits, fake_logits = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)
        self.real_score_tracker.update_state(tf.reduce_mean(real_logits))
        self.fake_score_tracker.update_state(tf.reduce_mean(fake_logits))
        return {m.name: m.result() for m in self.metrics}

    # -- sampling: one generator call ------------------------------------------------------
    # Every GAN's request ends with the truncation option: a variant declares what G takes
    # (`generator_specs`) and how (`generate_images`); truncation is applied here, once.
    def input_specs(self):
        return [*self.generator_specs(), kinds.option(
            TRUNCATION, 1.0, *latents.TRUNCATION_RANGE, "float32",
            "truncation psi: z scaled toward the prior's mean, z' = psi z (StyleGAN's trick); 1 is off")]

    def generator_specs(self):
        """What G takes, as a request's inputs (keras_gen.inputs): z alone by default."""
        return [kinds.latent(self.options.latent_dim)]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate(self, z, *conditions, truncation=1.0, **named):
        """Latents (B, latent_dim), G's other inputs, and the truncation psi (keras_gen.latents.truncate)
        -> images (B, S, S, C) in [-1, 1], inference mode."""
        return self.generate_images(latents.truncate(z, truncation), *conditions, **named)

    def generate_images(self, z):
        """G at latents z (already truncated) -> images (B, S, S, C) in [-1, 1], inference mode."""
        return self.generator(z, training=False)
