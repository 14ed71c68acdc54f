"""Differentiable augmentation for discriminators on small data.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"):
apply the same family of differentiable transforms T to real and to fake images before D, in
D's step and in G's step, so D never sees an un-augmented image and G's gradient flows through
T:   L_D = f(D(T(x))) + h(D(T(G(z)))),   L_G = g(D(T(G(z)))).  The policies, on images in
[-1, 1]:

    color        brightness  x + (u - 0.5),            u ~ U[0, 1) per image
                 saturation  (x - mean_c x) 2u + mean_c x     (mean over channels)
                 contrast    (x - mean x)(u + 0.5) + mean x   (mean over the image)
    translation  shift by up to 1/8 of the size in each direction, zero padded
    cutout       zero a square of half the size at a random place

ADA (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data") applies
each transform to each image with probability p, and tunes p from the overfitting heuristic
r_t = E[sign(D(x_real))]: r_t near 1 means D is confidently right on every real image. Every
few steps, p moves by sign(r_t - target) * (images seen) / (images for p to go 0 -> 1), clipped
to [0, 1] (`ada_update`). With p < 1 "leaking" augmentations stay rare enough that G does not
learn them.

Every draw comes from a stateless seed, so the same seed gives the same transform: two batches
augmented with one seed get identical translations, cutouts and colour changes.
"""

from __future__ import annotations

import tensorflow as tf

from keras_gen.distribute import replica_rows

POLICIES = ("color", "translation", "cutout")
# The `augment` option's choices: no augmentation, or a comma list of policies in this order.
AUGMENT_CHOICES = ("none", "color", "translation", "cutout", "color,translation", "color,cutout",
                   "translation,cutout", "color,translation,cutout")
TRANSLATION_RATIO, CUTOUT_RATIO = 0.125, 0.5  # DiffAugment's defaults


def parse_policy(policy: str) -> tuple[str, ...]:
    return () if policy in ("", "none") else tuple(policy.split(","))


def _uniform(seed, index, shape):
    """U[0, 1) of `shape` ((B, ...): one draw per image) for transform `index`; under a
    tf.distribute strategy, this replica's rows of the global batch's draw (replica_rows), so
    an image is augmented the same way on any number of replicas."""
    seed = tf.random.experimental.stateless_fold_in(seed, index)
    return replica_rows(lambda s: tf.random.stateless_uniform(s, seed=seed), shape)


def _gate(images, augmented, seed, index, p):
    """Each image's transform applied with probability p (ADA), kept otherwise."""
    if p is None:
        return augmented
    apply = tf.cast(_uniform(seed, index, (tf.shape(images)[0], 1, 1, 1)) < p, images.dtype)
    return apply * augmented + (1.0 - apply) * images


def _color(x, seed, p):
    batch = tf.shape(x)[0]
    x = _gate(x, x + (_uniform(seed, 0, (batch, 1, 1, 1)) - 0.5), seed, 1, p)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = _gate(x, (x - mean) * (_uniform(seed, 2, (batch, 1, 1, 1)) * 2.0) + mean, seed, 3, p)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return _gate(x, (x - mean) * (_uniform(seed, 4, (batch, 1, 1, 1)) + 0.5) + mean, seed, 5, p)


def _shifted_indices(size, shift):
    """Source index of each output position after shifting by `shift` (B,), and whether it is
    inside the image: (B, size) each."""
    source = tf.range(size)[None, :] - shift[:, None]
    return tf.clip_by_value(source, 0, size - 1), tf.cast((source >= 0) & (source < size), tf.float32)


def _translation(x, seed, p):
    batch, height, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]

    def shift(index, size):  # integers in [-r size, r size]
        reach = tf.cast(tf.cast(size, tf.float32) * TRANSLATION_RATIO + 0.5, tf.int32)
        u = _uniform(seed, index, (batch,))
        return tf.cast(tf.floor(u * tf.cast(2 * reach + 1, tf.float32)), tf.int32) - reach

    rows, row_inside = _shifted_indices(height, shift(10, height))
    cols, col_inside = _shifted_indices(width, shift(11, width))
    moved = tf.gather(tf.gather(x, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)  # (B, H, W, C)
    inside = row_inside[:, :, None, None] * col_inside[:, None, :, None]
    return _gate(x, moved * tf.cast(inside, x.dtype), seed, 12, p)


def _cutout(x, seed, p):
    batch, height, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]

    def band(index, size):  # (B, size): 1 inside the cut square's extent along this axis
        extent = tf.cast(tf.cast(size, tf.float32) * CUTOUT_RATIO + 0.5, tf.int32)
        centre = tf.cast(tf.floor(_uniform(seed, index, (batch, 1)) * tf.cast(size, tf.float32)), tf.int32)
        position = tf.range(size)[None, :] - centre + extent // 2
        return tf.cast((position >= 0) & (position < extent), x.dtype)

    hole = band(20, height)[:, :, None, None] * band(21, width)[:, None, :, None]
    return _gate(x, x * (1.0 - hole), seed, 22, p)


_TRANSFORMS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images, seed, policy: str = "color,translation,cutout", probability=None):
    """Images (B, H, W, C) in [-1, 1] -> augmented images, differentiable in `images`.

    `seed`: a stateless seed (2,) int; the same seed gives the same transforms. `probability`:
    None applies every transform to every image (DiffAugment); a scalar p in [0, 1] applies each
    to each image with probability p (ADA).
    """
    seed = tf.cast(seed, tf.int64)
    p = None if probability is None else tf.cast(probability, images.dtype)
    for i, name in enumerate(parse_policy(policy)):
        images = _TRANSFORMS[name](images, tf.random.experimental.stateless_fold_in(seed, 100 + i), p)
    return images


def ada_update(p, r_t, target: float, images_seen, images_to_full: float):
    """ADA's controller (Karras et al. 2020, section 3): the new p after an interval in which
    `images_seen` real images gave the overfitting estimate r_t = E[sign(D(x))]:
        p <- clip(p + sign(r_t - target) * images_seen / images_to_full, 0, 1)."""
    step = tf.sign(r_t - target) * tf.cast(images_seen, tf.float32) / images_to_full
    return tf.clip_by_value(p + step, 0.0, 1.0)
