"""CycleGAN's generator: Johnson et al. 2016's image transformation network as Zhu et al. 2017 use
it (appendix 7.2), with instance normalisation and reflection padding.

    c7s1-64         7x7 convolution, stride 1, over a reflection-padded input; norm; ReLU
    d128, d256      3x3 convolutions with stride 2 (`downsamplings` of them, widths doubling)
    R256 x blocks   residual blocks: two reflection-padded 3x3 convolutions, norm (ReLU between),
                    added to their input (6 blocks for 128 px images, 9 for 256 and more)
    u128, u64       3x3 fractionally-strided convolutions with stride 1/2 (transposed, stride 2);
                    `upsample=resize|subpixel` puts a 3x3 resize- or sub-pixel convolution there
                    (keras_gen/layers/upsampling.py): a 3x3 kernel at stride 2 gives output pixels
                    unevenly many taps, the checkerboard of Odena et al. 2016, which these avoid
    c7s1-C          7x7 convolution to the output channels, tanh

Fully convolutional: sides that are multiples of 2^downsamplings pass as they are; others are
padded by reflection to the next multiple and the output cropped back (ReflectToMultiple /
CropToReference), so any image of at least `min_side(downsamplings)` pixels a side goes through.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_gen.layers.style_blocks import CropToReference, ReflectionPadding2D, ReflectToMultiple
from keras_gen.layers.translation_unet import normalization, up_stage
from keras_gen.layers.upsampling import check_upsample_method


def min_side(downsamplings: int) -> int:
    """The smallest image side the network takes: its bottleneck (side / 2^d) must be at least 2
    pixels, which the residual blocks' reflection padding of 1 needs."""
    return 2 ** (downsamplings + 1)


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)


def _conv_norm_relu(x, width: int, kernel: int, strides: int, norm: str, name: str, relu: bool = True):
    if strides == 1:  # reflection padding keeps the border free of a dark zero frame
        x = ReflectionPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.Conv2D(width, kernel, strides, "valid" if strides == 1 else "same", use_bias=False,
                      kernel_initializer=_init(), name=name)(x)
    x = normalization(norm, f"{name}_norm")(x)
    return layers.ReLU()(x) if relu else x


def build_resnet_generator(channels: int, filters: int = 64, blocks: int = 9, downsamplings: int = 2,
                           norm: str = "instance", upsample_method: str = "transpose",
                           name: str = "generator") -> keras.Model:
    """images (B, H, W, channels) in [-1, 1], any H, W >= min_side(downsamplings) -> the same shape."""
    check_upsample_method(upsample_method)
    source = keras.Input((None, None, channels), name="image")
    x = ReflectToMultiple(2**downsamplings, name="pad_to_multiple")(source)
    x = _conv_norm_relu(x, filters, 7, 1, norm, "c7s1")  # (B, H', W', F)
    width = filters
    for i in range(downsamplings):  # (B, H' / 2^(i+1), W' / 2^(i+1), F 2^(i+1))
        width *= 2
        x = _conv_norm_relu(x, width, 3, 2, norm, f"down{i + 1}")
    for i in range(blocks):
        h = _conv_norm_relu(x, width, 3, 1, norm, f"res{i + 1}_a")
        h = _conv_norm_relu(h, width, 3, 1, norm, f"res{i + 1}_b", relu=False)
        x = layers.Add(name=f"res{i + 1}")([x, h])
    for i in range(downsamplings):
        width //= 2
        x = up_stage(x, width, upsample_method, f"up{i + 1}", use_bias=False, transpose_kernel=3)
        x = layers.ReLU()(normalization(norm, f"up{i + 1}_norm")(x))
    x = ReflectionPadding2D(3, name="out_pad")(x)
    x = layers.Conv2D(channels, 7, 1, "valid", kernel_initializer=_init(), name="out")(x)
    x = CropToReference(name="crop_to_input")([x, source])
    return keras.Model(source, layers.Activation("tanh", dtype="float32", name="images")(x), name=name)


__all__ = ["build_resnet_generator", "min_side"]
