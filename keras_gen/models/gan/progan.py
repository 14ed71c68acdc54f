"""ProGAN: Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation".

G and D grow together from 4 x 4 to the full resolution S = 4 * 2^(K-1), one doubling per stage
(section 3, figure 1). A new stage s fades in smoothly (figure 2): over P real images alpha goes
from 0 to 1 and

    G's image   x = alpha * toRGB_s(block_s(h)) + (1 - alpha) * up(toRGB_{s-1}(h))
    D's input   h = alpha * block_s(fromRGB_s(x)) + (1 - alpha) * fromRGB_{s-1}(down(x))
    reals       x_r = alpha * x_r + (1 - alpha) * up(down(x_r))          (at the stage's resolution)

then the stage trains stable for P more. With the paper's other ingredients (layers/progan_blocks.py):
minibatch standard deviation before D's last block (section 3), equalised learning rate
w_hat = w * sqrt(2 / fan_in) at run time (4.1), pixel norm after each of G's convolutions (4.2),
and the WGAN-GP game with the drift term (appendix A.1):

    L_D = E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x^)||_2 - 1)^2] + eps_drift E[D(x)^2]
    L_G = -E[D(G(z))],     lambda = 10, eps_drift = 0.001, Adam(1e-3, beta_1 = 0, beta_2 = 0.99).

The graph is static: every stage's blocks are built up front and both networks take a level of
detail lod = K - stage - alpha (K - 1: 4 x 4 only; 0: fully grown) and blend with tensor ops (the
official code's "linear" structure), so growing never retraces a step and export is one graph. G
always outputs S x S: a stage below the last is upsampled (nearest) to S, and so are D's reals
(pixelated to the stage's resolution). The growth state (images seen, stage, alpha) is three
variables of the model, saved in every checkpoint: resuming inside a fade-in is exact. The exported
generator uses the state where training stopped: a run stopped early exports its current
resolution, upsampled to S. Unlike the official code, Adam's moments are not reset per stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen.errors import KerasGenError
from keras_gen.layers.equalized import EqualizedConv2D, EqualizedDense, MinibatchStdDev, PixelNorm
from keras_gen.layers.progan_blocks import LodBlend, growth_state, lod_of, reals_at_lod
from keras_gen.losses.adversarial import ADVERSARIAL_LOSSES
from keras_gen.models.base import option, options_without
from keras_gen.models.gan.latent_gan import LatentGAN

MIN_SIZE, MAX_SIZE = 8, 256


def _act(x):
    return layers.LeakyReLU(0.2)(x)


def build_generator(latent_dim: int, stages: int, channels: int, width) -> keras.Model:
    """[z (B, latent_dim), lod (B, 1)] -> images (B, S, S, C), S = 4 * 2^(stages - 1), linear output."""
    z, lod = keras.Input((latent_dim,), name="z"), keras.Input((1,), name="lod")
    x = EqualizedDense(4 * 4 * width(0), gain=math.sqrt(2) / 4)(PixelNorm()(z))  # the paper's 4x4 conv on 1x1 z
    x = PixelNorm()(_act(layers.Reshape((4, 4, width(0)))(x)))
    x = PixelNorm()(_act(EqualizedConv2D(width(0), 3)(x)))  # (B, 4, 4, F_0)
    images = EqualizedConv2D(channels, 1, gain=1.0, name="to_rgb_0")(x)
    for s in range(1, stages):
        x = layers.UpSampling2D(2)(x)
        for _ in range(2):
            x = PixelNorm()(_act(EqualizedConv2D(width(s), 3)(x)))  # (B, 4 * 2^s, 4 * 2^s, F_s)
        finer = EqualizedConv2D(channels, 1, gain=1.0, name=f"to_rgb_{s}")(x)
        images = LodBlend(stages - 1 - s, name=f"fade_in_{s}")([finer, layers.UpSampling2D(2)(images), lod])
    return keras.Model([z, lod], layers.Activation("linear", dtype="float32", name="images")(images),
                       name="generator")


def build_discriminator(stages: int, channels: int, width) -> keras.Model:
    """[images (B, S, S, C), lod (B, 1)] -> critic scores (B, 1)."""
    size = 4 * 2 ** (stages - 1)
    images, lod = keras.Input((size, size, channels), name="images"), keras.Input((1,), name="lod")
    x = _act(EqualizedConv2D(width(stages - 1), 1, name=f"from_rgb_{stages - 1}")(images))
    downsampled = images
    for s in range(stages - 1, 0, -1):
        x = _act(EqualizedConv2D(width(s), 3)(x))
        x = layers.AveragePooling2D(2)(_act(EqualizedConv2D(width(s - 1), 3)(x)))  # (B, 4 * 2^(s-1), ..., F_{s-1})
        downsampled = layers.AveragePooling2D(2)(downsampled)
        coarser = _act(EqualizedConv2D(width(s - 1), 1, name=f"from_rgb_{s - 1}")(downsampled))
        x = LodBlend(stages - 1 - s, name=f"fade_in_{s}")([x, coarser, lod])
    x = _act(EqualizedConv2D(width(0), 3)(MinibatchStdDev()(x)))  # (B, 4, 4, F_0)
    x = _act(EqualizedDense(width(0))(layers.Flatten()(x)))
    scores = EqualizedDense(1, gain=1.0, dtype="float32", name="scores")(x)
    return keras.Model([images, lod], scores, name="discriminator")


@keras.saving.register_keras_serializable(package="keras_gen")
class ProGAN(LatentGAN):
    """G and D with every stage built, both taking the level of detail beside their input."""

    @dataclass
    class Options(options_without(LatentGAN.Options, "spectral_norm")):  # the equalised lr keeps the scale
        latent_dim: int = option(128, "z size (the paper's 512; smaller for CPU runs)", min=1)
        filters: int = option(128, "width at 4x4 and 8x8, halved per further doubling, at least 8 (the paper's 512 "
                                   "up to 32x32)", min=1)
        phase_images: int = option(10000, "real images per fade-in and per stable phase (the paper's 800k; 32 px "
                                          "is grown after 6 phases: 60k images, 15 epochs of 64 x 64)", min=1)
        drift: float = option(0.001, "eps_drift: weight of E[D(x)^2] in D's loss, keeps critic scores near 0", min=0.0)
        loss: str = option("wasserstein", "the paper's game (WGAN-GP)", choices=ADVERSARIAL_LOSSES)
        gradient_penalty: float = option(10.0, "the paper's lambda", min=0.0)
        learning_rate: float = option(1e-3, "the paper's Adam rate (equalised learning rate allows it)", min=0.0,
                                      min_exclusive=True)
        beta_1: float = option(0.0, "the paper's", min=0.0, max=0.999)
        beta_2: float = option(0.99, "the paper's", min=0.0, max=0.9999)

    # 8 px: stages 4 and 8. The harness's runs see 4 x 8 images, resumed after 16: phase 0 is
    # images 0-11 (4x4), the 8x8 stage fades in over 12-23, so the resume falls inside the fade-in.
    harness_options = {"latent_dim": 8, "filters": 8, "phase_images": 12, "ema": 0.9}
    harness_image_size = 8
    retired_options = ("spectral_norm",)  # listed (and refused when on) before the game had its own options

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The growth state, in the model's variables so checkpoints carry it (resume is exact).
        self.images_seen = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False,
                                           name="images_seen")
        self.stage = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="stage")
        self.alpha = self.add_weight(shape=(), initializer="ones", trainable=False, name="alpha")
        self.lod_tracker = keras.metrics.Mean(name="lod")
        self.extra_trackers += [self.lod_tracker]

    @property
    def stages(self) -> int:
        return int(math.log2(self.image_size)) - 1  # 4 x 4 is stage 0

    def width(self, stage: int) -> int:
        """Channels of stage s: `filters` at 4x4 and 8x8, halved per further doubling, not below 8 (or `filters`)."""
        filters = self.options.filters
        return min(filters, max(8, filters // 2 ** max(stage - 1, 0)))

    def build_networks(self):
        size = self.image_size
        if size < MIN_SIZE or size > MAX_SIZE or size & (size - 1):
            raise KerasGenError(f"ProGAN grows from 4x4 by doublings: pass a power-of-two image size from {MIN_SIZE} "
                                f"to {MAX_SIZE}, e.g. --image-size 32; got {size}.")
        return (build_generator(self.options.latent_dim, self.stages, self.channels, self.width),
                build_discriminator(self.stages, self.channels, self.width))

    # -- growth ------------------------------------------------------------------------------
    def lod(self):
        """The current level of detail from the saved (stage, alpha): K - 1 at 4x4, 0 when grown."""
        return lod_of(self.stage, self.alpha, self.stages)

    def train_step(self, data):
        """At the current level of detail: D's update on the WGAN-GP game plus the drift term, G's on
        its turn; then the growth state moves on by the batch's images."""
        images = data[0] if isinstance(data, (tuple, list)) else data
        batch, game, o = tf.shape(images)[0], self.game, self.options
        lod = self.lod()
        self.lod_tracker.update_state(lod)
        real = reals_at_lod(images, lod, self.stages)
        lods = tf.fill([batch, 1], lod)  # both networks' second input

        def critic(x):
            return self.discriminator([x, lods], training=True)

        z = self.draw_latents(batch)
        with tf.GradientTape() as tape:
            fake = self.generator([z, lods], training=True)
            real_seen, fake_seen = game.augment(real), game.augment(fake)
            real_scores, fake_scores = critic(real_seen), critic(fake_seen)
            d_loss = game.discriminator_loss(real_scores, fake_scores)
            if o.drift:  # eps_drift E[D(x)^2] keeps the critic's scores near 0
                d_loss += o.drift * tf.reduce_mean(tf.square(real_scores))
            d_loss += game.penalty(critic, real_seen, fake_seen)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_scores)

        def generator_step():
            z = self.draw_latents(batch)
            with tf.GradientTape() as tape:
                g_loss = game.generator_loss(critic(game.augment(self.generator([z, lods], training=True))))
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            return g_loss

        game.generator_turn(generator_step)
        logs = self.track_discriminator(d_loss, real_scores, fake_scores)
        self.images_seen.assign_add(tf.cast(batch, tf.int64))
        stage, alpha = growth_state(self.images_seen, o.phase_images, self.stages)
        self.stage.assign(stage)
        self.alpha.assign(alpha)
        return logs

    # -- sampling: the generator at the state where training is ---------------------------------
    def generate_images(self, z):
        """z (B, latent_dim) -> (B, S, S, C) in [-1, 1] (clipped: G's output is linear) at the current lod."""
        z = tf.convert_to_tensor(z, tf.float32)
        lod = tf.fill([tf.shape(z)[0], 1], self.lod())
        return tf.clip_by_value(self.generator([z, lod], training=False), -1.0, 1.0)
