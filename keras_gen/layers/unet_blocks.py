"""The blocks of the diffusion U-Net (Ho et al. 2020, appendix B, after PixelCNN++ and the Wide
ResNet): a residual block that adds the time (and class) embedding, self-attention for low
resolutions, and up-sampling by resize + convolution.

    ResidualBlock   h = conv(swish(GN(x)));  h += Dense(swish(emb))[:, None, None, :];
                    h = conv(swish(GN(h)));  out = shortcut(x) + h
                    GroupNormalization from Keras core (Wu & He 2018): batch-size independent,
                    so a 1-image request and a 64-image training batch normalise alike.
    SelfAttention2D out = x + proj(softmax(Q K^T / sqrt(C)) V) over the H W positions of GN(x):
                    cost grows as (H W)^2, hence only at low resolution.
    ResizeUpsample  nearest-neighbour x2 then a 3x3 convolution: no checkerboard artefacts
                    (Odena, Dumoulin & Olah 2016), unlike a strided transposed convolution.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops


def norm_groups(channels: int, groups: int) -> int:
    """The largest group count <= `groups` that divides `channels` (tiny test widths)."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


@keras.saving.register_keras_serializable(package="keras_gen")
class ResidualBlock(layers.Layer):
    """[x (B, H, W, C_in), emb (B, E)] -> (B, H, W, filters)."""

    def __init__(self, filters: int, groups: int = 32, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.groups, self.dropout = int(filters), int(groups), float(dropout)
        self.conv1 = layers.Conv2D(self.filters, 3, padding="same", name="conv1")
        self.emb_proj = layers.Dense(self.filters, name="emb_proj")
        self.norm2 = layers.GroupNormalization(norm_groups(self.filters, self.groups), name="norm2")
        self.drop = layers.Dropout(self.dropout)
        # zero-initialised last convolution: each block starts as the identity (Ho et al.'s code)
        self.conv2 = layers.Conv2D(self.filters, 3, padding="same", kernel_initializer="zeros", name="conv2")
        self.shortcut = None

    def build(self, input_shapes):
        x_shape, emb_shape = input_shapes
        self.norm1 = layers.GroupNormalization(norm_groups(x_shape[-1], self.groups), name="norm1")
        self.norm1.build(x_shape)
        self.conv1.build(x_shape)
        self.emb_proj.build(emb_shape)
        out_shape = (*x_shape[:-1], self.filters)
        self.norm2.build(out_shape)
        self.conv2.build(out_shape)
        if x_shape[-1] != self.filters:  # a 1x1 projection where the width changes
            self.shortcut = layers.Conv2D(self.filters, 1, name="shortcut")
            self.shortcut.build(x_shape)

    def call(self, inputs, training=False):
        x, emb = inputs
        h = self.conv1(ops.silu(self.norm1(x)))
        h = h + self.emb_proj(ops.silu(emb))[:, None, None, :]
        h = self.conv2(self.drop(ops.silu(self.norm2(h)), training=training))
        return (self.shortcut(x) if self.shortcut is not None else x) + h

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="keras_gen")
class SelfAttention2D(layers.Layer):
    """(B, H, W, C) -> (B, H, W, C): single-head self-attention over positions, residual."""

    def __init__(self, groups: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def build(self, x_shape):
        channels = x_shape[-1]
        self.norm = layers.GroupNormalization(norm_groups(channels, self.groups), name="norm")
        self.qkv = layers.Dense(3 * channels, name="qkv")
        self.proj = layers.Dense(channels, kernel_initializer="zeros", name="proj")  # starts as the identity
        self.norm.build(x_shape)
        self.qkv.build(x_shape)
        self.proj.build(x_shape)

    def call(self, x):
        shape = ops.shape(x)
        channels = x.shape[-1]
        q, k, v = ops.split(self.qkv(self.norm(x)), 3, axis=-1)  # (B, H, W, C) each
        q, k, v = (ops.reshape(a, (shape[0], -1, channels)) for a in (q, k, v))  # (B, HW, C)
        weights = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 2, 1))) / math.sqrt(channels), axis=-1)
        attended = ops.reshape(ops.matmul(weights, v), shape)  # (B, H, W, C)
        return x + self.proj(attended)

    def compute_output_shape(self, x_shape):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="keras_gen")
class ResizeUpsample(layers.Layer):
    """(B, H, W, C) -> (B, 2H, 2W, filters): nearest x2, then a 3x3 convolution."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.resize = layers.UpSampling2D(2, interpolation="nearest")
        self.conv = layers.Conv2D(self.filters, 3, padding="same", name="conv")

    def build(self, x_shape):
        # Every sub-layer built here: under a tf.distribute strategy, Keras builds a model with an
        # unbuilt layer by calling it on the data before fit.
        self.resize.build(x_shape)
        self.conv.build((x_shape[0], None if x_shape[1] is None else 2 * x_shape[1],
                         None if x_shape[2] is None else 2 * x_shape[2], x_shape[3]))

    def call(self, x):
        return self.conv(self.resize(x))

    def compute_output_shape(self, x_shape):
        return (x_shape[0], *(None if d is None else 2 * d for d in x_shape[1:3]), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
