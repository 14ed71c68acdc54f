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

import keras
import tensorflow as tf
from keras import layers

from keras_gen.errors import KerasGenError
from keras_gen.images import to_uint8
from keras_gen.latents import gaussian_latents, gaussian_latents_tf
from keras_gen.losses.adversarial import GENERATOR_LOSSES, discriminator_loss, generator_loss
from keras_gen.models.base import Endpoint, GenerativeModel
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


def build_generator(latent_dim: int, image_size: int, channels: int, base_filters: int) -> keras.Model:
    """z (B, latent_dim) -> images (B, S, S, C) in [-1, 1]. Widest at 4x4, halving per doubling."""
    num_up = int(math.log2(image_size)) - 2  # 4 -> S takes log2(S) - 2 doublings
    z = keras.Input((latent_dim,), name="z")
    x = layers.Reshape((1, 1, latent_dim))(z)
    filters = base_filters * 2 ** (num_up - 1)
    x = layers.Conv2DTranspose(filters, 4, 1, "valid", use_bias=False, kernel_initializer=_init())(x)  # (B, 4, 4, F)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for _ in range(num_up - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, 4, 2, "same", use_bias=False, kernel_initializer=_init())(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2DTranspose(channels, 4, 2, "same", kernel_initializer=_init())(x)  # (B, S, S, C)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(z, images, name="generator")


def build_discriminator(image_size: int, channels: int, base_filters: int) -> keras.Model:
    """images (B, S, S, C) -> logits (B, 1). Mirror of the generator."""
    num_down = int(math.log2(image_size)) - 2
    images = keras.Input((image_size, image_size, channels), name="images")
    x = layers.Conv2D(base_filters, 4, 2, "same", kernel_initializer=_init())(images)  # no BN on input
    x = layers.LeakyReLU(0.2)(x)
    filters = base_filters
    for _ in range(num_down - 1):
        filters *= 2
        x = layers.Conv2D(filters, 4, 2, "same", use_bias=False, kernel_initializer=_init())(x)
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    x = layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init())(x)  # (B, 1, 1, 1)
    logits = layers.Flatten(dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name="discriminator")


@keras.saving.register_keras_serializable(package="keras_gen")
class DCGAN(GenerativeModel):
    """Generator and discriminator trained alternately, one optimizer each."""

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 1,
        latent_dim: int = 100,  # the paper's z size
        base_filters: int = 64,  # the paper's width at the largest feature map
        generator_loss: str = "non_saturating",
        label_smoothing: float = 0.0,
        learning_rate: float = 2e-4,  # the paper's Adam settings, for both networks
        beta_1: float = 0.5,  # 0.9 made training oscillate in the paper
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("latent_dim", latent_dim), ("base_filters", base_filters)):
            if int(value) < 1:
                raise KerasGenError(f"{name} must be at least 1, got {value}.")
        if not 0.0 <= label_smoothing < 1.0:
            raise KerasGenError(f"label_smoothing must be in [0, 1) (0.1 is usual), got {label_smoothing}.")
        if not learning_rate > 0 or not 0.0 <= beta_1 < 1.0:
            raise KerasGenError(f"learning_rate must be > 0 and beta_1 in [0, 1), got {learning_rate}, {beta_1}.")
        if generator_loss not in GENERATOR_LOSSES:
            raise KerasGenError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}.")
        if channels < 1:
            raise KerasGenError(f"channels must be >= 1, got {channels}.")
        self.image_size = _check_image_size(int(image_size))
        self.channels = int(channels)
        self.latent_dim = int(latent_dim)
        self.base_filters = int(base_filters)
        self.generator_loss_kind = generator_loss
        self.label_smoothing = float(label_smoothing)
        self.learning_rate, self.beta_1 = float(learning_rate), float(beta_1)
        self.seed = int(seed)
        self.image_shape = (self.image_size, self.image_size, self.channels)
        self.generator = build_generator(self.latent_dim, self.image_size, self.channels, self.base_filters)
        self.discriminator = build_discriminator(self.image_size, self.channels, self.base_filters)
        # Its state is a variable of the model, so checkpoints carry it and resume draws the same z.
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.built = True  # both sub-networks are built above; nothing is created lazily

    # -- training ---------------------------------------------------------------------------
    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1)
        # Slot variables now, not at the first step: a checkpoint saved before training still
        # holds them, and loading restores them instead of skipping the optimizer.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Mean D(x) and D(G(z)) in the D step (same D for both): drifting to 1 and 0 means D has
        # won and G gets no signal.
        self.real_score_tracker = keras.metrics.Mean(name="d_real")
        self.fake_score_tracker = keras.metrics.Mean(name="d_fake")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker]

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data  # labels, if any, are unused
        batch = tf.shape(real)[0]

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = discriminator_loss(real_logits, fake_logits, self.label_smoothing)
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            gen_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = generator_loss(gen_logits, self.generator_loss_kind)
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(tf.reduce_mean(tf.sigmoid(real_logits)))
        self.fake_score_tracker.update_state(tf.reduce_mean(tf.sigmoid(fake_logits)))
        return {m.name: m.result() for m in self.metrics}

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def generate(self, z):
        """Latents (B, latent_dim) -> images (B, S, S, C) in [-1, 1], inference mode."""
        return self.generator(z, training=False)

    # -- saving -----------------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "latent_dim": self.latent_dim,
            "base_filters": self.base_filters,
            "generator_loss": self.generator_loss_kind,
            "label_smoothing": self.label_smoothing,
            "learning_rate": self.learning_rate,
            "beta_1": self.beta_1,
            "seed": self.seed,
        }

    def get_compile_config(self):
        if getattr(self, "g_optimizer", None) is None:
            return None  # never compiled: there is no training state to save
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
        )

    # -- export -----------------------------------------------------------------------------
    def export_endpoints(self):
        z_spec = tf.TensorSpec((None, self.latent_dim), tf.float32, name="z")

        def generate(z):
            return {"images": self.generator(z, training=False)}

        def serving_default(z):
            return {"images": to_uint8(self.generator(z, training=False))}

        def sample(n, seed):
            z = gaussian_latents_tf(n, self.latent_dim, seed)
            return {"images": to_uint8(self.generator(z, training=False))}

        return {
            "generate": Endpoint(generate, [z_spec], "z -> float32 images in [-1, 1]", onnx=True,
                                 output_ranges={"images": [-1.0, 1.0]}),
            "serving_default": Endpoint(serving_default, [z_spec], "z -> uint8 images",
                                        output_ranges={"images": [0, 255]}),
            "sample": Endpoint(
                sample,
                [tf.TensorSpec((), tf.int32, name="n"), tf.TensorSpec((), tf.int64, name="seed")],
                "(n, seed) -> n uint8 images; the same seed gives the same images on every runtime",
                output_ranges={"images": [0, 255]},
            ),
        }

    def parity_inputs(self, n: int = 64, seed: int = 0):
        return {"z": gaussian_latents(n, self.latent_dim, seed)}

    def export_metadata(self):
        return {
            "model": "dcgan",
            "latent_dim": self.latent_dim,
            "image_size": self.image_size,
            "channels": self.channels,
            "sampler": "gaussian_latents",
        }


@register("dcgan", "DCGAN (Radford et al. 2016): convolutional GAN, non-saturating or minimax loss",
          exports=("serving_default", "sample", "generate"))
def build_dcgan(image_size: int, channels: int, num_classes=None, latent_dim: int = 100, base_filters: int = 64,
                generator_loss: str = "non_saturating", label_smoothing: float = 0.0, learning_rate: float = 2e-4,
                beta_1: float = 0.5, seed: int = 0):
    return DCGAN(image_size=image_size, channels=channels, latent_dim=latent_dim, base_filters=base_filters,
                 generator_loss=generator_loss, label_smoothing=label_smoothing, learning_rate=learning_rate,
                 beta_1=beta_1, seed=seed)
