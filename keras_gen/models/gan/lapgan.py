"""LAPGAN: Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a Laplacian
Pyramid of Adversarial Networks".

An image is generated coarse to fine down a Laplacian pyramid (layers/laplacian_pyramid.py; d
blurs and halves, u doubles and blurs), one conditional GAN per level k = 0 .. K-1:

    sampling     I~_0 = G_0(z_0)                                   (the coarsest image, from noise)
                 I~_k = u(I~_{k-1}) + G_k(z_k, u(I~_{k-1}))         (a band-pass residual h~_k, eq. 2)
    training     on a real image I, with I_{K-1} = I and I_{k-1} = d(I_k), level k sees
                 l_k = u(I_{k-1}) and the real band h_k = I_k - l_k; its game (eq. 3) is

                 min_{G_k} max_{D_k}  E[log D_k(h_k, l_k)] + E[log(1 - D_k(G_k(z_k, l_k), l_k))]

Each level is trained on its own, on real coarse images l_k (not generated ones): the levels'
losses share no parameters, so one backward pass on their sum with one Adam per player (its
moments are per coordinate) updates every level exactly as K separate trainings would. D_k sees
the candidate image at its level, l_k + h (real or generated), beside its condition l_k as extra
channels, which carries the same information as the paper's (h, l_k). z_0 is a vector into
DCGAN's generator (the paper's CIFAR-10 coarse model was an MLP); z_k, k >= 1, is a noise plane
of the level's size fed as one more channel (section 4.1, "a 4th colour plane"), so the one
latent input of a request is z = [z_0, z_1 (flattened), ...] and truncation scales all of it.
D_0 and G_0 are DCGAN's (dcgan.py); G_k is three 3x3 convolutions at `residual_filters`.

At 32 px the levels are 8, 16 and 32 px (the paper's CIFAR-10 model: 8, 14 and 28). The game
(game.py: its loss, penalties, spectral norm, augmentation of D's whole input, image and
condition together) applies to every level; `n_critic` alike; the base class keeps the EMA.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.layers.laplacian_pyramid import PyramidUpsample, gaussian_pyramid
from keras_gen.losses.laplacian import upsample
from keras_gen.models.base import option
from keras_gen.models.gan.latent_gan import LatentGAN
from keras_gen.models.gan.dcgan import _init, discriminator_trunk, generator_body

MIN_COARSE, MAX_SIZE = 8, 128


def build_residual_generator(side: int, channels: int, filters: int, level: int) -> keras.Model:
    """G_k: [l_k (B, s, s, C), z_k (B, s*s)] -> h~_k (B, s, s, C), a band-pass residual (linear)."""
    coarse = keras.Input((side, side, channels), name="coarse")
    noise = keras.Input((side * side,), name="noise")
    x = layers.Concatenate()([coarse, layers.Reshape((side, side, 1))(noise)])  # (B, s, s, C + 1)
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=_init())(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    residual = layers.Conv2D(channels, 3, padding="same", kernel_initializer=_init(), dtype="float32",
                             name="residual")(x)
    return keras.Model([coarse, noise], residual, name=f"generator_{level}")


@keras.saving.register_keras_serializable(package="keras_gen")
class LAPGAN(LatentGAN):
    """One GAN per pyramid level: `generator` is the whole coarse-to-fine sampler (the exported
    graph, holding every G_k), `discriminator` every D_k side by side."""

    @dataclass
    class Options(LatentGAN.Options):
        latent_dim: int = option(100, "z_0: the coarse generator's noise (the paper's 100)", min=1)
        levels: int = option(3, "pyramid levels; the coarsest is image_size / 2^(levels - 1) px, at least 8 "
                                "(32 px: 8, 16, 32)", min=2, max=5)
        base_filters: int = option(64, "width of DCGAN's G_0 and of every D_k at its largest feature map", min=1)
        residual_filters: int = option(64, "width of the finer levels' generators (the paper's CIFAR-10: 128)",
                                       min=1)

    harness_options = {"latent_dim": 8, "levels": 2, "base_filters": 4, "residual_filters": 4, "ema": 0.9}

    # -- networks ------------------------------------------------------------------------------
    def sides(self) -> list[int]:
        """Side of each level, coarse to fine."""
        return [self.image_size // 2 ** (self.options.levels - 1 - k) for k in range(self.options.levels)]

    def noise_sizes(self) -> list[int]:
        """How much of z each level takes: z_0's latent_dim, then one noise plane s_k * s_k per level."""
        return [self.options.latent_dim] + [s * s for s in self.sides()[1:]]

    def build_networks(self):
        o, size = self.options, self.image_size
        coarse = size // 2 ** (o.levels - 1)
        if size > MAX_SIZE or size & (size - 1) or coarse < MIN_COARSE:
            raise KerasGenError(f"LAPGAN needs a power-of-two image size up to {MAX_SIZE} whose coarsest level "
                                f"(image_size / 2^(levels - 1)) is at least {MIN_COARSE} px; got {size} with "
                                f"levels={o.levels}. Pass e.g. --image-size 32 --set levels=3.")
        sides, sizes = self.sides(), self.noise_sizes()
        z = keras.Input((sum(sizes),), name="z")
        z_0 = keras.Input((o.latent_dim,), name="z_0")
        level_generators = [keras.Model(z_0, generator_body(z_0, sides[0], self.channels, o.base_filters),
                                        name="generator_0")]
        level_generators += [build_residual_generator(s, self.channels, o.residual_filters, k)
                             for k, s in enumerate(sides) if k]
        # The sampler: one graph from z to the finest image, I~_k = u(I~_{k-1}) + G_k(z_k, u(I~_{k-1})).
        start = sizes[0]
        image = level_generators[0](z[:, :start])
        for k in range(1, o.levels):
            condition = PyramidUpsample(name=f"upsample_{k}")(image)
            residual = level_generators[k]([condition, z[:, start:start + sizes[k]]])
            image = layers.Add(name=f"level_{k}")([condition, residual])
            start += sizes[k]
        generator = keras.Model(z, image, name="generator")

        normalization = "layer" if o.gradient_penalty or o.r1_gamma else "batch"  # per-sample critics when penalised
        d_inputs, d_outputs = [], []
        for k, side in enumerate(sides):
            # D_0 sees the image; D_k, k >= 1, the image and its condition l_k stacked on channels.
            inputs, features = discriminator_trunk(side, self.channels * (2 if k else 1), o.base_filters,
                                                   wrap=self.d_layer, normalization=normalization)
            logits = layers.Flatten(dtype="float32", name="logits")(
                self.d_layer(layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init()))(features))  # (B, 1)
            level = keras.Model(inputs[0], logits, name=f"discriminator_{k}")
            d_inputs.append(keras.Input(level.inputs[0].shape[1:], name=f"level_{k}"))
            d_outputs.append(level(d_inputs[-1]))
        return generator, keras.Model(d_inputs, d_outputs, name="discriminator")

    def level_generator(self, k: int) -> keras.Model:
        return self.generator.get_layer(f"generator_{k}")

    def level_discriminator(self, k: int) -> keras.Model:
        return self.discriminator.get_layer(f"discriminator_{k}")

    # -- training ------------------------------------------------------------------------------
    def pyramid(self, images):
        """(real images per level I_k, conditions l_k = u(I_{k-1}) per level, None at level 0), coarse to fine."""
        levels = gaussian_pyramid(images, self.options.levels)
        return levels, [None] + [upsample(p) for p in levels[:-1]]

    def draw_latents(self, batch):
        """z = [z_0, z_1 (flattened), ...]: (batch, latent_dim + sum s_k^2)."""
        return self.random_normal((batch, sum(self.noise_sizes())))

    def level_fakes(self, z, conditions, training: bool) -> list:
        """I~_k per level from z split per level: G_0(z_0), then l_k + G_k(z_k, l_k) on the given l_k."""
        parts = tf.split(z, self.noise_sizes(), axis=-1)
        fakes = [self.level_generator(0)(parts[0], training=training)]
        for k in range(1, self.options.levels):
            fakes.append(conditions[k] + self.level_generator(k)([conditions[k], parts[k]], training=training))
        return fakes

    @staticmethod
    def d_input(image, condition):
        return image if condition is None else tf.concat([image, condition], axis=-1)

    def train_step(self, data):
        """One D update of every level's game on the real pyramid (their sum: each level's gradient is
        its own game's), then every level's G update on its turn."""
        images = data[0] if isinstance(data, (tuple, list)) else data
        levels_real, conditions = self.pyramid(images)
        batch, game, o = tf.shape(images)[0], self.game, self.options

        def seen(level_images):  # what each D_k sees: T(image, with its condition stacked on)
            return [game.augment(self.d_input(x, c)) for x, c in zip(level_images, conditions)]

        z = self.draw_latents(batch)
        with tf.GradientTape() as tape:
            fakes = self.level_fakes(z, conditions, training=True)
            real_seen, fake_seen = seen(levels_real), seen(fakes)
            real_logits = self.discriminator(real_seen, training=True)
            fake_logits = self.discriminator(fake_seen, training=True)
            losses = [game.discriminator_loss(r, f) for r, f in zip(real_logits, fake_logits)]
            total = tf.add_n(losses)
            for k in range(o.levels):
                critic = lambda x, k=k: self.level_discriminator(k)(x, training=True)  # noqa: E731
                total += game.penalty(critic, real_seen[k], fake_seen[k])
        self.apply_gradients("discriminator", tape, total)
        real_logits, fake_logits = tf.concat(real_logits, 0), tf.concat(fake_logits, 0)  # scores over every level
        game.discriminator_updated(real_logits)

        def generator_step():
            z = self.draw_latents(batch)
            with tf.GradientTape() as tape:
                logits = self.discriminator(seen(self.level_fakes(z, conditions, training=True)), training=True)
                total = tf.add_n([game.generator_loss(logit) for logit in logits])
            self.apply_gradients("generator", tape, total)
            self.g_loss_tracker.update_state(total / o.levels)
            return total

        game.generator_turn(generator_step)
        return self.track_discriminator(tf.add_n(losses) / o.levels, real_logits, fake_logits)  # mean game loss

    # -- sampling: the whole pyramid in one graph ---------------------------------------------
    def generator_specs(self):
        return [kinds.latent(sum(self.noise_sizes()))]

    def generate_images(self, z):
        """z (B, latent_dim + sum s_k^2) -> the finest level (B, S, S, C), clipped to [-1, 1] (the
        sum of the levels is not bounded by construction)."""
        return tf.clip_by_value(self.generator(z, training=False), -1.0, 1.0)

    def export_metadata(self):
        return {**super().export_metadata(), "latent_dim": sum(self.noise_sizes())}
