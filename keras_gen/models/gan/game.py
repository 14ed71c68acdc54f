"""The adversarial game as a component: what every GAN's `train_step` calls, so the step itself
reads top to bottom (keras-io's DCGAN and CycleGAN examples) while the game's options stay in one
place (Goodfellow et al. 2014 and what followed):

    D step   L_D = d_loss(D(T(x)), D(T(G(z)))) + lambda_GP GP + gamma/2 R1,  then clip D's weights if asked
    G step   L_G = g_loss(D(T(G(z'))))           on every n_critic-th D step (WGAN's algorithm 1)

with the losses of keras_gen/losses/adversarial.py and T the differentiable augmentation of
keras_gen/layers/augment.py (identity when off; ADA tunes how often it applies). A step reads:

    z = self.random_normal((batch, latent_dim))
    with tf.GradientTape() as tape:
        fake = self.generator(z, training=True)
        real_seen, fake_seen = game.augment(real), game.augment(fake)
        critic = lambda x: self.discriminator(x, training=True)
        real_logits, fake_logits = critic(real_seen), critic(fake_seen)
        d_loss = game.discriminator_loss(real_logits, fake_logits) + game.penalty(critic, real_seen, fake_seen)
    self.apply_gradients("discriminator", tape, d_loss)
    game.discriminator_updated(real_logits)          # weight clipping, ADA's controller
    game.generator_turn(generator_step)              # G's update, on its n_critic schedule

`game.augment(x, *pairs)` applies one draw of the transform to every image it is given, so an
image and what is paired with it (pix2pix's input and target) move together. A model with two
discriminators (CycleGAN) makes two games, each with its own name, optimizer and ADA state.

The game's options are `GameOptions`, which a model's Options extend. Every draw comes from
the model's seeded, per-replica noise (`GenerativeModel._replica_seed`), and ADA's probability is a
variable of the model, so checkpoints carry it and resume is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen.errors import KerasGenError
from keras_gen.layers.augment import AUGMENT_CHOICES, ada_update, diff_augment
from keras_gen.losses.adversarial import (ADVERSARIAL_LOSSES, PROBABILITY_LOSSES, clip_weights, discriminator_loss,
                                          generator_loss, gradient_penalty, r1_penalty)
from keras_gen.models.base import ModelOptions, option


@dataclass
class GameOptions(ModelOptions):
    """The game's options: every adversarial model has them."""

    loss: str = option("non_saturating", "the game: non_saturating, minimax (Goodfellow et al. 2014), wasserstein "
                       "(Arjovsky et al. 2017), hinge (Miyato et al. 2018), least_squares (Mao et al. 2017)",
                       choices=ADVERSARIAL_LOSSES)
    label_smoothing: float = option(0.0, "one-sided: real target 1 - s (Salimans et al. 2016; 0.1 is usual); "
                                         "non_saturating and minimax only", min=0.0, max=0.99)
    n_critic: int = option(1, "D updates per G update (WGAN: 5); each D update takes its own real batch",
                           min=1, max=100)
    gradient_penalty: float = option(0.0, "lambda of the WGAN-GP penalty (Gulrajani et al. 2017: 10); 0 is off",
                                     min=0.0)
    r1_gamma: float = option(0.0, "gamma of the R1 penalty on reals (Mescheder et al. 2018; 0.1-10); 0 is off",
                             min=0.0)
    clip_value: float = option(0.0, "clip D's weights to [-c, c] after each update (WGAN: 0.01); 0 is off",
                               min=0.0)
    spectral_norm: bool = option(False, "spectral normalisation of D's layers (Miyato et al. 2018)")
    augment: str = option("none", "DiffAugment policies applied to what D sees, real and fake (Zhao et al. 2020)",
                          choices=AUGMENT_CHOICES)
    ada_target: float = option(0.0, "ADA (Karras et al. 2020): apply augment with a probability p tuned so "
                                    "that E[sign D(real)] stays at this target (0.6 is the paper's); 0 is off: "
                                    "p = 1", min=0.0, max=1.0)
    ada_interval: int = option(4, "D steps between two ADA adjustments of p (the paper's 4)", min=1)
    ada_images: int = option(20000, "real images over which p can go from 0 to 1 (the paper: 500k, for "
                                    "runs of millions of images; small CPU runs need faster)", min=1)


@dataclass
class AdamOptions:
    """Adam for both players (DCGAN's settings), for the models that train with it."""

    learning_rate: float = option(2e-4, "Adam's rate, for both networks (DCGAN's)", min=0.0, min_exclusive=True)
    beta_1: float = option(0.5, "Adam's beta_1; 0.9 made DCGAN training oscillate", min=0.0, max=0.999)
    beta_2: float = option(0.999, "Adam's beta_2", min=0.0, max=0.9999)


def adam_pair(options: AdamOptions, *names: str) -> dict:
    """{name: Adam(learning_rate, beta_1, beta_2)} for each player, in the order given (a
    checkpoint keeps optimizers by position: the order is part of its layout)."""
    return {name: keras.optimizers.Adam(options.learning_rate, beta_1=options.beta_1, beta_2=options.beta_2)
            for name in names}


class AdversarialGame:
    """One discriminator's game on `model`, configured by `model.options` (GameOptions).

    `discriminator` names the optimizer (and sub-network) of the discriminator whose updates the
    game counts: n_critic's schedule and ADA's interval follow its `iterations`. `name` prefixes
    ADA's variables and trackers, so two games of one model (CycleGAN's) keep their own."""

    def __init__(self, model, discriminator: str = "discriminator", name: str = ""):
        o = model.options
        if o.ada_target and o.augment == "none":
            raise KerasGenError("ada_target tunes how often the augmentation applies: also pass an augment policy, "
                                "e.g. --set augment=color,translation,cutout.")
        if o.label_smoothing and o.loss not in PROBABILITY_LOSSES:
            raise KerasGenError(f"label_smoothing is for the non_saturating and minimax games, not loss={o.loss}.")
        self.model, self.options, self.discriminator, self.name = model, o, discriminator, name
        # Mean D(x) and D(G(z)): probabilities for the BCE games (d_real -> 1 and d_fake -> 0 is a D
        # that has won, which the run warns about), raw critic scores otherwise.
        self.score_names = tuple(f"{name}{n}" for n in (("d_real", "d_fake") if o.loss in PROBABILITY_LOSSES
                                                        else ("critic_real", "critic_fake")))
        self.metrics = []
        if o.ada_target:
            # p lives in the model's variables, so checkpoints carry it and resume is exact.
            self.augment_p = model.add_weight(shape=(), initializer="zeros", trainable=False, name=f"{name}augment_p")
            self.ada_sign_sum = model.add_weight(shape=(), initializer="zeros", trainable=False,
                                                 name=f"{name}ada_sign_sum")
            self.ada_count = model.add_weight(shape=(), initializer="zeros", trainable=False, name=f"{name}ada_count")
            self.metrics = [keras.metrics.Mean(name=f"{name}augment_p"), keras.metrics.Mean(name=f"{name}ada_r_t")]

    # -- D's layers --------------------------------------------------------------------------
    def discriminator_layer(self, layer):
        """A layer of D, spectrally normalised when the option is on."""
        return keras.layers.SpectralNormalization(layer) if self.options.spectral_norm else layer

    # -- what D sees -------------------------------------------------------------------------
    def augment(self, images, *paired):
        """T(images), and T(p) for each paired batch p (an input and its target, an image and its
        condition): one draw of the transforms for all of them, so pairs stay aligned. Identity
        when `augment` is none; a fresh draw per call (real and fake are augmented by two calls).
        Returns one tensor, or a list when pairs are given."""
        o = self.options
        if o.augment == "none":
            return [images, *paired] if paired else images
        seed, p = self.model._replica_seed(), self.augment_p if o.ada_target else None
        seen = [diff_augment(x, seed, o.augment, p) for x in (images, *paired)]
        return seen if paired else seen[0]

    # -- the losses --------------------------------------------------------------------------
    def discriminator_loss(self, real_logits, fake_logits):
        o = self.options
        return discriminator_loss(real_logits, fake_logits, o.label_smoothing, o.loss)

    def generator_loss(self, fake_logits):
        return generator_loss(fake_logits, self.options.loss)

    def penalty(self, critic, real, fake):
        """lambda_GP GP + gamma/2 R1 of `critic` (images -> (B, 1) scores, in training mode) on
        what D saw; 0.0 when both are off. The gradient penalty's eps ~ U[0, 1] per sample."""
        o = self.options
        total = 0.0
        if o.gradient_penalty:
            epsilon = self.model.random_uniform((tf.shape(real)[0],))
            total += o.gradient_penalty * gradient_penalty(critic, real, fake, epsilon)
        if o.r1_gamma:
            total += 0.5 * o.r1_gamma * r1_penalty(critic, real)
        return total

    # -- after D's update --------------------------------------------------------------------
    def discriminator_updated(self, real_logits):
        """What follows each D update: WGAN's weight clipping, and ADA's controller fed with
        sign(D(x)) of the real batch."""
        o = self.options
        if o.clip_value:
            clip_weights(self.model.variables_for(self.discriminator), o.clip_value)
        if o.ada_target:
            self.adapt_augmentation(real_logits)

    def adapt_augmentation(self, real_logits):
        """ADA: accumulate sign(D(x)) and, every `ada_interval` D steps, move p (layers/augment.py)."""
        o = self.options
        self.ada_sign_sum.assign_add(tf.reduce_sum(tf.sign(tf.cast(real_logits, tf.float32))))
        self.ada_count.assign_add(tf.cast(tf.size(real_logits), tf.float32))
        r_t = self.ada_sign_sum / tf.maximum(self.ada_count, 1.0)
        due = self.model.optimizers[self.discriminator].iterations % o.ada_interval == 0
        self.augment_p.assign(tf.where(due, ada_update(self.augment_p, r_t, o.ada_target, self.ada_count,
                                                       float(o.ada_images)), self.augment_p))
        self.ada_sign_sum.assign(tf.where(due, 0.0, self.ada_sign_sum))
        self.ada_count.assign(tf.where(due, 0.0, self.ada_count))
        self.metrics[0].update_state(self.augment_p)
        self.metrics[1].update_state(r_t)

    def generator_turn(self, generator_step):
        """Run `generator_step()` (G's update, returning its loss) on every n_critic-th D update,
        counted by D's optimizer (saved: resume is exact). With n_critic = 1, every step."""
        n_critic = self.options.n_critic
        if n_critic == 1:
            return generator_step()
        due = self.model.optimizers[self.discriminator].iterations % n_critic == 0
        return tf.cond(due, generator_step, lambda: tf.constant(0.0))

    def scores(self, real_logits, fake_logits):
        """(mean D(x), mean D(G(z))) for the trackers named `score_names`: probabilities for the
        BCE games, raw scores for the others."""
        if self.options.loss in PROBABILITY_LOSSES:
            real_logits, fake_logits = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)
        return tf.reduce_mean(real_logits), tf.reduce_mean(fake_logits)
