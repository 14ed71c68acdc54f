"""The image helpers of keras_gen/core/images.py and keras_gen/core/decoding.py, for numpy arrays
and TensorFlow tensors alike (this import path predates the core and keeps working).

`to_uint8`, `from_uint8` and `convert_channels` take either runtime's values: numpy in, numpy
out through the core (no TensorFlow import); a tensor goes to the TF twin in
keras_gen/core_tf/images.py, imported on first use. Everything else is the core's, as it is.
"""

from __future__ import annotations

from keras_gen.core import images as _core
from keras_gen.core.decoding import load_image_file  # noqa: F401
from keras_gen.core.images import (IMAGE_SUFFIXES, LUMA, PIXEL_RANGE, SAMPLE_ARRAY_SUFFIX,  # noqa: F401
                                   check_image_path, check_samples_path, make_grid, save_grid, save_image,
                                   save_samples, to_pixel_values)
from keras_gen.core.images import is_array as _is_numpy


def to_uint8(images):
    """[-1, 1] float -> [0, 255] uint8, rounding to nearest and clipping out-of-range values.
    Non-finite numpy input is an error (a diverged model), not black pixels."""
    if _is_numpy(images):
        return _core.to_uint8(images)
    from keras_gen.core_tf.images import to_uint8_tf

    return to_uint8_tf(images)


def from_uint8(images):
    """[0, 255] uint8 (or any integer/float array in that range) -> [-1, 1] float32."""
    if _is_numpy(images):
        return _core.from_uint8(images)
    from keras_gen.core_tf.images import from_uint8_tf

    return from_uint8_tf(images)


def convert_channels(images, channels: int, value_range=(0, 255)):
    """(..., C) -> (..., channels), the one channel conversion of the project, for numpy arrays
    (uint8 in, uint8 out, rounded) or TF tensors (float, in `value_range`); see the core's."""
    if _is_numpy(images):
        return _core.convert_channels(images, channels, value_range)
    from keras_gen.core_tf.images import convert_channels_tf

    return convert_channels_tf(images, channels, value_range)

