"""The networks of the inpainting model (keras_gen/models/restoration/inpaint.py).

    build_inpainter      (image with its hole blanked, mask) -> a full image: an encoder that
                         halves `downsamplings` times, dilated 3x3 convolutions at the bottleneck
                         (Iizuka et al. 2017: rates 2, 4, 8, so every output pixel sees the whole
                         image at the sizes trained here, which a hole of half the image needs),
                         and a decoder that doubles back (keras_gen/layers/upsampling.py: resize,
                         subpixel or transpose); any size, padded by reflection to a multiple of
                         2^downsamplings and cropped back
    build_hole_critic    (completed image, mask) -> one logit per image: a PatchGAN whose patch
                         logits are averaged with weights = the share of each patch's area that
                         is hole, so the game is played on the filled region (Pathak et al.'s
                         adversary sees the fill; with holes anywhere, this one sees it in place)
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_gen.layers.style_blocks import CropToReference, ReflectToMultiple
from keras_gen.layers.upsampling import upsample


def build_inpainter(channels: int, filters: int = 32, downsamplings: int = 2, dilations=(2, 4, 8),
                    upsample_method: str = "resize", name: str = "inpainter") -> keras.Model:
    """[image (B, H, W, C) with zeros in the hole, mask (B, H, W, 1)] -> (B, H, W, C) in [-1, 1]."""
    image = keras.Input((None, None, channels), name="image")
    mask = keras.Input((None, None, 1), name="mask")
    x = layers.Concatenate(name="image_and_mask")([image, mask])
    x = ReflectToMultiple(2**downsamplings, name="pad_to_multiple")(x)
    x = layers.Conv2D(filters, 5, padding="same", activation="relu", name="stem")(x)
    width = filters
    for i in range(downsamplings):  # (B, H / 2^(i+1), W / 2^(i+1), F 2^(i+1))
        width *= 2
        x = layers.Conv2D(width, 3, 2, padding="same", activation="relu", name=f"down{i + 1}")(x)
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"down{i + 1}_conv")(x)
    for rate in dilations:  # the context: every pixel of the bottleneck sees the whole image
        x = layers.Conv2D(width, 3, padding="same", dilation_rate=rate, activation="relu", name=f"dilated{rate}")(x)
    for i in range(downsamplings):
        width //= 2
        x = layers.ReLU(name=f"up{i + 1}_relu")(upsample(x, width, 2, upsample_method, name=f"up{i + 1}"))
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"up{i + 1}_refine")(x)
    x = layers.Conv2D(channels, 3, padding="same", name="out")(x)
    x = CropToReference(name="crop_to_input")([x, image])
    return keras.Model([image, mask], layers.Activation("tanh", dtype="float32", name="images")(x), name=name)


@keras.saving.register_keras_serializable(package="keras_gen")
class HoleWeightedMean(layers.Layer):
    """[patch logits (B, h, w, 1), hole share of each patch (B, h, w, 1)] -> (B, 1): the logits
    averaged with those weights (a little weight everywhere, so an image without a hole counts)."""

    def call(self, inputs):
        logits, share = inputs
        weights = share + 1e-3
        return ops.sum(logits * weights, axis=(1, 2)) / ops.sum(weights, axis=(1, 2))

    def compute_output_shape(self, shapes):
        return (shapes[0][0], 1)


def build_hole_critic(image_shape, filters: int = 32, downsamplings: int = 3, wrap=None,
                      name: str = "discriminator") -> keras.Model:
    """[images (B, H, W, C), mask (B, H, W, 1)] -> logits (B, 1); `wrap` wraps each convolution."""
    wrap = wrap or (lambda layer: layer)
    height, width, channels = image_shape
    image = keras.Input((height, width, channels), name="images")
    mask = keras.Input((height, width, 1), name="mask")
    x = layers.Concatenate(name="image_and_mask")([image, mask])
    for i in range(downsamplings):
        x = wrap(layers.Conv2D(filters * 2**i, 4, 2, padding="same", name=f"conv{i + 1}"))(x)
        x = layers.LeakyReLU(0.2)(x)
    patches = wrap(layers.Conv2D(1, 3, padding="same", name="patch_logits"))(x)  # (B, H / 2^d, W / 2^d, 1)
    share = layers.AveragePooling2D(2**downsamplings, padding="same", name="hole_share")(mask)  # (B, h, w, 1)
    logits = HoleWeightedMean(name="hole_mean")([patches, share])
    return keras.Model([image, mask], layers.Activation("linear", dtype="float32", name="logits")(logits), name=name)


__all__ = ["HoleWeightedMean", "build_hole_critic", "build_inpainter"]
