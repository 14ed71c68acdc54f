"""Random holes for training inpainting networks, drawn in the graph from a stateless seed: masks
(B, H, W, 1) of 1 where pixels are to be generated, 0 where they are known.

    rectangles   one axis-aligned box a image, each side U[0.15, 1.0] of the image's and placed
                 uniformly (Pathak et al. 2016 train on random regions as well as the centre; a
                 box may span the whole height, so half-images are among the draws)
    strokes      free-form masks (Yu et al. 2019, "Free-Form Image Inpainting with Gated
                 Convolution", algorithm 1): 1-3 strokes a image, each a random walk of 4-8
                 straight segments (length U[0.1, 0.4] of the side, any direction) drawn with a
                 brush of width U[0.05, 0.15] of the side
    halves       one of the four half-images (left, right, top, bottom); not in the default mix:
                 the benchmark's task, for an ablation

`random_masks(batch, height, width, seed, kinds)` draws each image's kind uniformly from `kinds`.
A pixel is in a stroke when its centre is within half the brush width of a segment: the distance
of every pixel to every segment, (B, segments, H, W), cheap at the sizes trained here.
"""

from __future__ import annotations

import tensorflow as tf

MASK_KINDS = ("rectangles", "strokes", "halves")
MAX_STROKES, MAX_VERTICES = 3, 9  # 1-3 strokes of 4-8 segments (5-9 vertices)


def _uniform(seed, index, shape, low=0.0, high=1.0):
    return tf.random.stateless_uniform(shape, seed=tf.cast(seed, tf.int64) + tf.constant([0, 1], tf.int64) * index,
                                       minval=low, maxval=high)


def _pixel_grid(height, width):
    """(H, W) pixel-centre coordinates in units of the image side, rows then columns."""
    rows = (tf.range(height, dtype=tf.float32) + 0.5) / tf.cast(height, tf.float32)
    cols = (tf.range(width, dtype=tf.float32) + 0.5) / tf.cast(width, tf.float32)
    return tf.meshgrid(rows, cols, indexing="ij")


def rectangle_masks(batch, height, width, seed):
    size = _uniform(seed, 1, (batch, 2), 0.15, 1.0)  # (B, 2): height, width fractions
    corner = _uniform(seed, 2, (batch, 2)) * (1.0 - size)
    rows, cols = _pixel_grid(height, width)
    inside = ((rows[None] >= corner[:, 0, None, None]) & (rows[None] < corner[:, 0, None, None] + size[:, 0, None, None])
              & (cols[None] >= corner[:, 1, None, None]) & (cols[None] < corner[:, 1, None, None] + size[:, 1, None, None]))
    return tf.cast(inside, tf.float32)[..., None]


def stroke_masks(batch, height, width, seed):
    strokes = tf.cast(tf.floor(_uniform(seed, 3, (batch, 1), 1.0, MAX_STROKES + 1.0)), tf.int32)  # (B, 1)
    vertices = tf.cast(tf.floor(_uniform(seed, 4, (batch, MAX_STROKES), 5.0, MAX_VERTICES + 1.0)), tf.int32)
    start = _uniform(seed, 5, (batch, MAX_STROKES, 2))
    angle = _uniform(seed, 6, (batch, MAX_STROKES, MAX_VERTICES - 1), 0.0, 6.2831853)
    length = _uniform(seed, 7, (batch, MAX_STROKES, MAX_VERTICES - 1), 0.1, 0.4)
    brush = _uniform(seed, 8, (batch, MAX_STROKES), 0.05, 0.15)
    steps = tf.stack([tf.sin(angle), tf.cos(angle)], axis=-1) * length[..., None]  # (B, S, V-1, 2)
    points = tf.clip_by_value(start[:, :, None] + tf.cumsum(steps, axis=2), 0.0, 1.0)
    points = tf.concat([start[:, :, None], points], axis=2)  # (B, S, V, 2)
    p0, p1 = points[:, :, :-1], points[:, :, 1:]  # (B, S, V-1, 2): the segments
    used = ((tf.range(MAX_STROKES)[None, :, None] < strokes[:, :, None])
            & (tf.range(MAX_VERTICES - 1)[None, None, :] < vertices[:, :, None] - 1))  # (B, S, V-1)
    rows, cols = _pixel_grid(height, width)
    pixel = tf.stack([rows, cols], axis=-1)  # (H, W, 2)
    d = p1 - p0
    rel = pixel[None, None, None] - p0[:, :, :, None, None]  # (B, S, V-1, H, W, 2)
    t = tf.reduce_sum(rel * d[:, :, :, None, None], -1) / tf.maximum(tf.reduce_sum(d * d, -1), 1e-12)[..., None, None]
    t = tf.clip_by_value(t, 0.0, 1.0)
    nearest = rel - t[..., None] * d[:, :, :, None, None]
    distance = tf.sqrt(tf.reduce_sum(nearest * nearest, -1))  # (B, S, V-1, H, W)
    hit = (distance <= brush[:, :, None, None, None] / 2.0) & used[..., None, None]
    return tf.cast(tf.reduce_any(hit, axis=(1, 2)), tf.float32)[..., None]


def half_masks(batch, height, width, seed):
    side = tf.cast(tf.floor(_uniform(seed, 9, (batch,), 0.0, 4.0)), tf.int32)  # 0 left 1 right 2 top 3 bottom
    rows, cols = _pixel_grid(height, width)
    halves = tf.stack([cols < 0.5, cols >= 0.5, rows < 0.5, rows >= 0.5])  # (4, H, W)
    return tf.cast(tf.gather(halves, side), tf.float32)[..., None]


def random_masks(batch, height, width, seed, kinds=("rectangles", "strokes")):
    """(B, H, W, 1) float32 masks, 1 in the hole; each image's kind drawn uniformly from `kinds`."""
    drawers = {"rectangles": rectangle_masks, "strokes": stroke_masks, "halves": half_masks}
    drawn = [drawers[kind](batch, height, width, seed) for kind in kinds]
    if len(drawn) == 1:
        return drawn[0]
    which = tf.cast(tf.floor(_uniform(seed, 10, (batch,), 0.0, float(len(drawn)))), tf.int32)
    pick = tf.one_hot(tf.minimum(which, len(drawn) - 1), len(drawn))  # (B, K)
    return tf.einsum("bk,kbhwc->bhwc", pick, tf.stack(drawn))


def right_half_mask(height: int, width: int):
    """numpy (1, H, W, 1): the benchmark's hole, the right half of the image."""
    import numpy as np

    mask = np.zeros((1, height, width, 1), np.float32)
    mask[:, :, width // 2:] = 1.0
    return mask


def parse_mask_kinds(text: str) -> tuple[str, ...]:
    from keras_gen.errors import KerasGenError

    kinds = tuple(part.strip() for part in str(text).split(",") if part.strip())
    if not kinds or any(kind not in MASK_KINDS for kind in kinds) or len(set(kinds)) != len(kinds):
        raise KerasGenError(f"masks takes some of {', '.join(MASK_KINDS)} separated by commas, got {text!r}.")
    return kinds


__all__ = ["MASK_KINDS", "half_masks", "parse_mask_kinds", "random_masks", "rectangle_masks", "right_half_mask",
           "stroke_masks"]
