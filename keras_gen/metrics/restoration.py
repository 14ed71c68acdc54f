"""Full-reference restoration metrics: PSNR and SSIM between outputs and ground truth.

Both take images in the library's range [-1, 1] (float, NHWC, or one HWC image; uint8 is
converted with `keras_gen.images.from_uint8`). The range matters: `max_val` is the width of the
value range, 2.0 for [-1, 1] (it would be 1.0 with low=0 for [0, 1] images). With that choice
the numbers equal the usual PSNR/SSIM of the same images as uint8 with max_val=255: PSNR is
invariant to shifting the images and to rescaling images and max_val together. SSIM is only
invariant to the rescaling - its luminance term compares absolute means - so images are first
shifted by -low to [0, max_val], the non-negative intensities the formula was designed for.

PSNR (e.g. Gonzalez & Woods, "Digital Image Processing"), per image:

    PSNR = 10 log10( max_val^2 / MSE ),   MSE = mean over pixels and channels of (a - b)^2

in dB, higher is better; identical images have MSE = 0 and PSNR = +inf (returned as inf, not
clipped: a finite cap would be an arbitrary number).

SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, "Image Quality Assessment: From Error Visibility
to Structural Similarity", eq. 13), in 11x11 Gaussian windows (sigma 1.5):

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))

with C1 = (0.01 max_val)^2 and C2 = (0.03 max_val)^2, averaged over windows and channels; 1 for
identical images. Both use TensorFlow's implementations (`tf.image.psnr`, `tf.image.ssim`);
the reported number is the mean over the batch of the per-image values.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import as_image_pair, check_int


def _reduce(values: np.ndarray, per_image: bool):
    return values if per_image else float(np.mean(values))


def psnr(a, b, max_val: float = 2.0, per_image: bool = False):
    """Peak signal-to-noise ratio in dB (mean over the batch, or per image). +inf if identical."""
    import tensorflow as tf

    a, b = as_image_pair(a, b, "images", "reference images", max_val)
    values = tf.image.psnr(tf.constant(a, tf.float32), tf.constant(b, tf.float32), max_val=max_val).numpy()
    return _reduce(values.astype(np.float64), per_image)


def ssim(
    a,
    b,
    max_val: float = 2.0,
    low: float = -1.0,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    per_image: bool = False,
):
    """Structural similarity (Wang et al. 2004), mean over the batch or per image; 1 if identical.

    `low` is the bottom of the value range (-1 for library images); images are shifted to
    [0, max_val] before SSIM so the result equals SSIM on the uint8 images with max_val=255.

    Images must be at least `filter_size` pixels on each side (the Gaussian window); for tiny
    images pass a smaller odd `filter_size` (e.g. 7 for 8x8 digits), noting that values are then
    not comparable with the standard 11x11 SSIM.
    """
    import tensorflow as tf

    a, b = as_image_pair(a, b, "images", "reference images", max_val)
    filter_size = check_int(filter_size, "filter_size")
    if min(a.shape[1:3]) < filter_size:
        raise KerasGenError(
            f"SSIM with filter_size={filter_size} needs images at least {filter_size}x{filter_size}, "
            f"got {a.shape[1]}x{a.shape[2]}. Pass a smaller odd filter_size (values then differ from "
            "standard 11x11 SSIM) or upsample both images first."
        )
    values = tf.image.ssim(
        tf.constant(a - low, tf.float32),
        tf.constant(b - low, tf.float32),
        max_val=max_val,
        filter_size=filter_size,
        filter_sigma=filter_sigma,
    ).numpy()
    return _reduce(values.astype(np.float64), per_image)
