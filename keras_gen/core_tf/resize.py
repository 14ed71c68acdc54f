"""MATLAB-style bicubic resizing in TensorFlow, the twin of keras_gen/core/resize.py.

    bicubic_upscale_tf(images, scale)   an integer upscale of any size in a graph: VDSR's
                                        interpolated input inside its exported network (the taps
                                        are computed in the graph from the input's shape, so the
                                        SavedModel and model.onnx take any height and width)
    imresize_tf(images, size)           a resize between static sizes (the degradation's
                                        antialiased downscale), through the core's float64
                                        matrices as float32 constants

Both apply the same rule as the core's numpy functions; the tests hold them equal.
"""

from __future__ import annotations

import types

import numpy as np
import tensorflow as tf

from keras_gen.core.resize import UPSCALE_TAPS, apply_taps, resize_matrix, upscale_taps  # noqa: F401

TF = types.SimpleNamespace(
    name="tf", float32=lambda v: tf.cast(v, tf.float32), int32=lambda v: tf.cast(v, tf.int32),
    arange=lambda n: tf.range(tf.cast(n, tf.float32)), floor=tf.floor, abs=tf.abs, where=tf.where,
    sum=lambda x, axis: tf.reduce_sum(x, axis=axis, keepdims=True),
    take=lambda x, index, axis: tf.gather(x, index, axis=axis))


def bicubic_upscale_tf(images, scale):
    """float images (N, H, W, C), any H and W -> (N, sH, sW, C): bicubic x`scale` (an integer, a
    Python int or a scalar tensor), the core's `bicubic_upscale` in graph ops (Range, Floor,
    Gather, ReduceSum: exact in ONNX)."""
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    x = apply_taps(images, *upscale_taps(shape[1], scale, TF), axis=1, xp=TF)
    return apply_taps(x, *upscale_taps(shape[2], scale, TF), axis=2, xp=TF)


def imresize_tf(images, size, antialias: bool = True):
    """float images (N, H, W, C) of a static size -> (N, height, width, C), MATLAB's bicubic
    without rounding (core.resize.imresize with rounding=None), as two matrix products."""
    images = tf.convert_to_tensor(images, tf.float32)
    height, width = images.shape[1], images.shape[2]
    rows = tf.constant(resize_matrix(height, size[0], antialias=antialias).astype(np.float32))
    cols = tf.constant(resize_matrix(width, size[1], antialias=antialias).astype(np.float32))
    x = tf.einsum("oh,bhwc->bowc", rows, images)
    return tf.einsum("ow,bhwc->bhoc", cols, x)


__all__ = ["TF", "bicubic_upscale_tf", "imresize_tf"]
