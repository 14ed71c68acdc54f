"""Face-swap autoencoder: the "DeepFakes" design (the deepfakes/faceswap project, 2017-), one
shared encoder and one decoder per identity.

Two unpaired domains A and B (two people's faces; offline, two sets of `shapes` or photos) are
each reconstructed through the same encoder E and their own decoder:

    L = mean (D_A(E(a)) - a)^2  +  mean (D_B(E(b)) - b)^2      (mse, the default; mae: |.|)

Because E is shared, it must describe both identities in one code space: pose, expression and
lighting, which the two share, end up in the code, and what tells them apart ends up in the
decoders. A swap encodes an image of one identity and decodes it with the other's decoder:

    a -> b:  D_B(E(a))          b -> a:  D_A(E(b))

E and the decoders are the convolutional ones of autoencoder.py (the original adds an
upscaling stage after E's dense layer and trains on randomly warped faces; neither is here yet).
One Adam optimizer trains E, D_A and D_B on the sum of both reconstruction losses.

Sampling takes an image and a `direction` option (0: A -> B, the default; 1: B -> A):
`keras-gen sample RUN --image face.png --direction 1`, or `keras-gen swap RUN|EXPORT --input
face.png --to b`. The export has `generate` (image, direction; the ONNX network), and
`swap_a_to_b` and `swap_b_to_a`, which take an image (float32 in [-1, 1]) and return the
swapped one as uint8: SavedModel signatures, and each its own ONNX file for onnxruntime
(`EdgeModel.run_endpoint`), parity-checked at export.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.models.base import Endpoint, GenerativeModel, ModelOptions, option
from keras_gen.models.latent.autoencoder import build_decoder, build_encoder, check_geometry, pixel_loss

A_TO_B, B_TO_A = 0, 1


@keras.saving.register_keras_serializable(package="keras_gen")
class FaceSwap(GenerativeModel):
    """A shared encoder and decoders `decoder_a`, `decoder_b`, trained on unpaired (a, b) batches."""

    @dataclass
    class Options(ModelOptions):
        code_dim: int = option(128, "size of the shared code: what both identities have in common", min=1)
        filters: int = option(32, "width of the first convolution, doubling per halving", min=1)
        downsamplings: int = option(3, "stride-2 convolutions in the encoder (32 px -> 4x4 maps)", min=0, max=7)
        loss: str = option("mse", "reconstruction loss: mse, or mae (the original's, for dense faces: on sparse "
                           "images such as shapes its median solution is the empty background)", choices=("mse", "mae"))
        learning_rate: float = option(5e-5, "Adam, the original's rate (beta_1 0.5)", min=0.0, min_exclusive=True)
        beta_1: float = option(0.5, "Adam's first-moment decay, as in the original", min=0.0, max=0.999)

    harness_options = {"code_dim": 8, "filters": 4, "downsamplings": 2}
    extra_exports = ("swap_a_to_b", "swap_b_to_a")  # endpoints beside the base class's (registry.exports)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        check_geometry("faceswap", self.image_size, o.downsamplings)
        self.encoder = build_encoder(self.image_shape, o.filters, o.downsamplings, o.code_dim)
        self.decoder_a = build_decoder(self.image_shape, o.filters, o.downsamplings, o.code_dim, name="decoder_a")
        self.decoder_b = build_decoder(self.image_shape, o.filters, o.downsamplings, o.code_dim, name="decoder_b")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.loss_a_tracker = keras.metrics.Mean(name="loss_a")
        self.loss_b_tracker = keras.metrics.Mean(name="loss_b")
        self.built = True

    def default_optimizers(self):
        o = self.options
        return {"autoencoders": keras.optimizers.Adam(o.learning_rate, beta_1=o.beta_1)}

    def variables_for(self, optimizer_name):
        return (self.encoder.trainable_variables + self.decoder_a.trainable_variables
                + self.decoder_b.trainable_variables)

    @property
    def metrics(self):
        return [self.loss_tracker, self.loss_a_tracker, self.loss_b_tracker]

    def train_step(self, data):
        a, b = data  # (B, S, S, C) each, from domain A and domain B
        loss_kind = self.options.loss
        with tf.GradientTape() as tape:
            loss_a = pixel_loss(loss_kind, self.decoder_a(self.encoder(a, training=True), training=True), a)
            loss_b = pixel_loss(loss_kind, self.decoder_b(self.encoder(b, training=True), training=True), b)
            loss = loss_a + loss_b
        self.apply_gradients("autoencoders", tape, loss)
        for tracker, value in ((self.loss_tracker, loss), (self.loss_a_tracker, loss_a), (self.loss_b_tracker, loss_b)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    # -- swapping ------------------------------------------------------------------------------
    def input_specs(self):
        return [kinds.image(self.image_shape, name="image"),
                kinds.option("direction", A_TO_B, A_TO_B, B_TO_A, "int32",
                             "0: the image is of identity A, decode it as B; 1: B -> A")]

    def swap(self, images, to: str):
        """images (B, S, S, C) in [-1, 1] through the shared encoder and decoder `to` ("a" or "b")."""
        if to not in ("a", "b"):
            raise KerasGenError(f"faceswap swaps to identity 'a' or 'b', got {to!r}.")
        decoder = self.decoder_b if to == "b" else self.decoder_a
        return decoder(self.encoder(images, training=False), training=False)

    def generate(self, image, direction):
        """Images of one identity as the other: D_B(E(x)) for direction 0, D_A(E(x)) for 1."""
        code = self.encoder(image, training=False)
        as_b, as_a = self.decoder_b(code, training=False), self.decoder_a(code, training=False)
        return tf.where(tf.equal(tf.cast(direction, tf.int32), A_TO_B), as_b, as_a)

    def translate(self, images_a):
        """A -> B, under the name image-to-image callers use."""
        return self.swap(images_a, "b")

    def call(self, images, training=False):
        return self.decoder_b(self.encoder(images, training=training), training=training)

    def export_endpoints(self):
        from keras_gen.images import to_uint8

        endpoints = super().export_endpoints()
        image = kinds.image(self.image_shape, name="image")
        for name, to, what in (("swap_a_to_b", "b", "an image of identity A -> the same as B"),
                               ("swap_b_to_a", "a", "an image of identity B -> the same as A")):
            def fn(image, to=to):
                return {"images": to_uint8(self.swap(image, to))}

            endpoints[name] = Endpoint(fn, [image], f"{what}, uint8", output_ranges={"images": [0, 255]},
                                       edge=True)  # also NAME.onnx: `keras-gen swap EXPORT` on onnxruntime
        return endpoints
