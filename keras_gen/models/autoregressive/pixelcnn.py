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
    y = tanh(W_f * x + V_f * s) * sigmoid(W_g * x + V_g * s)           (eq. 2 and 5)
in both stacks of every block, each with its own V. Then ReLU, a masked 1x1 convolution, ReLU
and a masked 1x1 convolution to the logits (B, H, W, C, K).

`cpixelcnn` conditions on the class y (`--set conditioning=`):
    map (default)   s = m(y), a learned map (H, W, E) per class (a one-hot y through the most
                    general linear m: an embedding of H W E numbers), so V * s is a 1x1
                    convolution: location-dependent conditioning (eq. 5), the class saying
                    where strokes go as well as how much;
    bias            V^T h with h the one-hot class (eq. 4): a per-class bias in every gate, the
                    same at every position, one vector shared by the two stacks of a block.
With the bias, samples followed their label 26.5% of the time on 16 px digits (30 epochs,
filters 32): a bias cannot say where a stroke starts (the network senses position only
through the zero padding at the borders), so the first strokes are any digit's, and the context
then decides the class.

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
                   conditioning: str = "bias", class_map_channels: int = 16, name: str = "pixelcnn") -> keras.Model:
    """[images (B, H, W, C) in [-1, 1] | codes (B, H, W) int32] (+ label (B,)) -> logits (B, H, W, C, K).

    With `num_classes`, the label conditions every gate: `conditioning="map"` through a learned
    per-class map (H, W, class_map_channels) (eq. 5, location-dependent), "bias" through a
    learned per-class bias (eq. 4)."""
    height, width, channels = shape
    if feed == "codes":  # a VQ-VAE code map: one categorical "sub-pixel", embedded
        codes = keras.Input((height, width), dtype="int32", name="codes")
        x = layers.Embedding(categories, filters, name="code_embedding")(codes)  # (B, H, W, F)
        inputs, groups = [codes], 1
    else:
        images = keras.Input(shape, name="images")
        x, inputs, groups = images, [images], channels
    condition, per_class = [], {}
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        if conditioning == "map":  # s = m(h): for a one-hot h, a learned map per class (the most general linear m)
            class_map = layers.Embedding(num_classes, height * width * class_map_channels, name="class_map")(label)
            condition = [layers.Reshape((height, width, class_map_channels), name="class_map_grid")(class_map)]
            per_class = {"condition_channels": class_map_channels}
        else:
            condition, per_class = [label], {"num_classes": num_classes}
    vertical, horizontal = x, x
    for i in range(num_layers):
        block = GatedPixelCNNBlock(filters, first_kernel_size if i == 0 else kernel_size, first=i == 0,
                                   channel_groups=groups, name=f"gated_{i}", **per_class)
        vertical, horizontal = block([vertical, horizontal] + condition)
    h = MaskedConv2D(filters, 1, "B", groups, name="head")(layers.ReLU()(horizontal))
    h = MaskedConv2D(channels * categories, 1, "B", groups, name="head_logits")(layers.ReLU()(h))
    logits = layers.Reshape((height, width, channels, categories), name="logits")(h)  # (B, H, W, C, K)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], logits, name=name)


def sub_pixel_categories(images, output: str):
    """Images in [-1, 1] -> the category of each sub-pixel (B, H, W, C) int32: one of the 256
    levels (softmax256), or the pixel binarised at the midpoint (binary). Every discrete
    autoregressive model (PixelCNN, PixelRNN) models these, so their likelihoods compare."""
    if output == "binary":
        return tf.cast(images > 0.0, tf.int32)
    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.int32)


def category_levels(targets, categories: int):
    """Categories -> the image the network reads (the sampler's "levels" feed, identically)."""
    return tf.cast(targets, tf.float32) * (2.0 / (categories - 1)) - 1.0


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
    harness_image_size = 8  # sampled one pixel per network call: 64 calls, not 256

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
                                       o.first_kernel_size, **self._conditioning())
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.built = True

    def _conditioning(self) -> dict:
        """build_pixelcnn's class arguments: none for the unconditional model."""
        return {}

    def _drop_labels(self, labels):
        """The training labels, some replaced by the null class (cpixelcnn's label dropout)."""
        return labels

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
        return sub_pixel_categories(images, self.options.output)

    def levels(self, targets):
        return category_levels(targets, self.categories)

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
        labels = self._drop_labels(labels)
        dims = float(np.prod(self.image_shape))
        with tf.GradientTape() as tape:
            nll = tf.reduce_mean(self._nll_per_image(images, labels, training=True)) / dims  # nats per sub-pixel
        self.apply_gradients("pixelcnn", tape, nll)
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
    """p(x | y): the class enters both gates of both stacks of every block (module docstring)."""

    @dataclass
    class Options(PixelCNN.Options):
        conditioning: str = option("map", "map: a learned per-class map (H, W, class_map_channels), projected into "
                                   "every gate (eq. 5, location-dependent); bias: a per-class bias in every gate "
                                   "(eq. 4), whose samples follow the label far less", choices=("map", "bias"))
        class_map_channels: int = option(16, "channels E of the per-class map (conditioning=map): K H W E weights",
                                         min=1)
        label_dropout: float = option(0.1, "share of training labels replaced by a null class, which trains p(x) "
                                      "beside p(x | y) for guidance (Ho & Salimans 2021 use 0.1-0.2); 0: no null "
                                      "class, no guidance", min=0.0, max=0.9)
        # 2, not 3: on 16 px digits (40 epochs) w = 2 gave label accuracy 0.900 and FID 6.8 against
        # w = 3's 0.840 and 13.2, and w = 5 was worse still (docs/models/autoregressive.md). A
        # checkpoint stores every option, so runs trained before keep the 3 they were saved with.
        guidance: float = option(2.0, "default classifier-free guidance scale w of a request: logits "
                                 "l(x | null) + w (l(x | y) - l(x | null)); 1 is p(x | y) itself", min=0.0, max=20.0)

    conditional = True
    # Configs saved before the class map and the null class: the per-class bias, no guidance
    # (class_map_channels and guidance are unused there).
    options_added_later = {"conditioning": "bias", "label_dropout": 0.0}

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is None:
            raise KerasGenError("cpixelcnn is class-conditional: it needs labelled data (digits, shapes, photos, "
                                "textures, a labelled TFDS set, or a folder with one subfolder per class).")
        super().__init__(**kwargs)

    @property
    def guided(self) -> bool:
        """Trained with a null class (label_dropout > 0), so requests take a guidance scale."""
        return self.options.label_dropout > 0

    def _conditioning(self):
        o = self.options
        # the null class is one more row of the class map (or bias), index num_classes
        return {"num_classes": self.num_classes + (1 if self.guided else 0), "conditioning": o.conditioning,
                "class_map_channels": o.class_map_channels}

    def _drop_labels(self, labels):
        if not self.guided:
            return labels
        labels = tf.cast(labels, tf.int32)
        dropped = self.random_uniform(tf.shape(labels)) < self.options.label_dropout
        return tf.where(dropped, tf.fill(tf.shape(labels), self.num_classes), labels)

    def _label_spec(self):
        return kinds.label(self.num_classes)

    def input_specs(self):
        if not self.guided:
            return [self._label_spec()]
        return [self._label_spec(), kinds.option("guidance", self.options.guidance, 0.0, 20.0, "float32",
                                                 "classifier-free guidance scale: 1 samples p(x | y), above 1 "
                                                 "follows the label more closely, 0 ignores it")]

    def network(self, images, label=None, guidance=None):
        """Images (B, H, W, C) in [-1, 1], labels (B,) [, guidance scale w] -> {"logits": (B, H, W, C, K)}.

        Guided (Ho & Salimans 2021, on each sub-pixel's logits): l(x | null) + w (l(x | y) - l(x | null)),
        both evaluated in one call on the batch twice over."""
        if guidance is None:
            return super().network(images, label)
        label = tf.cast(label, tf.int32)
        both = self.pixelcnn([tf.concat([images, images], axis=0),
                              tf.concat([label, tf.fill(tf.shape(label), self.num_classes)], axis=0)], training=False)
        conditional, unconditional = tf.split(both, 2, axis=0)
        return {"logits": unconditional + tf.cast(guidance, both.dtype) * (conditional - unconditional)}
