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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen.errors import KerasGenError
from keras_gen.losses.adversarial import GENERATOR_LOSSES, discriminator_loss, generator_loss
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.registry import register

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
    num_up = int(math.log2(image_size)) - 2  # 4 -> S takes log2(S) - 2 doublings
    z = keras.Input((latent_dim,), name="z")
    inputs, x = [z], z
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        x = layers.Concatenate()([z, layers.Embedding(num_classes, embed_dim, name="label_embedding")(label)])
    x = layers.Reshape((1, 1, x.shape[-1]))(x)
    filters = base_filters * 2 ** (num_up - 1)
    x = layers.Conv2DTranspose(filters, 4, 1, "valid", use_bias=False, kernel_initializer=_init())(x)  # (B, 4, 4, F)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for _ in range(num_up - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, 4, 2, "same", use_bias=False, kernel_initializer=_init())(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2DTranspose(channels, 4, 2, "same", kernel_initializer=_init())(x)  # (B, S, S, C)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs if num_classes else z, images, name="generator")


def build_discriminator(image_size: int, channels: int, base_filters: int,
                        num_classes: int | None = None) -> keras.Model:
    """images (B, S, S, C) [+ label (B,)] -> logits (B, 1). Mirror of the generator. With
    `num_classes`, a learned (S, S) map per class is stacked onto the image as one more
    channel, so every convolution sees the label (y beside x at D's input, as in the paper)."""
    num_down = int(math.log2(image_size)) - 2
    images = keras.Input((image_size, image_size, channels), name="images")
    inputs, x = [images], images
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        label_map = layers.Embedding(num_classes, image_size * image_size, name="label_map")(label)
        x = layers.Concatenate()([images, layers.Reshape((image_size, image_size, 1))(label_map)])
    x = layers.Conv2D(base_filters, 4, 2, "same", kernel_initializer=_init())(x)  # no BN on input
    x = layers.LeakyReLU(0.2)(x)
    filters = base_filters
    for _ in range(num_down - 1):
        filters *= 2
        x = layers.Conv2D(filters, 4, 2, "same", use_bias=False, kernel_initializer=_init())(x)
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    x = layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init())(x)  # (B, 1, 1, 1)
    logits = layers.Flatten(dtype="float32", name="logits")(x)
    return keras.Model(inputs if num_classes else images, logits, name="discriminator")


@register("dcgan", "DCGAN (Radford et al. 2016): convolutional GAN, non-saturating or minimax loss",
          family="adversarial", paper="Radford, Metz & Chintala 2016")
@keras.saving.register_keras_serializable(package="keras_gen")
class DCGAN(GenerativeModel):
    """Generator and discriminator trained alternately, one optimizer each."""

    @dataclass
    class Options(ModelOptions):
        latent_dim: int = option(100, "the paper's z size", min=1)
        base_filters: int = option(64, "the paper's width at the largest feature map", min=1)
        generator_loss: str = option("non_saturating", "non_saturating (the paper's) or minimax (Goodfellow's)",
                                     choices=GENERATOR_LOSSES)
        label_smoothing: float = option(0.0, "one-sided: real target 1 - s (Salimans et al. 2016; 0.1 is usual)",
                                        min=0.0, max=0.99)
        learning_rate: float = option(2e-4, "the paper's Adam rate, for both networks", min=0.0, min_exclusive=True)
        beta_1: float = option(0.5, "0.9 made training oscillate in the paper", min=0.0, max=0.999)

    data_kind = "images"  # labels, if the data has them, are not used
    harness_options = {"latent_dim": 8, "base_filters": 4, "ema": 0.9}  # EMA on: resumed and exported too

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        _check_image_size(self.image_size)
        # A labelled subclass (cdcgan.py) gets both networks conditioned on the class.
        classes = self.num_classes if self.data_kind == "labelled" else None
        self.generator = build_generator(o.latent_dim, self.image_size, self.channels, o.base_filters,
                                         classes, getattr(o, "embed_dim", 0))
        self.discriminator = build_discriminator(self.image_size, self.channels, o.base_filters, classes)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Mean D(x) and D(G(z)) in the D step (same D for both): drifting to 1 and 0 means D has
        # won and G gets no signal.
        self.real_score_tracker = keras.metrics.Mean(name="d_real")
        self.fake_score_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True  # both sub-networks are built above; nothing is created lazily

    def default_optimizers(self):
        o = self.options
        return {"generator": keras.optimizers.Adam(o.learning_rate, beta_1=o.beta_1),
                "discriminator": keras.optimizers.Adam(o.learning_rate, beta_1=o.beta_1)}

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker]

    def train_step(self, data):
        real, labels = self.split_batch(data)
        batch = tf.shape(real)[0]
        o = self.options

        z = self.random_normal((batch, o.latent_dim))
        with tf.GradientTape() as tape:
            fake = self.generator(self.conditioned(z, labels), training=True)
            real_logits = self.discriminator(self.conditioned(real, labels), training=True)
            fake_logits = self.discriminator(self.conditioned(fake, labels), training=True)
            d_loss = discriminator_loss(real_logits, fake_logits, o.label_smoothing)
            scaled = self.scale_loss(d_loss)
        self.apply_gradients("discriminator", tape, scaled)

        z = self.random_normal((batch, o.latent_dim))
        with tf.GradientTape() as tape:
            fake = self.generator(self.conditioned(z, labels), training=True)
            g_loss = generator_loss(self.discriminator(self.conditioned(fake, labels), training=True), o.generator_loss)
            scaled = self.scale_loss(g_loss)
        self.apply_gradients("generator", tape, scaled)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(tf.reduce_mean(tf.sigmoid(real_logits)))
        self.fake_score_tracker.update_state(tf.reduce_mean(tf.sigmoid(fake_logits)))
        return {m.name: m.result() for m in self.metrics}

    # Conditioning hooks: the unconditional model ignores labels; cdcgan.py overrides both.
    def split_batch(self, data):
        """(images, labels or None) from what the data kind yields."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def conditioned(self, x, labels):
        """A network's input: x alone, or [x, labels] for a class-conditional model."""
        return x

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def generate(self, z):
        """Latents (B, latent_dim) -> images (B, S, S, C) in [-1, 1], inference mode."""
        return self.generator(z, training=False)
