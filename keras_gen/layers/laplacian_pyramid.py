"""Gaussian and Laplacian pyramids as LAPGAN uses them (Denton et al. 2015, section 3.1), on the
binomial blur, decimation and upsampling of keras_gen/losses/laplacian.py (Burt & Adelson 1983):

    Gaussian pyramid   G(I) = [I_0, ..., I_{K-1}],  I_{K-1} = I,  I_{k-1} = d(I_k)       (coarse to fine)
    Laplacian pyramid  h_0 = I_0,  h_k = I_k - u(I_{k-1})  for k >= 1
    reconstruction     I_0 = h_0,  I_k = u(I_{k-1}) + h_k:  the image back, exactly up to rounding

d blurs then drops every second row and column; u repeats each pixel 2 x 2 then blurs. Lists here
run coarse to fine (LAPGAN's level 0 is the coarse image generated from noise), the reverse of
`laplacian_pyramid` in losses/laplacian.py, which runs fine to coarse for its loss.
"""

from __future__ import annotations

import keras

from keras_gen.losses.laplacian import downsample, upsample


def gaussian_pyramid(images, levels: int) -> list:
    """[I_0 (coarsest, side S / 2^(levels-1)), ..., I_{levels-1} = images (B, S, S, C)]."""
    pyramid = [images]
    for _ in range(levels - 1):
        pyramid.insert(0, downsample(pyramid[0]))
    return pyramid


def laplacian_bands(images, levels: int) -> list:
    """[h_0 = I_0, h_1, ..., h_{levels-1}]: the low-pass image, then band-pass residuals coarse to fine."""
    pyramid = gaussian_pyramid(images, levels)
    return [pyramid[0]] + [pyramid[k] - upsample(pyramid[k - 1]) for k in range(1, levels)]


def reconstruct(bands: list):
    """Inverse of `laplacian_bands`: I_k = u(I_{k-1}) + h_k from I_0 = h_0; returns I_{K-1}."""
    image = bands[0]
    for band in bands[1:]:
        image = upsample(image) + band
    return image


@keras.saving.register_keras_serializable(package="keras_gen")
class PyramidUpsample(keras.layers.Layer):
    """u(x): (B, H, W, C) -> (B, 2H, 2W, C), each pixel repeated 2 x 2 then binomially blurred;
    the expansion step of the pyramid, as a layer of LAPGAN's sampling graph."""

    def call(self, images):
        return upsample(images)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, None if height is None else 2 * height, None if width is None else 2 * width, channels)
