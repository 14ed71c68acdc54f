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

Super-resolution's measure (`sr_scores`, `y_psnr`, `y_ssim`), as SR papers report it (the
MATLAB scripts behind Set5/Set14 tables; BasicSR's `calculate_psnr(..., crop_border=scale,
test_y_channel=True)`): the luma of ITU-R BT.601 in studio range, MATLAB's `rgb2ycbcr`,

    Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255        R, G, B in [0, 255]; Y in [16, 235]

kept in float (BasicSR's convention; MATLAB on uint8 rounds Y too: within ~0.01 dB), with `scale`
pixels shaved off every border (the bicubic baseline and the networks are least certain there),
PSNR with a peak of 255 and SSIM of the Y plane as above (11x11 Gaussian, sigma 1.5, valid
windows, C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2). A grey image reads as R = G = B, so grey and
colour images share the measure. RGB PSNR over the same crop is reported beside it.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import as_image_pair, check_int

Y_WEIGHTS = (65.481, 128.553, 24.966)  # MATLAB rgb2ycbcr's luma row, for R, G, B in [0, 1]
Y_OFFSET = 16.0


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


# -- super-resolution: the Y channel with the border shaved (module docstring) -----------------
def rgb_to_y(images) -> np.ndarray:
    """Images in [-1, 1] (float) or uint8, (N, H, W, 3) or grey (N, H, W, 1) -> float64 luma Y in
    [16, 235], (N, H, W, 1): MATLAB's rgb2ycbcr, a grey image read as R = G = B."""
    from keras_gen.images import from_uint8

    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = from_uint8(images)
    images = np.asarray(images, np.float64)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise KerasGenError(f"rgb_to_y takes images (N, H, W, 1 or 3), got shape {images.shape}.")
    rgb = (images + 1.0) / 2.0  # [0, 1], as MATLAB's double images
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    return Y_OFFSET + rgb @ np.asarray(Y_WEIGHTS)[:, None]


def shave(images, border: int):
    """`border` pixels cut off every side of (N, H, W, C) images (SR papers' `crop_border`)."""
    border = check_int(border, "border", minimum=0)
    images = np.asarray(images)
    if border and min(images.shape[1:3]) <= 2 * border:
        raise KerasGenError(f"images of {images.shape[1]}x{images.shape[2]} px have nothing left once {border} px "
                            "are shaved off each border: pass larger images.")
    return images[:, border:images.shape[1] - border, border:images.shape[2] - border] if border else images


def _sr_pair(output, target, border):
    output, target = as_image_pair(output, target, "super-resolved images", "high-resolution images", 2.0)
    return shave(output, border), shave(target, border)


def y_psnr(output, target, border: int = 0, per_image: bool = False):
    """PSNR in dB of the luma Y (peak 255) after shaving `border` pixels (module docstring)."""
    output, target = _sr_pair(output, target, border)
    mse = np.mean((rgb_to_y(output) - rgb_to_y(target)) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(255.0**2 / mse)
    return _reduce(values, per_image)


def y_ssim(output, target, border: int = 0, per_image: bool = False):
    """SSIM of the luma Y (Wang et al. 2004 on [16, 235]: max_val 255) after shaving `border`."""
    import tensorflow as tf

    output, target = _sr_pair(output, target, border)
    if min(output.shape[1:3]) < 11:
        raise KerasGenError(f"SSIM needs at least 11x11 px after the border is shaved, got {output.shape[1]}x"
                            f"{output.shape[2]}.")
    values = tf.image.ssim(tf.constant(rgb_to_y(output), tf.float32), tf.constant(rgb_to_y(target), tf.float32),
                           max_val=255.0, filter_size=11, filter_sigma=1.5).numpy()
    return _reduce(values.astype(np.float64), per_image)


def sr_scores(output, target, scale: int, per_image: bool = False) -> dict:
    """{"y_psnr", "y_ssim", "rgb_psnr"} of super-resolved images against the originals, as SR
    papers score (Y of BT.601, `scale` pixels shaved off each border) and RGB PSNR beside it.
    Both in [-1, 1] (float; quantise outputs to uint8 first, as a saved image is) or uint8."""
    scale = check_int(scale, "scale")
    output_s, target_s = _sr_pair(output, target, scale)
    return {"y_psnr": y_psnr(output, target, scale, per_image), "y_ssim": y_ssim(output, target, scale, per_image),
            "rgb_psnr": psnr(output_s, target_s, per_image=per_image)}


# -- perceptual distance: VGG features, LPIPS-style without its learned weights ----------------
PERCEPTUAL_DISTANCE_LAYERS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")


PERCEPTUAL_BATCH_PIXELS = 4 * 512 * 512  # images per VGG call: as many as fit this many pixels (~1 GB at conv1)


def perceptual_distance(output, target, layers=PERCEPTUAL_DISTANCE_LAYERS, weights: str = "auto",
                        per_image: bool = False, batch_size: int | None = None, per_layer: bool = False):
    """Distance of VGG16 features, lower is more alike: for each layer l, the features unit-
    normalised over channels at each position, their squared difference summed over channels
    and averaged over positions; then the mean over layers (Zhang et al. 2018's LPIPS with every
    channel weighted 1, the "baseline" their paper compares against). MSE-trained networks score
    well in PSNR and badly here: a blur keeps the mean and loses the edges VGG responds to.
    Images in [-1, 1] or uint8, any size of at least 16 px (five VGG blocks). `per_layer`: a dict
    {layer: each layer's term} instead (the distance is their mean), from the same features:
    which depth a method wins or loses at. `batch_size`: images per VGG call (default: as many
    as hold `PERCEPTUAL_BATCH_PIXELS` pixels, so a batch of small images is one call)."""
    import tensorflow as tf

    from keras_gen.features.vgg import vgg_extractor

    output, target = as_image_pair(output, target, "images", "reference images", 2.0)
    extractor = vgg_extractor("vgg16", tuple(layers), weights=weights, channels=output.shape[-1])
    if batch_size is None:
        batch_size = max(1, PERCEPTUAL_BATCH_PIXELS // (output.shape[1] * output.shape[2]))
    terms = {name: [] for name in layers}
    for start in range(0, len(output), batch_size):
        got = extractor(tf.constant(output[start:start + batch_size], tf.float32))
        want = extractor(tf.constant(target[start:start + batch_size], tf.float32))
        for name in layers:
            a, b = (tf.math.l2_normalize(f, axis=-1, epsilon=1e-10) for f in (got[name], want[name]))
            terms[name].append(tf.reduce_mean(tf.reduce_sum(tf.square(a - b), axis=-1), axis=(1, 2)).numpy())
    terms = {name: np.concatenate(values).astype(np.float64) for name, values in terms.items()}
    if per_layer:
        return {name: _reduce(values, per_image) for name, values in terms.items()}
    return _reduce(distance_of_layer_terms(terms), per_image)


def distance_of_layer_terms(terms: dict):
    """The perceptual distance from its per-layer terms ({layer: term}, as `perceptual_distance(...,
    per_layer=True)` gives them, per image or not): their mean, every layer weighted alike."""
    return np.mean(np.stack(list(terms.values())), axis=0)
