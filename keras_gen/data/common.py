"""What every data source shares: `DataInfo`, argument checks, resizing and channel conversion.

Sources hand their images around as uint8 (N, H, W, C) arrays (or uint8 tensors in a TFDS
pipeline): four times smaller than float32 in memory and in `tf.data`'s cache. The conversion
to the library's float32 [-1, 1] happens once, at the end, through `keras_gen.images.from_uint8`.

Resizing (antialiased bilinear after a centre crop to the target's aspect) is
keras_gen.core.decoding's `prepare_uint8`, which `sample --image` and the style commands share;
`prepare_uint8_tf` below is its TF-graph twin. A size is one side (square images) or (height,
width): `check_image_size` reads both, and `--image-size 12x20`.

RGB -> gray uses the ITU-R BT.601 luma weights (0.299, 0.587, 0.114), the same as Pillow's
"L" conversion and `tf.image.rgb_to_grayscale`; gray -> RGB repeats the channel. Alpha is
composited onto white (a transparent background reads as paper, not as black).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from keras_gen.core.decoding import center_crop_box, prepare_uint8, resize_uint8  # noqa: F401  (data's names)
from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import image_hw

SPLITS = ("train", "test")
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 4, 1024


@dataclass(frozen=True)
class DataInfo:
    """What a data source holds, before any resizing or channel conversion."""

    name: str
    default_image_size: int  # side of the square images `image_size=None` gives (a model may ask for any other)
    channels: int  # 1 or 3: the source's native channels, the default for `channels=None`
    num_classes: int | None  # None when the source has no labels
    class_names: list | None  # class index -> name
    split_sizes: dict = field(default_factory=dict)  # {"train": N, "test": M}
    description: str = ""

    @property
    def has_labels(self) -> bool:
        return self.num_classes is not None


# --------------------------------------------------------------------------- argument checks


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise KerasGenError(f"unknown split {split!r}; every data source has the splits {', '.join(SPLITS)}")
    return split


def parse_image_size(text: str):
    """`--image-size` text -> one side (int) or (height, width): "32", "12x20"."""
    parts = str(text).lower().replace(" ", "").split("x")
    try:
        sides = [int(part) for part in parts]
    except ValueError:
        raise KerasGenError(f"--image-size takes a side or HEIGHTxWIDTH in pixels (32, 12x20), got {text!r}") from None
    if len(sides) not in (1, 2):
        raise KerasGenError(f"--image-size takes a side or HEIGHTxWIDTH in pixels (32, 12x20), got {text!r}")
    return sides[0] if len(sides) == 1 else tuple(sides)


def check_image_size(image_size, default: int):
    """`image_size` (one side, or (height, width)) checked: one int for square images, else the
    (height, width) tuple; `default` when None."""
    if image_size is None:
        return int(default)
    sides = list(image_size) if isinstance(image_size, (tuple, list)) else [image_size]
    if len(sides) not in (1, 2) or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in sides):
        raise KerasGenError(f"image_size must be a number of pixels or (height, width), got {image_size!r}")
    if not all(MIN_IMAGE_SIZE <= int(v) <= MAX_IMAGE_SIZE for v in sides):
        raise KerasGenError(f"image_size {image_size} is out of range: pass sides between {MIN_IMAGE_SIZE} and "
                            f"{MAX_IMAGE_SIZE} pixels")
    height, width = image_hw([int(v) for v in sides] if len(sides) == 2 else int(sides[0]))
    return height if height == width else (height, width)


def check_channels(channels, default: int) -> int:
    if channels is None:
        return int(default)
    if channels not in (1, 3):
        raise KerasGenError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    return int(channels)


def check_limit(limit) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise KerasGenError(f"limit must be a positive number of images or None, got {limit!r}")
    return int(limit)


def split_seed(seed: int, split: str, stream: int = 0) -> int:
    """A 32-bit seed for (user seed, split, stream): train and test never share random draws."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise KerasGenError(f"seed must be a non-negative integer, got {seed!r}")
    return int(np.random.SeedSequence([int(seed), SPLITS.index(split), int(stream)]).generate_state(1)[0])


# --------------------------------------------------------------------------- TensorFlow versions


def prepare_uint8_tf(image, image_size, channels: int):
    """The TF-graph twin of `prepare_uint8` for one (H, W, C) uint8 image (TFDS pipelines): the
    largest centred box of the target's aspect, resized to `image_size` (one side, or (height, width))."""
    import tensorflow as tf

    from keras_gen.core_tf.images import convert_channels_tf

    height, width = image_hw(image_size)
    image = tf.convert_to_tensor(image)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    # The crop of center_crop_box: full width when the image is taller than the target's aspect.
    wide = w * height > h * width
    crop_w = tf.where(wide, tf.cast(tf.round(tf.cast(h * width, tf.float64) / height), tf.int32), w)
    crop_h = tf.where(wide, h, tf.cast(tf.round(tf.cast(w * height, tf.float64) / width), tf.int32))
    crop_w, crop_h = tf.clip_by_value(crop_w, 1, w), tf.clip_by_value(crop_h, 1, h)
    image = tf.image.crop_to_bounding_box(image, (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w)
    image = tf.cast(image, tf.float32)
    image = tf.image.resize(image, (height, width), method="bilinear", antialias=True)
    image = convert_channels_tf(image, channels)  # in float on the 0..255 scale, rounded below
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
