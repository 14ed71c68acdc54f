"""pix2pix's generator: an encoder-decoder with skip connections, the U-Net (Ronneberger et al.
2015) as Isola et al. 2017 use it (section 3.2.1 and appendix 6.1.1).

    encoder   C64 - C128 - C256 - C512 - C512 - ... : 4x4 convolutions with stride 2, each halving
              the image, LeakyReLU(0.2); normalisation on all but the first (and the innermost,
              whose 1x1 map has no statistics to normalise);
    decoder   the mirror: 4x4 transposed convolutions with stride 2, ReLU, normalisation; the
              output of decoder layer i is concatenated with encoder layer depth - i (the skip),
              so low-level structure (edges, the position of a shape) goes straight across;
              dropout 0.5 on the first three decoder layers: the paper's noise (`dropout`);
    output    a transposed convolution to the output channels, tanh.

`upsample` picks the decoder's up-sampling (keras_gen/layers/upsampling.py): `transpose` is the
paper's 4x4 stride-2 transposed convolution (4 is a multiple of the stride, so its taps are even in
each cell, yet a learned kernel still leaves a period-2 pattern); `resize` (nearest, then a 3x3
convolution) and `subpixel` (a 3x3 convolution to 4x the channels, then depth-to-space, ICNR-
initialised) have no checkerboard by construction. The transposed layers keep their names
(`up1`, ..., `out`), so checkpoints written before the option load as they are.

Filters double per level from `filters` up to 8 x `filters` (64 -> 512 in the paper). At 256 px the
paper's depth is 8 (a 1 x 1 bottleneck); `depth` levels take sides that are multiples of 2^depth.

Any size: the network pads its input by reflection to the next multiple of 2^depth and crops the
output back (keras_gen.layers.style_blocks.ReflectToMultiple / CropToReference), so an image of
any height and width of at least 2^depth pixels goes through, and at a multiple nothing changes.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_gen.layers.normalization import InstanceNormalization
from keras_gen.layers.style_blocks import CropToReference, ReflectToMultiple
from keras_gen.layers.upsampling import UPSAMPLE_METHODS, check_upsample_method, upsample

NORMALIZATIONS = ("instance", "batch")
DROPOUT_LAYERS = 3  # decoder layers with dropout (the paper's: the three innermost)


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)  # the paper's N(0, 0.02)


def normalization(kind: str, name: str | None = None):
    """The normalisation layer of `kind`: instance (per image and channel) or batch."""
    if kind == "instance":
        return InstanceNormalization(name=name)
    if kind == "batch":
        return layers.BatchNormalization(name=name)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {kind!r}")


def up_stage(x, filters: int, method: str, name: str, use_bias: bool, transpose_kernel: int):
    """One x2 stage of a translation generator's decoder: the paper's transposed convolution
    (`transpose_kernel` wide, named `name` as before the option) or a 3x3 resize/sub-pixel stage."""
    return upsample(x, filters, 2, method, kernel_size=transpose_kernel if method == "transpose" else 3, name=name,
                    kernel_initializer=_init(), use_bias=use_bias, transpose_name=name)


def build_unet_generator(input_channels: int, output_channels: int, depth: int, filters: int = 64,
                         norm: str = "instance", dropout: float = 0.5, upsample_method: str = "transpose",
                         name: str = "generator") -> keras.Model:
    """images (B, H, W, input_channels) in [-1, 1], any H, W >= 2^depth -> (B, H, W,
    output_channels) in [-1, 1]."""
    if depth < 1:
        raise ValueError(f"a U-Net needs depth >= 1, got {depth}")
    check_upsample_method(upsample_method)
    source = keras.Input((None, None, input_channels), name="image")
    x = ReflectToMultiple(2**depth, name="pad_to_multiple")(source)  # (B, H', W', C), H', W' multiples of 2^depth
    widths = [filters * min(2**i, 8) for i in range(depth)]
    skips = []
    for i, width in enumerate(widths):  # down: (B, H' / 2^(i+1), W' / 2^(i+1), width)
        x = layers.Conv2D(width, 4, 2, "same", use_bias=i == 0 or i == depth - 1, kernel_initializer=_init(),
                          name=f"down{i + 1}")(x if i == 0 else layers.LeakyReLU(0.2)(x))
        if 0 < i < depth - 1:
            x = normalization(norm, f"down{i + 1}_norm")(x)
        skips.append(x)
    for i, width in enumerate(reversed(widths[:-1])):  # up, to the level of skip depth - 2 - i
        x = layers.ReLU()(x)
        x = up_stage(x, width, upsample_method, f"up{i + 1}", use_bias=False, transpose_kernel=4)
        x = normalization(norm, f"up{i + 1}_norm")(x)
        if i < DROPOUT_LAYERS and dropout:
            x = layers.Dropout(dropout, name=f"up{i + 1}_dropout")(x)
        x = layers.Concatenate(name=f"skip{i + 1}")([x, skips[depth - 2 - i]])  # (B, h, w, 2 width)
    x = layers.ReLU()(x)
    x = up_stage(x, output_channels, upsample_method, "out", use_bias=True, transpose_kernel=4)
    x = CropToReference(name="crop_to_input")([x, source])
    return keras.Model(source, layers.Activation("tanh", dtype="float32", name="images")(x), name=name)


__all__ = ["NORMALIZATIONS", "UPSAMPLE_METHODS", "build_unet_generator", "normalization", "up_stage"]
