"""VQ-VAE: van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning".

An encoder maps x to a grid of vectors z_e(x) (B, h, w, D); each is replaced by its nearest of K
codebook vectors (keras_gen.layers.vector_quantizer), and a decoder maps the quantised grid z_q
back to an image. With the straight-through estimator the loss of one image is (eq. 3)
    L = log p(x | z_q(x)) + |sg[z_e(x)] - e|^2 + beta |z_e(x) - sg[e]|^2,   beta = 0.25,
where the reconstruction term is the squared error (a Gaussian decoder of fixed variance) and
the codebook term gives way to EMA codebook updates with `--set codebook=ema` (appendix A.1).

Architecture (the paper's, narrowed for small images): `downsamples` strided 4x4 convolutions
(stride 2, ReLU), a 3x3 convolution and a residual block (ReLU, 3x3, ReLU, 1x1), then a 1x1
convolution to D; the decoder mirrors it with transposed convolutions and ends in tanh.

Prior and sampling (section 3.2): after the VQ-VAE, the paper fits an autoregressive prior
p(z) over the code maps and samples x = D(e_z), z ~ p(z). Here the prior is a gated PixelCNN
(keras_gen/models/autoregressive/pixelcnn.py) over the h x w map, a categorical over the K codes
at each position,
    p(z) = prod_{i=1}^{h w} p(z_i | z_{<i}),
trained in the same train_step as the VQ-VAE, on the current encoder's codes (stop-gradient: the
prior shapes nothing of the encoder), by its own optimizer (`prior`). Training it alongside,
rather than after, means its targets drift while the codebook settles; the codebook settles in
the first few hundred steps, and the prior follows. Sampling draws a code map with the pixelcnn
sampler (keras_gen/samplers/pixelcnn.py; `temperature` is a request option) and decodes it: the
exported network maps a code map to both the prior's logits and the decoded image.
`encode(images)` (-> int32 code maps), `decode_codes(codes)` and `reconstruct(images)` are
library methods and SavedModel endpoints of the export.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.core_tf.samplers import PixelCNNSampler
from keras_gen.errors import KerasGenError
from keras_gen.layers.vector_quantizer import VectorQuantizer, check_codes
from keras_gen.models.autoregressive.pixelcnn import build_pixelcnn
from keras_gen.models.base import Endpoint, GenerativeModel, ModelOptions, option


def _residual(x, filters):
    h = layers.Conv2D(filters, 3, padding="same")(layers.ReLU()(x))
    h = layers.Conv2D(x.shape[-1], 1)(layers.ReLU()(h))
    return layers.Add()([x, h])


def build_encoder(image_shape, filters: int, downsamples: int, code_dim: int) -> keras.Model:
    """images (B, S, S, C) -> z_e (B, S / 2^downsamples, S / 2^downsamples, code_dim)."""
    images = keras.Input(image_shape, name="image")
    x = images
    for _ in range(downsamples):
        x = layers.Conv2D(filters, 4, 2, padding="same", activation="relu")(x)
    x = _residual(layers.Conv2D(filters, 3, padding="same")(x), filters)
    z_e = layers.Conv2D(code_dim, 1, name="z_e")(layers.ReLU()(x))
    return keras.Model(images, z_e, name="encoder")


def build_decoder(grid: int, code_dim: int, filters: int, downsamples: int, channels: int) -> keras.Model:
    """z_q (B, h, w, code_dim) -> images (B, S, S, C) in [-1, 1]."""
    z_q = keras.Input((grid, grid, code_dim), name="z_q")
    x = _residual(layers.Conv2D(filters, 3, padding="same")(z_q), filters)
    x = layers.ReLU()(x)
    for _ in range(downsamples - 1):
        x = layers.Conv2DTranspose(filters, 4, 2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(channels, 4, 2, padding="same")(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(z_q, images, name="decoder")


@keras.saving.register_keras_serializable(package="keras_gen")
class VQVAE(GenerativeModel):
    """Encoder, quantiser and decoder, trained together by one optimizer."""

    @dataclass
    class Options(ModelOptions):
        num_codes: int = option(64, "codebook size K (the paper's 512 is for ImageNet; digits use few)", min=2)
        code_dim: int = option(16, "size D of each code vector (the paper's 64, narrowed)", min=1)
        filters: int = option(64, "convolution width (the paper's 256, narrowed for small images)", min=1)
        downsamples: int = option(2, "stride-2 layers: the code map is image_size / 2^downsamples", min=1, max=5)
        beta: float = option(0.25, "commitment weight; the paper's 0.25 (results robust from 0.1 to 2)", min=0.0)
        codebook: str = option("loss", "loss: the codebook loss moves the codes; ema: moving averages (appendix A.1)",
                               choices=("loss", "ema"))
        decay: float = option(0.99, "EMA decay gamma of the codebook statistics", min=0.0, max=0.9999)
        restart_after: int = option(100, "re-initialise a code unused this many steps from a random encoder "
                                         "output; 0 never", min=0)
        learning_rate: float = option(2e-4, "Adam, the paper's rate", min=0.0, min_exclusive=True)
        prior_filters: int = option(64, "width of the PixelCNN prior over the code map", min=1)
        prior_layers: int = option(6, "gated blocks of the prior (a 4 x 4 to 8 x 8 map needs few)", min=1)
        prior_learning_rate: float = option(1e-3, "Adam, for the prior", min=0.0, min_exclusive=True)
        temperature: float = option(1.0, "default sampling temperature of the prior", min=1e-3, max=10.0)

    harness_options = {"num_codes": 8, "code_dim": 4, "filters": 4, "codebook": "ema", "restart_after": 1,
                       "prior_filters": 4, "prior_layers": 2}
    extra_exports = ("encode", "decode_codes", "reconstruct")  # export_endpoints() adds them

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        if self.image_size % 2**o.downsamples:
            raise KerasGenError(f"VQ-VAE with downsamples={o.downsamples} needs an image size divisible by "
                                f"{2**o.downsamples}, got {self.image_size}. Pass e.g. --image-size 16.")
        self.grid = self.image_size // 2**o.downsamples
        self.encoder = build_encoder(self.image_shape, o.filters, o.downsamples, o.code_dim)
        self.quantizer = VectorQuantizer(o.num_codes, o.code_dim, beta=o.beta, use_ema=o.codebook == "ema",
                                         decay=o.decay, restart_after=o.restart_after, seed=o.seed, name="quantizer")
        self.decoder = build_decoder(self.grid, o.code_dim, o.filters, o.downsamples, self.channels)
        self.prior = build_pixelcnn((self.grid, self.grid, 1), o.num_codes, o.prior_filters, o.prior_layers,
                                    kernel_size=3, first_kernel_size=min(5, 2 * (self.grid // 2) + 1), feed="codes",
                                    name="prior")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self._tracker_names()}
        self.built = True

    def _tracker_names(self):
        codebook = [] if self.options.codebook == "ema" else ["codebook_loss"]  # zero in EMA mode: not a loss
        return ["reconstruction", *codebook, "commitment_loss", "perplexity", "usage", "prior_bits"]

    def default_optimizers(self):
        return {"vqvae": keras.optimizers.Adam(self.options.learning_rate),
                "prior": keras.optimizers.Adam(self.options.prior_learning_rate)}

    def variables_for(self, optimizer_name):
        if optimizer_name == "prior":
            return self.prior.trainable_variables
        # The codebook is trainable only in loss mode; in EMA mode update() sets it.
        return (self.encoder.trainable_variables + self.quantizer.trainable_variables
                + self.decoder.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data  # (B, S, S, C)
        with tf.GradientTape() as tape:
            z_e = self.encoder(images, training=True)  # (B, h, w, D)
            q = self.quantizer.straight_through(z_e)
            reconstruction = tf.reduce_mean(tf.square(self.decoder(q["z_q"], training=True) - images))
            loss = reconstruction + q["codebook_loss"] + q["commitment_loss"]
        self.apply_gradients("vqvae", tape, loss)
        self.quantizer.update_codebook(z_e, q["codes"])  # EMA codebook, dead-code restarts
        codes = tf.stop_gradient(tf.cast(q["codes"], tf.int32))  # (B, h, w): the prior's data
        with tf.GradientTape() as tape:
            logits = self.prior(codes, training=True)[..., 0, :]  # (B, h, w, K)
            prior_nll = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(codes, logits))
        self.apply_gradients("prior", tape, prior_nll)
        values = {"reconstruction": reconstruction, "codebook_loss": q["codebook_loss"],
                  "commitment_loss": q["commitment_loss"], "prior_bits": prior_nll / np.log(2.0),
                  **self.quantizer.statistics(q["codes"])}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # -- sampling: a code map from the prior, decoded ------------------------------------------
    def input_specs(self):
        return []

    def sampler(self):
        return PixelCNNSampler(height=self.grid, width=self.grid, channels=1, categories=self.options.num_codes,
                               feed="codes", input="codes", decode=True, temperature=self.options.temperature)

    def _codes_spec(self):
        return kinds.code("codes", "categorical", num_classes=self.options.num_codes, shape=(self.grid, self.grid))

    def network_specs(self):
        return [self._codes_spec()]

    def network(self, codes):
        """Code maps (B, h, w) -> {"logits": the prior's (B, h, w, 1, K), "images": D(e_codes) (B, S, S, C)}."""
        return {"logits": self.prior(codes, training=False),
                "images": self.decoder(self.quantizer.lookup(codes), training=False)}

    def _reconstruct(self, images):
        """x_hat = D(e_{argmin |z_e(x) - e|}), images (B, S, S, C) in [-1, 1]."""
        return self.decoder(self.quantizer(self.encoder(images, training=False)), training=False)

    def call(self, images, training=False):
        return self._reconstruct(images)

    def export_endpoints(self) -> dict:
        from keras_gen.images import to_uint8

        endpoints = super().export_endpoints()
        image, codes_spec, k = kinds.image(self.image_shape, name="image"), self._codes_spec(), self.options.num_codes

        def encode(image):
            image = tf.ensure_shape(image, (None, *self.image_shape))  # a wrong size refused by name
            return {"codes": tf.cast(self.quantizer.codes_of(self.encoder(image, training=False)), tf.int32)}

        def decode_codes(codes):  # one clear error for an index outside the codebook (a GPU gather gives zeros)
            checks = [tf.debugging.assert_greater_equal(codes, 0, message=f"codes must be from 0 to {k - 1}"),
                      tf.debugging.assert_less(codes, k, message=f"codes must be from 0 to {k - 1}")]
            with tf.control_dependencies(checks):
                codes = tf.identity(codes)
            return {"images": to_uint8(self.decoder(self.quantizer.lookup(codes), training=False))}

        def reconstruct(image):
            return {"images": to_uint8(self._reconstruct(tf.ensure_shape(image, (None, *self.image_shape))))}

        endpoints["encode"] = Endpoint(encode, [image], "images -> code maps (N, h, w) int32 of codebook indices")
        endpoints["decode_codes"] = Endpoint(decode_codes, [codes_spec], "code maps -> uint8 images",
                                             output_ranges={"images": [0, 255]})
        endpoints["reconstruct"] = Endpoint(reconstruct, [image], "images -> uint8 reconstructions",
                                            output_ranges={"images": [0, 255]})
        return endpoints

    # -- codes ------------------------------------------------------------------------------------
    def _check_images(self, images) -> np.ndarray:
        array = np.asarray(images)
        return kinds.image(self.image_shape, name="images").check(array, array.shape[0] if array.ndim == 4 else 1)

    def reconstruct(self, images) -> np.ndarray:
        """Images (N, S, S, C), uint8 or [-1, 1] floats -> reconstructions, float [-1, 1]."""
        return np.asarray(self._reconstruct(tf.constant(self._check_images(images))))

    def encode(self, images) -> np.ndarray:
        """Images (N, S, S, C) -> code maps (N, h, w) int32 in [0, num_codes)."""
        z_e = self.encoder(tf.constant(self._check_images(images)), training=False)
        return np.asarray(self.quantizer.codes_of(z_e))

    def decode_codes(self, codes) -> np.ndarray:
        """Code maps (N, h, w) of indices in [0, num_codes) -> images (N, S, S, C) in [-1, 1]."""
        codes = check_codes(codes, self.options.num_codes)
        if codes.ndim == 2:
            codes = codes[None]
        if codes.shape[1:] != (self.grid, self.grid):
            raise KerasGenError(f"codes must be code maps of shape (N, {self.grid}, {self.grid}), got {codes.shape}.")
        return np.asarray(self.decoder(self.quantizer.lookup(tf.constant(codes)), training=False))
