"""Coordinate channels (CoordConv: Liu et al. 2018, "An intriguing failing of convolutional neural
networks and the CoordConv solution"): a convolution is translation-equivariant, so it cannot
place what it draws at a position it is told (a caption's "in the top left", a decoder's x, y)
without a map of where each pixel is. Concatenating the pixel's coordinates gives it one; the
paper shows plain transposed convolutions failing to draw a shape at given coordinates and
coordinate channels fixing it. Used by the chairs decoder and text2img's generator and
discriminators."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_gen")
class CoordinateChannels(layers.Layer):
    """x (B, H, W, C) -> (B, H, W, C + 2): each pixel's centre, column then row, as fractions of
    the width and height mapped to [-1, 1] (CoordConv: Liu et al. 2018, "An intriguing failing of
    convolutional neural networks and the CoordConv solution", which shows plain transposed
    convolutions failing to draw a shape at given coordinates and coordinate channels fixing it)."""

    def build(self, input_shape):
        height, width = int(input_shape[1]), int(input_shape[2])
        centres = [(np.arange(n, dtype=np.float32) + 0.5) / n * 2.0 - 1.0 for n in (width, height)]
        columns, rows = np.meshgrid(*centres)  # (H, W) each
        self.grid = np.stack([columns, rows], axis=-1)[None]  # (1, H, W, 2)

    def call(self, x):
        grid = ops.convert_to_tensor(self.grid, dtype=x.dtype)
        return ops.concatenate([x, ops.broadcast_to(grid, (ops.shape(x)[0], *self.grid.shape[1:]))], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2)

