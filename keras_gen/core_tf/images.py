"""The image conversions of keras_gen/core/images.py as TF ops, for exported graphs and tf.data.

`to_uint8_tf` and `from_uint8_tf` are the same arithmetic as their numpy twins; the channel
conversion is written once (`composite_and_convert`) and run over TF's array functions here.
`keras_gen.images.to_uint8` (and `from_uint8`, `convert_channels`) take either runtime's values
and call the twin that fits.
"""

from __future__ import annotations

import tensorflow as tf

from keras_gen.core.images import composite_and_convert


def to_uint8_tf(images):
    """[-1, 1] float -> [0, 255] uint8 in TF ops, rounding to nearest and clipping out-of-range
    values (without the numpy twin's check for non-finite pixels)."""
    x = tf.cast(images, tf.float32)
    return tf.cast(tf.clip_by_value(tf.round((x + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def from_uint8_tf(images):
    """[0, 255] -> [-1, 1] float32 in TF ops."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def convert_channels_tf(images, channels: int, value_range=(0, 255)):
    """(..., C) -> (..., channels) for float tensors in `value_range`, as `convert_channels`
    (alpha over white, gray repeated, BT.601 luma), unrounded."""
    return composite_and_convert(images, channels, value_range, tf.repeat,
                                 lambda x, w: tf.tensordot(x, tf.constant(w, x.dtype), axes=[[-1], [0]]))
