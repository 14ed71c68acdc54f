"""The PatchGAN discriminator (Isola et al. 2017, section 3.2.2; appendix 6.1.2): a fully
convolutional D that classifies each N x N patch of an image as real or fake, and is run across
the image, its answers averaged by the loss. It models high frequencies only (the L1 term holds
the low ones), has fewer parameters than a whole-image D and takes images of any size.

    C64 - C128 - ... (n_layers 4x4 convolutions with stride 2) - C(8 filters max, stride 1) - 1
    LeakyReLU(0.2); normalisation on all but the first; the last convolution gives one logit per
    patch, a map (B, h, w, 1).

Its receptive field (the patch size N) follows from the layers: N = 7 with no stride-2 layer, then
N <- 2 N + 2 per stride-2 layer (16, 34, 70, 142): n_layers 3 is the paper's 70 x 70 PatchGAN at
256 px, where a patch spans 27% of the image side. `patch_layers_for` keeps that proportion for
other sizes (at 32 px: N = 7, 64 px: 16, 128 px: 34), so a small image is not judged by one
patch that covers all of it (an ImageGAN, which the paper found worse).
"""

from __future__ import annotations

import keras
from keras import layers

from keras_gen.layers.translation_unet import normalization

PAPER_PATCH_FRACTION = 70 / 256  # the 70 x 70 patch of a 256 x 256 image
MAX_LAYERS = 6


def receptive_field(n_layers: int) -> int:
    """Side N of the patch each output logit of a PatchGAN with `n_layers` stride-2 layers sees."""
    field = 7  # the two stride-1 4x4 convolutions at the end: 4 + 3
    for _ in range(n_layers):
        field = 2 * field + 2
    return field


def patch_layers_for(side: int, fraction: float = PAPER_PATCH_FRACTION) -> int:
    """The stride-2 layers whose patch is nearest `fraction` of an image side (smaller on a tie)."""
    target = fraction * side
    return min(range(MAX_LAYERS + 1), key=lambda n: (abs(receptive_field(n) - target), n))


def build_patch_discriminator(input_channels: int, n_layers: int, filters: int = 64, norm: str = "instance",
                              wrap=None, name: str = "discriminator") -> keras.Model:
    """images (B, H, W, input_channels) -> patch logits (B, h, w, 1), one per receptive field.
    A conditional D takes the input image and the (real or generated) output stacked on the
    channels. `norm`: instance, batch or none (the receptive field is then exact: normalisation
    statistics couple every position). `wrap` wraps each convolution (spectral normalisation)."""
    wrap = wrap or (lambda layer: layer)
    init = keras.initializers.RandomNormal(stddev=0.02)
    images = keras.Input((None, None, input_channels), name="images")
    x = images
    for i in range(n_layers + 1):  # n_layers with stride 2, then one with stride 1
        width = filters * min(2**i, 8)
        x = wrap(layers.Conv2D(width, 4, 2 if i < n_layers else 1, "same", use_bias=i == 0, kernel_initializer=init,
                               name=f"conv{i + 1}"))(x)
        if i > 0 and norm != "none":
            x = normalization(norm, f"conv{i + 1}_norm")(x)
        x = layers.LeakyReLU(0.2)(x)
    logits = wrap(layers.Conv2D(1, 4, 1, "same", kernel_initializer=init, name="patches"))(x)  # (B, h, w, 1)
    return keras.Model(images, layers.Activation("linear", dtype="float32", name="logits")(logits), name=name)


__all__ = ["PAPER_PATCH_FRACTION", "build_patch_discriminator", "patch_layers_for", "receptive_field"]
