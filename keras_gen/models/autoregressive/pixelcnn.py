"""Gated PixelCNN: van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016,
"Conditional Image Generation with PixelCNN Decoders" (after van den Oord, Kalchbrenner &
Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", for the masks and the 256-way softmax).

The image x (H x W pixels, C sub-pixels each) is modelled exactly, one sub-pixel at a time in
raster order, each a categorical distribution given everything before it:
    p(x | y) = prod_{i=1}^{H W} prod_{c=1}^{C} p(x_{i,c} | x_{<i}, x_{i,<c}, y)
(y the class for `cpixelcnn`). One network evaluation gives every conditional at once
(training is parallel); sampling draws sub-pixels one by one (keras_gen/samplers/pixelcnn.py).
The network is a stack of gated blocks (keras_gen/layers/masked_conv.py): vertical and
horizontal stacks, no blind spot, and the gate
    y = tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h)          (eq. 2 and 4)
with h a one-hot class (a learned per-class bias). Then ReLU, a masked 1x1 convolution, ReLU
and a masked 1x1 convolution to the logits (B, H, W, C, K).

Outputs (`--set output=`):
    softmax256   K = 256: each sub-pixel a categorical over its 8-bit levels (the papers').
                 log_likelihood is exact and discrete, so bits/dim = NLL / (H W C ln 2).
    binary       K = 2: pixels binarised at the midpoint (x > 0), a Bernoulli each; the
                 likelihood is of the binarised image, so evaluation reports no bits/dim.
Training minimises the mean cross entropy, reported in bits per sub-pixel (`bits_per_dim`).
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
from keras_gen.layers.masked_conv import GatedPixelCNNBlock, MaskedConv2D
from keras_gen.models.base import GenerativeModel, ModelOptions, option

CATEGORIES = {"softmax256": 256, "binary": 2}


def build_pixelcnn(shape, categories: int, filters: int, num_layers: int, kernel_size: int,
                   first_kernel_size: int, feed: str = "levels", num_classes: int | None = None,
                   name: str = "pixelcnn") -> keras.Model:
    """[images (B, H, W, C) in [-1, 1] | codes (B, H, W) int32] (+ label (B,)) -> logits (B, H, W, C, K)."""
    height, width, channels = shape
    if feed == "codes":  # a VQ-VAE code map: one categorical "sub-pixel", embedded
        codes = keras.Input((height, width), dtype="int32", name="codes")
        x = layers.Embedding(categories, filters, name="code_embedding")(codes)  # (B, H, W, F)
        inputs, groups = [codes], 1
    else:
        images = keras.Input(shape, name="images")
        x, inputs, groups = images, [images], channels
    label = None
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
    vertical, horizontal = x, x
    for i in range(num_layers):
        block = GatedPixelCNNBlock(filters, first_kernel_size if i == 0 else kernel_size, first=i == 0,
                                   channel_groups=groups, num_classes=num_classes, name=f"gated_{i}")
        vertical, horizontal = block([vertical, horizontal] + ([label] if label is not None else []))
    h = MaskedConv2D(filters, 1, "B", groups, name="head")(layers.ReLU()(horizontal))
    h = MaskedConv2D(channels * categories, 1, "B", groups, name="head_logits")(layers.ReLU()(h))
    logits = layers.Reshape((height, width, channels, categories), name="logits")(h)  # (B, H, W, C, K)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], logits, name=name)


@keras.saving.register_keras_serializable(package="keras_gen")
class PixelCNN(GenerativeModel):
    """A gated PixelCNN trained by maximum likelihood; see the module docstring."""

    @dataclass
    class Options(ModelOptions):
        filters: int = option(64, "channels of each stack (the paper's 384 on ImageNet; 64 suits 16-32 px)", min=1)
        layers: int = option(8, "gated blocks; the receptive field grows by kernel_size // 2 a block", min=1)
        kernel_size: int = option(3, "kernel of the gated blocks (the paper's 3)", min=1)
        first_kernel_size: int = option(7, "kernel of the first block (the paper's 7x7 mask-A layer)", min=1)
        output: str = option("softmax256", "softmax256: 256-way categorical per sub-pixel; binary: Bernoulli "
                             "on pixels binarised at the midpoint", choices=("softmax256", "binary"))
        temperature: float = option(1.0, "default sampling temperature (a request may set its own)",
                                    min=1e-3, max=10.0)
        learning_rate: float = option(1e-3, "Adam", min=0.0, min_exclusive=True)

    conditional = False
    harness_options = {"filters": 4, "layers": 2, "kernel_size": 3, "first_kernel_size": 3}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        if o.kernel_size % 2 == 0 or o.first_kernel_size % 2 == 0:
            raise KerasGenError(f"PixelCNN kernels need a centre tap: kernel_size and first_kernel_size must be odd, "
                                f"got {o.kernel_size} and {o.first_kernel_size}.")
        if o.filters < self.channels:
            raise KerasGenError(f"PixelCNN needs filters >= channels ({self.channels}) to give each colour its "
                                f"own channel group, got filters={o.filters}.")
        self.categories = CATEGORIES[o.output]
        self.pixelcnn = build_pixelcnn(self.image_shape, self.categories, o.filters, o.layers, o.kernel_size,
                                       o.first_kernel_size, num_classes=self.num_classes if self.conditional else None)
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.built = True

    @property
    def likelihood_kind(self):
        """Discrete over the 256 levels for softmax256; binary models' likelihood is not of the data."""
        return "discrete" if self.options.output == "softmax256" else None

    def default_optimizers(self):
        return {"pixelcnn": keras.optimizers.Adam(self.options.learning_rate)}

    @property
    def metrics(self):
        return [self.bpd_tracker]

    # -- data -> categories -------------------------------------------------------------------
    def targets(self, images):
        """Images in [-1, 1] -> the category of each sub-pixel (B, H, W, C) int32."""
        if self.options.output == "binary":
            return tf.cast(images > 0.0, tf.int32)
        return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.int32)

    def levels(self, targets):
        """Categories -> the image the network reads (the sampler's "levels" feed, identically)."""
        return tf.cast(targets, tf.float32) * (2.0 / (self.categories - 1)) - 1.0

    def _inputs(self, images, labels):
        return [images, labels] if self.conditional else images

    def _nll_per_image(self, images, labels, training=False):
        """-log p(x | y) in nats (B,), and the logits."""
        targets = self.targets(images)
        logits = self.pixelcnn(self._inputs(self.levels(targets), labels), training=training)
        per_value = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.cast(logits, tf.float32))
        return tf.reduce_sum(per_value, axis=[1, 2, 3])

    def train_step(self, data):
        images, labels = (data[0], data[1]) if self.conditional else (
            data[0] if isinstance(data, (tuple, list)) else data, None)
        dims = float(np.prod(self.image_shape))
        with tf.GradientTape() as tape:
            nll = tf.reduce_mean(self._nll_per_image(images, labels, training=True)) / dims  # nats per sub-pixel
        self.apply_gradients("pixelcnn", tape, self.scale_loss(nll))
        self.bpd_tracker.update_state(nll / math.log(2.0))
        return {"bits_per_dim": self.bpd_tracker.result()}

    def call(self, inputs, training=False):
        return self.pixelcnn(inputs, training=training)

    # -- likelihood ----------------------------------------------------------------------------
    def log_likelihood(self, images, labels=None, batch_size: int = 64) -> np.ndarray:
        """Exact per-image negative log-likelihood in nats (N,) of 8-bit images (uint8, or [-1, 1]
        floats on the 256 levels). The class-conditional model marginalises the class,
        p(x) = (1/K) sum_y p(x | y), unless `labels` are given."""
        spec = kinds.image(self.image_shape, name="images")
        images = np.asarray(images)
        images = spec.check(images, len(images) if images.ndim == 4 else 1)
        given = None if labels is None else self._label_spec().check(labels, len(images))
        out = []
        for start in range(0, len(images), batch_size):
            x = tf.constant(images[start:start + batch_size])
            if not self.conditional:
                nll = self._nll_per_image(x, None)
            elif given is not None:
                nll = self._nll_per_image(x, tf.constant(given[start:start + batch_size]))
            else:
                per_class = [-self._nll_per_image(x, tf.fill(tf.shape(x)[:1], y)) for y in range(self.num_classes)]
                nll = -(tf.reduce_logsumexp(tf.stack(per_class), axis=0) - math.log(self.num_classes))
            out.append(np.asarray(nll))
        return np.concatenate(out).astype(np.float64)

    def _label_spec(self):
        raise KerasGenError(f"{self.registered_name} is not class-conditional: it takes no labels.")

    # -- sampling: the loop over sub-pixels, the network exported alone -----------------------
    def input_specs(self):
        return []

    def sampler(self):
        return PixelCNNSampler(height=self.image_size, width=self.image_size, channels=self.channels,
                               categories=self.categories, feed="levels", input="images",
                               conditions=[s.name for s in self.input_specs()], temperature=self.options.temperature)

    def network_specs(self):
        return [kinds.image(self.image_shape, name="images"), *self.input_specs()]

    def network(self, images, label=None):
        """Images (B, H, W, C) in [-1, 1] (+ labels) -> {"logits": (B, H, W, C, K)}, every conditional at once."""
        return {"logits": self.pixelcnn(self._inputs(images, label), training=False)}


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalPixelCNN(PixelCNN):
    """p(x | y): the class enters every gated block (eq. 4 with a one-hot h)."""

    conditional = True

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is None:
            raise KerasGenError("cpixelcnn is class-conditional: it needs labelled data (digits, shapes, photos, "
                                "textures, a labelled TFDS set, or a folder with one subfolder per class).")
        super().__init__(**kwargs)

    def _label_spec(self):
        return kinds.label(self.num_classes)

    def input_specs(self):
        return [self._label_spec()]
