"""Sinusoidal timestep features: Vaswani et al. 2017, "Attention Is All You Need", sec. 3.5, as
the diffusion U-Net uses them (Ho et al. 2020, appendix B):

    PE(t)_{i}         = sin(t / 10000^{i / (d/2)}),   i = 0 .. d/2 - 1
    PE(t)_{d/2 + i}   = cos(t / 10000^{i / (d/2)})

A fixed, smooth code of the integer step t: nearby steps get nearby features, and a following
MLP (in the U-Net) maps them to what each residual block adds.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gen")
class SinusoidalEmbedding(keras.layers.Layer):
    """t (B,) (int or float steps) -> (B, dim) features; no weights."""

    def __init__(self, dim: int, max_period: float = 10000.0, **kwargs):
        super().__init__(**kwargs)
        if dim < 2 or dim % 2:
            raise ValueError(f"SinusoidalEmbedding needs an even dim >= 2, got {dim}.")
        self.dim, self.max_period = int(dim), float(max_period)

    def call(self, t):
        half = self.dim // 2
        # frequencies 1 ... 1/max_period, geometrically spaced: the paper's 10000^{-i/(d/2)}
        frequencies = ops.exp(-math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * frequencies[None, :]  # (B, d/2)
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)  # (B, d)

    def compute_output_shape(self, t_shape):
        return (t_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}
