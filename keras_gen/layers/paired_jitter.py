"""Random jitter and mirroring of training images (Isola et al. 2017, appendix 6.2; Zhu et al.
2017): each image is enlarged by `scale` (286 / 256 in the papers), a window of its own size is
cut at a random place, and the result is mirrored left-right with probability 1/2.

One draw per example applies to every image given beside it: an input and its target (pix2pix's
(A, B) pairs, or a low- and a high-resolution image of different sizes) get the same window and
the same flip, in coordinates relative to the image, so a pair stays aligned pixel for pixel.
Windows are cut with `tf.image.crop_and_resize` (bilinear; the enlargement is folded into the
box), and a mirrored box flips the crop in the same op: nothing is resized twice.
"""

from __future__ import annotations

PAPER_SCALE = 286 / 256


def random_jitter(images, *paired, seed, scale: float = PAPER_SCALE, flip: bool = True):
    """(images, *paired) each (B, H_k, W_k, C_k), jittered alike per example; one tensor when
    no pairs are given, else a list. `seed` is a stateless seed (2,) tensor. scale 1 and no flip
    is the identity."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    u = tf.random.stateless_uniform((batch, 3), seed=seed)  # (B, 3): vertical place, horizontal place, flip
    extent = 1.0 / float(scale)  # the window's side as a fraction of the enlarged image's
    top, left = u[:, 0] * (1.0 - extent), u[:, 1] * (1.0 - extent)
    bottom, right = top + extent, left + extent
    mirrored = u[:, 2] < 0.5 if flip else tf.zeros((batch,), tf.bool)
    x1, x2 = tf.where(mirrored, right, left), tf.where(mirrored, left, right)  # x1 > x2 flips the crop
    # Normalised coordinates (0 and 1: the centres of the first and last pixel), the same for
    # every image of the example whatever its size.
    boxes = tf.stack([top, x1, bottom, x2], axis=1)  # (B, 4)
    out = []
    for x in (images, *paired):
        size = tuple(x.shape[1:3]) if None not in tuple(x.shape[1:3]) else tf.shape(x)[1:3]
        crops = tf.image.crop_and_resize(tf.cast(x, tf.float32), boxes, tf.range(batch), size, method="bilinear")
        out.append(tf.cast(crops, x.dtype))
    return out if paired else out[0]


__all__ = ["PAPER_SCALE", "random_jitter"]
