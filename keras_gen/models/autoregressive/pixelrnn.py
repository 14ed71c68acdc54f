"""PixelRNN: van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks".

The same model of the image as PixelCNN (keras_gen/models/autoregressive/pixelcnn.py): each
sub-pixel a categorical over its 256 levels given everything before it in raster order,
    p(x) = prod_{i=1}^{H W} prod_{c=1}^{C} p(x_{i,c} | x_{<i}, x_{i,<c})                   (eq. 1-2)
with the same targets, the same exact discrete likelihood (bits/dim = NLL / (H W C ln 2)) and
the same sampler (keras_gen/core/samplers/pixelcnn.py: one network call per sub-pixel, Gumbel-max
draws, numpy at the edge and tf.while_loop in the SavedModel), so the two compare figure for
figure. What differs is the network: a 7 x 7 convolution with mask A to 2h features, then
`layers` residual LSTM layers (keras_gen/layers/pixel_rnn.py, sec. 3.1-3.3):

    lstm=row        Row LSTM: row by row, 1 x k input-to-state and state-to-state convolutions;
                    a triangular receptive field, H sequential steps a layer
    lstm=diagonal   Diagonal BiLSTM: two diagonal LSTMs over the skewed map, the right-to-left one
                    shifted down a row; the whole causal context, 2 (H + W) steps a layer (the
                    network runs one zero border column wider, below)

then ReLU, a masked 1 x 1 convolution to 2h, ReLU and a masked 1 x 1 convolution to the logits
(B, H, W, C, K) (sec. 3.4 and table 1's output layers). Training evaluates every conditional at
once, like PixelCNN, but the recurrence runs the rows (or diagonals) one after another: the
paper's trade-off, PixelRNN's longer-range context for slower training; both sample one
sub-pixel per network call.

Outputs (`--set output=`) as PixelCNN's: softmax256 (the paper's 256-way softmax) or binary.

The border column (lstm=diagonal, `border_column`, on by default). The mask-A convolution gives
position (i, j) nothing of pixel (i, j) itself, so the features carry a pixel only at positions
after it: (i, j + 1) and the next rows. The last pixel of a row, (i, W - 1), has no position
after it in its row; the right-to-left pass, shifted down a row so that (i + 1, j) reads row i
from column j on, therefore never receives it, and in the next row it is in the features only of
(i + 1, j') for j' >= W - 1 - (k - 1) / 2 (k the mask-A kernel), later than (i + 1, j) for every
smaller j: those pixels missed it (199 of the 200 earlier pixels for (12, 8) of 16 px with
k = 7, whatever the layers or widths; with colours, its last sub-pixel). The network therefore
runs on the image with one zero column appended on the right: that column's mask-A features
hold the row's last pixel through their left taps, the right-to-left pass starts there, and the
column is cropped before the output layers. It adds no weights (a checkpoint saved before it
has the same weights and loads with border_column false, computing what it did) and one
diagonal step per direction and layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.core_tf.samplers import PixelCNNSampler
from keras_gen.errors import KerasGenError
from keras_gen.layers.masked_conv import MaskedConv2D
from keras_gen.layers.pixel_rnn import DiagonalBiLSTM, RowLSTM
from keras_gen.models.autoregressive.pixelcnn import CATEGORIES, category_levels, sub_pixel_categories
from keras_gen.models.base import GenerativeModel, ModelOptions, option

LSTMS = ("row", "diagonal")


def build_pixelrnn(shape, categories: int, lstm: str, units: int, num_layers: int, kernel_size: int,
                   first_kernel_size: int, border_column: bool = True, name: str = "pixelrnn") -> keras.Model:
    """images (B, H, W, C) in [-1, 1] -> logits (B, H, W, C, K). `border_column` (Diagonal BiLSTM
    only): run the layers one zero column wider on the right (module docstring)."""
    height, width, channels = shape
    images = keras.Input(shape, name="images")
    border_column = border_column and lstm == "diagonal"
    x = layers.ZeroPadding2D(((0, 0), (0, 1)), name="border_column")(images) if border_column else images
    x = MaskedConv2D(2 * units, first_kernel_size, "A", channels, name="input_conv")(x)  # (B, H, W (+ 1), 2h)
    for i in range(num_layers):
        if lstm == "row":
            x = RowLSTM(units, kernel_size, channels, name=f"row_lstm_{i}")(x)
        else:
            x = DiagonalBiLSTM(units, channels, name=f"diagonal_bilstm_{i}")(x)
    if border_column:  # it has served the right-to-left passes and is no pixel of the image
        x = layers.Cropping2D(((0, 0), (0, 1)), name="crop_border_column")(x)
    h = MaskedConv2D(2 * units, 1, "B", channels, name="head")(layers.ReLU()(x))
    h = MaskedConv2D(channels * categories, 1, "B", channels, name="head_logits")(layers.ReLU()(h))
    logits = layers.Reshape((height, width, channels, categories), name="logits")(h)  # (B, H, W, C, K)
    return keras.Model(images, logits, name=name)


@keras.saving.register_keras_serializable(package="keras_gen")
class PixelRNN(GenerativeModel):
    """A PixelRNN trained by maximum likelihood; see the module docstring."""

    @dataclass
    class Options(ModelOptions):
        lstm: str = option("row", "row: Row LSTM (fast, triangular context); diagonal: Diagonal BiLSTM (the whole "
                           "context, about 4x the steps)", choices=LSTMS)
        units: int = option(32, "LSTM states h per position; the layers carry 2h features (the paper's h = 16 on "
                            "MNIST, 128 on CIFAR-10)", min=1)
        layers: int = option(4, "residual LSTM layers (the paper's 7 on MNIST, 12 on CIFAR-10)", min=1)
        kernel_size: int = option(3, "Row LSTM: width k of its input-to-state and state-to-state convolutions "
                                  "(the paper's 3)", min=1)
        first_kernel_size: int = option(7, "the mask-A input convolution (the paper's 7x7)", min=1)
        border_column: bool = option(True, "lstm=diagonal: run the layers one zero column wider on the right, so "
                                     "the right-to-left pass reads each row's last pixel and every pixel sees "
                                     "all earlier ones; false: the network of runs saved before it, which "
                                     "misses the last pixel of the row above at columns j < W - 1 - (k - 1) / 2 "
                                     "(k = first_kernel_size)")
        output: str = option("softmax256", "softmax256: 256-way categorical per sub-pixel; binary: Bernoulli on "
                             "pixels binarised at the midpoint", choices=tuple(CATEGORIES))
        temperature: float = option(1.0, "default sampling temperature (a request may set its own)", min=1e-3,
                                    max=10.0)
        learning_rate: float = option(1e-3, "Adam (the paper used RMSProp)", min=0.0, min_exclusive=True)

    options_added_later = {"border_column": False}  # runs saved before it: the network they were trained as

    harness_options = {"units": 4, "layers": 1, "first_kernel_size": 3}
    harness_image_size = 8  # sampled one sub-pixel per call: 64 calls, not 256
    square_only = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        if o.kernel_size % 2 == 0 or o.first_kernel_size % 2 == 0:
            raise KerasGenError(f"PixelRNN kernels need a centre tap: kernel_size and first_kernel_size must be odd, "
                                f"got {o.kernel_size} and {o.first_kernel_size}.")
        if o.units < self.channels:
            raise KerasGenError(f"PixelRNN needs units >= channels ({self.channels}) to give each colour its own "
                                f"group of states, got units={o.units}.")
        self.categories = CATEGORIES[o.output]
        self.pixelrnn = build_pixelrnn(self.image_shape, self.categories, o.lstm, o.units, o.layers, o.kernel_size,
                                       o.first_kernel_size, o.border_column)
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.built = True

    @property
    def likelihood_kind(self):
        """Discrete over the 256 levels for softmax256; binary models' likelihood is not of the data."""
        return "discrete" if self.options.output == "softmax256" else None

    def default_optimizers(self):
        return {"pixelrnn": keras.optimizers.Adam(self.options.learning_rate)}

    @property
    def metrics(self):
        return [self.bpd_tracker]

    # -- data -> categories: PixelCNN's, so the likelihoods are of the same discrete data ------
    def targets(self, images):
        return sub_pixel_categories(images, self.options.output)

    def levels(self, targets):
        return category_levels(targets, self.categories)

    def _nll_per_image(self, images, training=False):
        """-log p(x) in nats (B,)."""
        targets = self.targets(images)
        logits = self.pixelrnn(self.levels(targets), training=training)
        per_value = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.cast(logits, tf.float32))
        return tf.reduce_sum(per_value, axis=[1, 2, 3])

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            nll = tf.reduce_mean(self._nll_per_image(images, training=True)) / float(self.image_pixels)  # nats/dim
        self.apply_gradients("pixelrnn", tape, nll)
        self.bpd_tracker.update_state(nll / math.log(2.0))
        return {"bits_per_dim": self.bpd_tracker.result()}

    def call(self, images, training=False):
        return self.pixelrnn(images, training=training)

    def log_likelihood(self, images, batch_size: int = 64) -> np.ndarray:
        """Exact per-image negative log-likelihood in nats (N,) of 8-bit images (uint8, or [-1, 1]
        floats on the 256 levels)."""
        spec = kinds.image(self.image_shape, name="images")
        images = np.asarray(images)
        images = spec.check(images, len(images) if images.ndim == 4 else 1)
        fn = getattr(self, "_nll_fn", None)
        if fn is None:
            fn = self._nll_fn = tf.function(self._nll_per_image, reduce_retracing=True)
        return np.concatenate([np.asarray(fn(tf.constant(images[i:i + batch_size])), np.float64)
                               for i in range(0, len(images), batch_size)])

    # -- sampling: PixelCNN's loop over sub-pixels, the network exported alone ----------------
    def input_specs(self):
        return []

    def sampler(self):
        height, width, channels = self.image_shape
        return PixelCNNSampler(height=height, width=width, channels=channels, categories=self.categories,
                               feed="levels", input="images", conditions=[], temperature=self.options.temperature)

    def network_specs(self):
        return [kinds.image(self.image_shape, name="images")]

    def network(self, images):
        """Images (B, H, W, C) in [-1, 1] -> {"logits": (B, H, W, C, K)}, every conditional at once."""
        return {"logits": self.pixelrnn(images, training=False)}
