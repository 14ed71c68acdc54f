"""DCGAN: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks".

The GAN game (Goodfellow et al. 2014), with the paper's architecture guidelines:
  - no pooling: strided convolutions in D, fractionally-strided (transposed) convolutions in G;
  - batch normalisation in G and D, except G's output layer and D's input layer;
  - no fully-connected hidden layers: z is reshaped to (1, 1, latent_dim) and a 4x4 transposed
    convolution projects it to the first 4x4 feature map; D ends with a 4x4 valid convolution;
  - ReLU in G with tanh at the output; LeakyReLU (slope 0.2) in D;
  - Adam with learning rate 2e-4 and beta_1 = 0.5, weights initialised from N(0, 0.02).

Each step:  D ascends  log D(x) + log(1 - D(G(z)));
            G descends the non-saturating  -log D(G(z))  (default) or the minimax  log(1 - D(G(z))).
`train_step` below is the algorithm; the game (game.py) gives its losses: with the game's options
at their defaults this is the paper's; the options add the other games, penalties, augmentation
and EMA. The step also serves cdcgan (cdcgan.py), whose networks take the label beside z and x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen.errors import KerasGenError
from keras_gen.losses.adversarial import GENERATOR_LOSSES
from keras_gen.models.base import option
from keras_gen.models.gan.latent_gan import LatentGAN, with_conditions

MIN_SIZE, MAX_SIZE = 16, 128


def _check_image_size(image_size: int) -> int:
    if image_size < MIN_SIZE or image_size > MAX_SIZE or image_size & (image_size - 1):
        raise KerasGenError(
            f"DCGAN needs an image size that is a power of two from {MIN_SIZE} to {MAX_SIZE}, "
            f"got {image_size}. Pass e.g. --image-size 32."
        )
    return image_size


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)


def build_generator(latent_dim: int, image_size: int, channels: int, base_filters: int,
                    num_classes: int | None = None, embed_dim: int = 0) -> keras.Model:
    """z (B, latent_dim) [+ label (B,)] -> images (B, S, S, C) in [-1, 1]. Widest at 4x4, halving
    per doubling. With `num_classes`, the label's embedding is concatenated to z (Mirza &
    Osindero 2014 feed y beside z into the first layer)."""
    z = keras.Input((latent_dim,), name="z")
    inputs, x = [z], z
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        x = layers.Concatenate()([z, layers.Embedding(num_classes, embed_dim, name="label_embedding")(label)])
    return keras.Model(inputs if num_classes else z, generator_body(x, image_size, channels, base_filters),
                       name="generator")


def generator_body(x, image_size: int, channels: int, base_filters: int):
    """G's convolutions: a vector (B, D) (z with whatever conditions it carries) -> images
    (B, S, S, C) in [-1, 1]."""
    num_up = int(math.log2(image_size)) - 2  # 4 -> S takes log2(S) - 2 doublings
    x = layers.Reshape((1, 1, x.shape[-1]))(x)
    filters = base_filters * 2 ** (num_up - 1)
    x = layers.Conv2DTranspose(filters, 4, 1, "valid", use_bias=False, kernel_initializer=_init())(x)  # (B, 4, 4, F)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for _ in range(num_up - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, 4, 2, "same", use_bias=False, kernel_initializer=_init())(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2DTranspose(channels, 4, 2, "same", kernel_initializer=_init())(x)  # (B, S, S, C)
    return layers.Activation("tanh", dtype="float32", name="images")(x)


def build_discriminator(image_size: int, channels: int, base_filters: int,
                        num_classes: int | None = None, wrap=None, normalization: str = "batch") -> keras.Model:
    """images (B, S, S, C) [+ label (B,)] -> logits (B, 1). Mirror of the generator. With
    `num_classes`, a learned (S, S) map per class is stacked onto the image as one more
    channel, so every convolution sees the label (y beside x at D's input, as in the paper).
    `wrap` wraps each convolution (spectral normalisation); `normalization` is "batch" (the
    paper's), "layer" (per-sample over (H, W, C): a critic with a gradient penalty must not mix
    samples, Gulrajani et al. 2017 section 4) or "none"."""
    wrap = wrap or (lambda layer: layer)
    inputs, features = discriminator_trunk(image_size, channels, base_filters, num_classes, wrap, normalization)
    x = wrap(layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init()))(features)  # (B, 1, 1, 1)
    logits = layers.Flatten(dtype="float32", name="logits")(x)
    return keras.Model(inputs if num_classes else inputs[0], logits, name="discriminator")


def discriminator_trunk(image_size: int, channels: int, base_filters: int, num_classes: int | None = None,
                        wrap=None, normalization: str = "batch"):
    """D's convolutions up to its 4x4 feature map: (inputs, features (B, 4, 4, F)). Heads that share
    the trunk (AC-GAN's classifier, InfoGAN's Q) sit beside the real/fake convolution."""
    wrap = wrap or (lambda layer: layer)
    num_down = int(math.log2(image_size)) - 2
    images = keras.Input((image_size, image_size, channels), name="images")
    inputs, x = [images], images
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        label_map = layers.Embedding(num_classes, image_size * image_size, name="label_map")(label)
        x = layers.Concatenate()([images, layers.Reshape((image_size, image_size, 1))(label_map)])
    x = wrap(layers.Conv2D(base_filters, 4, 2, "same", kernel_initializer=_init()))(x)  # no BN on input
    x = layers.LeakyReLU(0.2)(x)
    filters = base_filters
    for _ in range(num_down - 1):
        filters *= 2
        x = wrap(layers.Conv2D(filters, 4, 2, "same", use_bias=normalization == "none", kernel_initializer=_init()))(x)
        if normalization == "batch":
            x = layers.BatchNormalization()(x)
        elif normalization == "layer":
            x = layers.LayerNormalization(axis=[1, 2, 3])(x)
        x = layers.LeakyReLU(0.2)(x)
    return inputs, x


@keras.saving.register_keras_serializable(package="keras_gen")
class DCGAN(LatentGAN):
    """The paper's networks and its alternating updates, with the game's options (the loss,
    n_critic, penalties, spectral norm, augmentation) and the EMA of the weights."""

    @dataclass
    class Options(LatentGAN.Options):
        latent_dim: int = option(100, "the paper's z size", min=1)
        base_filters: int = option(64, "the paper's width at the largest feature map", min=1)
        generator_loss: str = option("non_saturating", "G's side of the BCE game: non_saturating (the paper's) or "
                                     "minimax (Goodfellow's); minimax is the same as loss=minimax",
                                     choices=GENERATOR_LOSSES)

    harness_options = {"latent_dim": 8, "base_filters": 4, "ema": 0.9}  # EMA on: resumed and exported too

    def __init__(self, **kwargs):
        if kwargs.get("generator_loss") == "minimax":  # the older spelling of loss=minimax
            if kwargs.get("loss", "non_saturating") not in ("non_saturating", "minimax"):
                raise KerasGenError(f"generator_loss=minimax picks the minimax game; it cannot go with "
                                    f"loss={kwargs['loss']}. Pass only loss=...")
            kwargs["loss"] = "minimax"
        super().__init__(**kwargs)

    def build_networks(self):
        o = self.options
        _check_image_size(self.image_size)
        # A labelled subclass (cdcgan.py) gets both networks conditioned on the class.
        classes = self.num_classes if self.data_kind == "labelled" else None
        generator = build_generator(o.latent_dim, self.image_size, self.channels, o.base_filters,
                                    classes, getattr(o, "embed_dim", 0))
        discriminator = build_discriminator(self.image_size, self.channels, o.base_filters, classes,
                                            wrap=self.d_layer)
        return generator, discriminator

    # -- training ------------------------------------------------------------------------------
    def split_batch(self, data):
        """(real images (B, H, W, C), the networks' conditions: [] or cdcgan's [labels (B,)])."""
        if self.data_kind == "labelled":
            images, labels = data
            return images, [labels]
        return (data[0] if isinstance(data, (tuple, list)) else data), []

    def train_step(self, data):
        """One D update on the real batch, then G's update on its turn (every n_critic-th D update)."""
        real, conditions = self.split_batch(data)
        batch, game = tf.shape(real)[0], self.game

        def critic(images):  # D in training mode, on what it sees (conditioned like G)
            return self.discriminator(with_conditions(images, conditions), training=True)

        z = self.draw_latents(batch)
        with tf.GradientTape() as tape:
            fake = self.generator(with_conditions(z, conditions), training=True)
            real_seen, fake_seen = game.augment(real), game.augment(fake)
            real_logits, fake_logits = critic(real_seen), critic(fake_seen)
            d_loss = game.discriminator_loss(real_logits, fake_logits) + game.penalty(critic, real_seen, fake_seen)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)

        def generator_step():
            z = self.draw_latents(batch)
            with tf.GradientTape() as tape:
                fake = self.generator(with_conditions(z, conditions), training=True)
                g_loss = game.generator_loss(critic(game.augment(fake)))
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            return g_loss

        game.generator_turn(generator_step)
        return self.track_discriminator(d_loss, real_logits, fake_logits)
