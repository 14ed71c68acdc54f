"""Laplacian-pyramid L1 loss (Lap1) of Bojanowski et al. 2018, "Optimizing the Latent Space of
Generative Networks", section 3.3, after the pyramid of Burt & Adelson 1983.

The pyramid of an image x: G^0 = x, G^{j+1} = down(G^j) (blur, keep every second pixel), and

    L^j(x) = G^j - up(G^{j+1})    for j < J - 1,       L^{J-1}(x) = G^{J-1}

(up: repeat each pixel 2 x 2, then blur). The loss weighs the L1 distance of each level:

    Lap1(x, x') = sum_j 2^{-2j} |L^j(x) - L^j(x')|_1

Fine levels carry edges, the last one the low-pass image; unlike a plain L2 the per-level L1
does not average away detail the way squared error does (GLO's blur argument). Here each |.|_1
is divided by the pixel count of the full image (H * W * C) and the result averaged over the
batch, so the loss is on the scale of a mean absolute error whatever the image size.

The blur is the 5-tap binomial [1, 4, 6, 4, 1] / 16 in each direction (Burt & Adelson's
generating kernel, a = 0.375), with reflected borders so edges are not darkened. Everything is
TensorFlow ops; `laplacian_pyramid` is exposed for tests and pictures.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

BINOMIAL_5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0


def max_levels(image_size: int) -> int:
    """Levels the pyramid can have: halve while the side stays >= 4 (the 5-tap blur needs 2
    reflected pixels each side)."""
    levels, side = 1, int(image_size)
    while side % 2 == 0 and side // 2 >= 4:
        levels, side = levels + 1, side // 2
    return levels


def blur(images):
    """Separable binomial blur of (B, H, W, C) images, reflected borders, same size."""
    channels = images.shape[-1]
    kernel = tf.constant(BINOMIAL_5, dtype=images.dtype)  # the images' dtype (float16 under mixed precision)
    horizontal = tf.tile(tf.reshape(kernel, (1, 5, 1, 1)), (1, 1, channels, 1))  # (1, 5, C, 1)
    vertical = tf.tile(tf.reshape(kernel, (5, 1, 1, 1)), (1, 1, channels, 1))  # (5, 1, C, 1)
    padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT")
    x = tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(x, vertical, [1, 1, 1, 1], "VALID")


def downsample(images):
    """blur, then every second row and column: (B, H, W, C) -> (B, H/2, W/2, C)."""
    return blur(images)[:, ::2, ::2, :]


def upsample(images):
    """each pixel repeated 2 x 2, then blurred: (B, H, W, C) -> (B, 2H, 2W, C)."""
    return blur(tf.repeat(tf.repeat(images, 2, axis=1), 2, axis=2))


def laplacian_pyramid(images, levels: int) -> list:
    """[L^0, ..., L^{levels-1}] of (B, H, W, C) images: band-pass levels, then the low-pass rest."""
    pyramid, current = [], images
    for _ in range(levels - 1):
        smaller = downsample(current)
        pyramid.append(current - upsample(smaller))
        current = smaller
    pyramid.append(current)
    return pyramid


def laplacian_l1(x, x_hat, levels: int | None = None):
    """Lap1(x, x_hat) = sum_j 2^{-2j} |L^j(x) - L^j(x_hat)|_1 / (H W C), averaged over the batch.

    `levels` None: as many as the image side allows (`max_levels`)."""
    x = tf.convert_to_tensor(x, tf.float32)
    x_hat = tf.convert_to_tensor(x_hat, tf.float32)
    levels = max_levels(x.shape[1]) if levels is None else int(levels)
    pixels = float(np.prod(x.shape[1:]))
    total = 0.0
    # The pyramid is linear, so the pyramid of the difference is the difference of pyramids.
    for j, level in enumerate(laplacian_pyramid(x - x_hat, levels)):
        total = total + 2.0 ** (-2 * j) * tf.reduce_sum(tf.abs(level), axis=[1, 2, 3]) / pixels
    return tf.reduce_mean(total)
