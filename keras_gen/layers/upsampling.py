"""Learned up-sampling, three ways, for any generator that enlarges its feature maps (the super-
resolution networks here; the translation generators' `--set upsample=...` takes the same names):

    transpose   a transposed ("fractionally-strided") convolution, stride r (DCGAN, the
                translation papers). Where the kernel size is not a multiple of the stride, output
                pixels receive unevenly many kernel taps: a checkerboard of period r appears and
                training must learn to hide it (Odena, Dumoulin & Olah 2016, "Deconvolution and
                Checkerboard Artifacts").
    resize      nearest-neighbour up-sampling, then a convolution ("resize-convolution", Odena et
                al.'s remedy): every output pixel sees the same number of taps, no checkerboard.
    subpixel    a convolution to r^2 times the channels at the low resolution, then depth-to-
                space (the "pixel shuffle" of Shi et al. 2016, ESPCN; SRResNet's up-sampling):
                cheap (the convolution runs before the enlargement) and exact in ONNX
                (DepthToSpace). Initialised with ICNR (Aitken et al. 2017: the r^2 sub-kernels of
                each output channel start equal), so at initialisation it is a nearest-neighbour
                resize-convolution and has no checkerboard either.

`upsample(x, filters, factor, method)` builds one stage of any method (factor 2 or 3; 4 is two
stages of 2, as SRResNet does).
"""

from __future__ import annotations

import keras
from keras import layers

UPSAMPLE_METHODS = ("subpixel", "transpose", "resize")


@keras.saving.register_keras_serializable(package="keras_gen")
class DepthToSpace(layers.Layer):
    """(B, H, W, r^2 C) -> (B, rH, rW, C): channel block (i, j) of each pixel becomes the pixel at
    offset (i, j) of its r x r cell (TF's depth_to_space, NHWC; ONNX DepthToSpace)."""

    def __init__(self, block_size: int, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x):
        import tensorflow as tf  # keras.ops has no depth-to-space; TF's op converts to ONNX's exactly

        return tf.nn.depth_to_space(x, self.block_size)

    def compute_output_shape(self, shape):
        r = self.block_size
        grow = lambda d: None if d is None else d * r  # noqa: E731
        return (shape[0], grow(shape[1]), grow(shape[2]), None if shape[3] is None else shape[3] // (r * r))

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package="keras_gen")
class ICNR(keras.initializers.Initializer):
    """ICNR (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution"): a kernel of
    r^2 C outputs whose r^2 sub-kernels of output channel c are one draw of `initializer`, so a
    depth-to-space after it starts as a nearest-neighbour up-sampling of one convolution."""

    def __init__(self, scale: int, initializer="glorot_uniform"):
        self.scale = int(scale)
        self.initializer = keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        from keras import ops

        *kernel, inputs, outputs = shape
        r2 = self.scale * self.scale
        base = self.initializer((*kernel, inputs, outputs // r2), dtype=dtype)  # (k, k, in, C)
        # depth_to_space reads channel (i r + j) C + c as sub-pixel (i, j) of channel c: repeat the
        # C-channel kernel r^2 times along the output axis
        return ops.tile(base, (1,) * len(kernel) + (1, r2))

    def get_config(self):
        return {"scale": self.scale, "initializer": keras.initializers.serialize(self.initializer)}


def check_upsample_method(method: str) -> str:
    if method not in UPSAMPLE_METHODS:
        from keras_gen.errors import KerasGenError

        raise KerasGenError(f"upsample must be one of {', '.join(UPSAMPLE_METHODS)}, got {method!r}.")
    return method


def upsample(x, filters: int, factor: int, method: str = "subpixel", kernel_size: int = 3, name: str = "upsample",
             kernel_initializer="glorot_uniform", use_bias: bool = True, transpose_name: str | None = None):
    """One up-sampling stage: (B, H, W, C) -> (B, factor H, factor W, filters), no activation.

    `use_bias=False` where a normalisation follows (its shift is the bias); `transpose_name`
    names the transposed convolution (default `{name}_transpose`), for networks whose
    checkpoints already hold it under another name (the translation generators' `up1`, ...)."""
    check_upsample_method(method)
    if method == "subpixel":
        x = layers.Conv2D(filters * factor * factor, kernel_size, padding="same", use_bias=use_bias,
                          kernel_initializer=ICNR(factor, kernel_initializer), name=f"{name}_conv")(x)
        return DepthToSpace(factor, name=f"{name}_shuffle")(x)
    if method == "transpose":
        return layers.Conv2DTranspose(filters, kernel_size, strides=factor, padding="same", use_bias=use_bias,
                                      kernel_initializer=kernel_initializer,
                                      name=transpose_name or f"{name}_transpose")(x)
    x = layers.UpSampling2D(factor, interpolation="nearest", name=f"{name}_nearest")(x)
    return layers.Conv2D(filters, kernel_size, padding="same", use_bias=use_bias,
                         kernel_initializer=kernel_initializer, name=f"{name}_conv")(x)


def upsampling_stages(scale: int) -> list[int]:
    """The factors of the stages that enlarge by `scale`: 2 -> [2], 3 -> [3], 4 -> [2, 2], 8 ->
    [2, 2, 2] (SRResNet's stages of two)."""
    from keras_gen.errors import KerasGenError

    scale = int(scale)
    if scale == 3:
        return [3]
    if scale >= 2 and scale & (scale - 1) == 0:
        return [2] * (scale.bit_length() - 1)
    raise KerasGenError(f"scale must be 2, 3, 4 or 8, got {scale}.")


__all__ = ["DepthToSpace", "ICNR", "UPSAMPLE_METHODS", "check_upsample_method", "upsample", "upsampling_stages"]
