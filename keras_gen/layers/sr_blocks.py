"""The networks of the super-resolution models (keras_gen/models/restoration/), blocks first.

    build_vdsr        Kim, Lee & Lee 2016: D 3x3 convolutions of F filters with ReLU on the
                      interpolated image, the last to C channels with no activation: the residual
                      r = HR - ILR that the model adds back (the network sees any size)
    build_srresnet    Ledig et al. 2017, fig. 4: a 9x9 convolution and PReLU; B residual blocks
                      (conv-BN-PReLU-conv-BN, + input); conv-BN + the long skip; up-sampling
                      stages (sub-pixel x2 each, PReLU); a 9x9 convolution to C, tanh here
                      (images in [-1, 1])
    build_espcn       Shi et al. 2016: 5x5 (64), 3x3 (32) convolutions with tanh at the low
                      resolution, then a 3x3 convolution to r^2 C and depth-to-space
    build_srgan_discriminator   Ledig et al. fig. 4: eight 3x3 convolutions (k3n64s1, k3n64s2,
                      k3n128s1, k3n128s2, ... k3n512s2; BN after the first), LeakyReLU 0.2,
                      dense 1024, LeakyReLU, dense 1; global average pooling before the dense
                      layers so D takes any patch size

Widths are options (`filters`, `blocks`, ...); the papers' are the defaults of the models, the
CPU-sized ones the benchmark's.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_gen.layers.upsampling import upsample, upsampling_stages


def build_vdsr(channels: int, depth: int = 20, filters: int = 64, name: str = "vdsr") -> keras.Model:
    """interpolated images (B, H, W, C) -> the residual (B, H, W, C): `depth` 3x3 layers, ReLU
    between, He initialisation (Kim et al. sec. 3.1 follow He et al. 2015)."""
    image = keras.Input((None, None, channels), name="interpolated")
    x = image
    for i in range(depth - 1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                          name=f"conv{i + 1}")(x)
    residual = layers.Conv2D(channels, 3, padding="same", kernel_initializer="he_normal", name="residual")(x)
    return keras.Model(image, residual, name=name)


def _prelu(name):
    return layers.PReLU(shared_axes=[1, 2], name=name)  # one slope per channel: any image size


def residual_block(x, filters: int, name: str):
    """SRResNet's block: conv-BN-PReLU-conv-BN, added to its input."""
    h = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    h = _prelu(f"{name}_prelu")(layers.BatchNormalization(name=f"{name}_bn1")(h))
    h = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(h)
    h = layers.BatchNormalization(name=f"{name}_bn2")(h)
    return layers.Add(name=f"{name}_add")([x, h])


def build_srresnet(channels: int, scale: int, blocks: int = 16, filters: int = 64, upsample_method: str = "subpixel",
                   name: str = "generator") -> keras.Model:
    """low-resolution images (B, h, w, C) in [-1, 1], any size -> (B, scale h, scale w, C) in [-1, 1]."""
    low = keras.Input((None, None, channels), name="image")
    x = _prelu("head_prelu")(layers.Conv2D(filters, 9, padding="same", name="head")(low))
    skip = x
    for i in range(blocks):
        x = residual_block(x, filters, f"block{i + 1}")
    x = layers.BatchNormalization(name="trunk_bn")(layers.Conv2D(filters, 3, padding="same", name="trunk_conv")(x))
    x = layers.Add(name="long_skip")([skip, x])
    for i, factor in enumerate(upsampling_stages(scale)):  # (B, h f, w f, F) per stage
        x = _prelu(f"up{i + 1}_prelu")(upsample(x, filters, factor, upsample_method, name=f"up{i + 1}"))
    x = layers.Conv2D(channels, 9, padding="same", name="tail")(x)
    return keras.Model(low, layers.Activation("tanh", dtype="float32", name="images")(x), name=name)


def build_espcn(channels: int, scale: int, filters: int = 64, upsample_method: str = "subpixel",
                name: str = "espcn") -> keras.Model:
    """low-resolution images (B, h, w, C) -> (B, scale h, scale w, C) in [-1, 1]: two feature
    layers at the low resolution (tanh, as the paper), then one up-sampling stage of `scale`
    (the paper's sub-pixel layer, or the other methods for comparison)."""
    low = keras.Input((None, None, channels), name="image")
    x = layers.Conv2D(filters, 5, padding="same", activation="tanh", name="features1")(low)
    x = layers.Conv2D(filters // 2, 3, padding="same", activation="tanh", name="features2")(x)
    x = upsample(x, channels, scale, upsample_method, name="up")
    return keras.Model(low, layers.Activation("tanh", dtype="float32", name="images")(x), name=name)


def build_srgan_discriminator(channels: int, filters: int = 64, dense: int = 1024, wrap=None,
                              name: str = "discriminator") -> keras.Model:
    """images (B, H, W, C), any H, W >= 16 -> logits (B, 1). `wrap` wraps each layer (the game's
    spectral normalisation when asked)."""
    wrap = wrap or (lambda layer: layer)
    image = keras.Input((None, None, channels), name="images")
    x = layers.LeakyReLU(0.2)(wrap(layers.Conv2D(filters, 3, padding="same", name="conv1"))(image))
    widths = [(filters, 2), (2 * filters, 1), (2 * filters, 2), (4 * filters, 1), (4 * filters, 2),
              (8 * filters, 1), (8 * filters, 2)]
    for i, (width, stride) in enumerate(widths):
        x = wrap(layers.Conv2D(width, 3, stride, padding="same", use_bias=False, name=f"conv{i + 2}"))(x)
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization(name=f"bn{i + 2}")(x))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.LeakyReLU(0.2)(wrap(layers.Dense(dense, name="dense1"))(x))
    logits = wrap(layers.Dense(1, name="dense2"))(x)
    return keras.Model(image, layers.Activation("linear", dtype="float32", name="logits")(logits), name=name)


__all__ = ["build_espcn", "build_srgan_discriminator", "build_srresnet", "build_vdsr", "residual_block"]
