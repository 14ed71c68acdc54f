"""Blocks of feed-forward stylizers (Johnson et al. 2016; Dumoulin et al. 2017; Huang & Belongie
2017), for images of any height and width.

    ReflectionPadding2D   pads H and W by mirroring: no dark frame where a zero-padded
                          convolution sees the border (Dumoulin et al. pad every convolution so).
    CropToReference       [x, reference] -> x[:, :H_ref, :W_ref]: strided halvings round odd
                          sides up, so the up-sampled output is cropped back to the input size.

Up-sampling is keras_gen.layers.unet_blocks.ResizeUpsample's idea (nearest x2, then a
convolution; Odena, Dumoulin & Olah 2016, no checkerboard artefacts), here with a reflection-
padded convolution, written inline by the networks that use it.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_gen")
class ReflectionPadding2D(layers.Layer):
    """(B, H, W, C) -> (B, H + 2p, W + 2p, C), mirrored (needs H, W > p)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, shape):
        grow = lambda d: None if d is None else d + 2 * self.padding  # noqa: E731
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="keras_gen")
class CropToReference(layers.Layer):
    """[x (B, H', W', C), reference (B, H, W, *)] -> x[:, :H, :W, :] (H' >= H, W' >= W)."""

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, shapes):
        x_shape, ref_shape = shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


def reflect_conv(x, filters: int, kernel: int, strides: int = 1, name: str | None = None):
    """A `kernel` x `kernel` convolution over a reflection-padded input: 'same' size / strides."""
    x = ReflectionPadding2D(kernel // 2, name=None if name is None else f"{name}_pad")(x)
    return layers.Conv2D(filters, kernel, strides, padding="valid", name=name)(x)





@keras.saving.register_keras_serializable(package="keras_gen")
class ReflectToMultiple(layers.Layer):
    """(B, H, W, C) -> (B, H', W', C), H' and W' the next multiples of `multiple`, mirrored at the
    bottom and right (needs H, W >= multiple): an encoder that halves k times then loses no
    border, and CropToReference takes the padding off the decoded image."""

    def __init__(self, multiple: int, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, x):
        import tensorflow as tf  # keras.ops.pad takes static widths only; these depend on the input

        shape = tf.shape(x)
        # (m - H mod m) mod m with non-negative operands: tf2onnx turns a floormod of a negative
        # number into a truncated remainder (-1 where TF gives 1)
        pad_h, pad_w = ((self.multiple - shape[i] % self.multiple) % self.multiple for i in (1, 2))
        return tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, shape):
        up = lambda d: None if d is None else -(-d // self.multiple) * self.multiple  # noqa: E731
        return (shape[0], up(shape[1]), up(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}
__all__ = ["CropToReference", "ReflectToMultiple", "ReflectionPadding2D", "reflect_conv"]
