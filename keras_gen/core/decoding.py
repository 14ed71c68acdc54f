"""Image files -> uint8 arrays: what the data loaders, `sample --image`, `swap` and the style
commands all read images with, so a file decodes the same way everywhere.

Decoding (Pillow): EXIF orientation applied; grayscale (1-bit, 8-bit, 16-bit) stays one
channel; palette, CMYK, YCbCr become RGB; alpha (RGBA, LA, transparent palettes) is composited
onto white (a transparent background reads as paper, not as black). Files whose shorter side is
below MIN_SOURCE_SIDE are refused with TooSmallImageError.

Resizing is antialiased bilinear everywhere (Pillow's BILINEAR widens its triangle filter when
it shrinks an image, as `tf.image.resize(..., antialias=True)` does), so a 512-pixel crop
shrunk to 32 pixels averages its pixels instead of aliasing. A size is one side (square) or
(height, width); an image of another aspect is centre-cropped to the target's aspect first, so
nothing is stretched.
The TF-graph twin of `prepare_uint8` (TFDS pipelines) is keras_gen.data.common.prepare_uint8_tf.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import convert_channels, image_hw

GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# Smallest shorter side (px) of a usable file. Anything smaller is an icon, a thumbnail or a
# broken export: upscaled to a training size it is a blur of a few colours, and a model trained
# on it learns nothing while the run looks fine. 8 px: the bundled digits' native size, the
# smallest images this library trains on.
MIN_SOURCE_SIDE = 8


class TooSmallImageError(ValueError):
    """A file decodes, but its shorter side is below MIN_SOURCE_SIDE."""


def check_min_side(width: int, height: int) -> None:
    if min(width, height) < MIN_SOURCE_SIDE:
        raise TooSmallImageError(f"{width}x{height} px")


def center_crop_box(width: int, height: int, aspect: float = 1.0) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest centred box of `aspect` = width / height (a
    square by default)."""
    crop_width, crop_height = (width, round(width / aspect)) if width / height <= aspect else (round(height * aspect), height)
    crop_width, crop_height = max(1, min(crop_width, width)), max(1, min(crop_height, height))
    left, top = (width - crop_width) // 2, (height - crop_height) // 2
    return left, top, left + crop_width, top + crop_height


def _fit(im, image_size):
    """A Pillow image centre-cropped to the aspect of `image_size` and resized to it."""
    from PIL import Image

    height, width = image_hw(image_size)
    return im.crop(center_crop_box(*im.size, aspect=width / height)).resize((width, height), Image.BILINEAR)


def _to_8bit_gray(im):
    from PIL import Image

    x = np.asarray(im, np.float64)
    if im.mode == "F":
        x = x * 255.0 if x.max(initial=0.0) <= 1.0 else x
    elif x.max(initial=0.0) > 255:  # 16-bit samples
        x = x / 257.0
    return Image.fromarray(np.clip(np.round(x), 0, 255).astype(np.uint8), "L")


def decode_image(path, image_size, *, keep_alpha: bool = False) -> np.ndarray:
    """One file -> uint8 (H, W, 1) for grayscale files or (H, W, 3) at `image_size` (one side, or
    (height, width)); raises on unreadable files and TooSmallImageError when the shorter side is
    below MIN_SOURCE_SIDE.

    `image_size=None` keeps the native size and aspect (no crop). `keep_alpha=True` returns files
    with alpha as (.., 2) or (.., 4) instead of compositing them over white (the caller does it,
    e.g. to say so: keras_gen.models.style.io.read_image)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        check_min_side(*im.size)  # the stored size: JPEG draft mode below may shrink it
        if im.format == "JPEG" and image_size:
            height, width = image_hw(image_size)
            im.draft(im.mode, (width, height))  # decode at a reduced scale: much faster
        im = ImageOps.exif_transpose(im)
        im.load()
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode == "PA":
            im = im.convert("RGBA")
        elif im.mode in ("I", "F") or im.mode.startswith("I;16"):
            im = _to_8bit_gray(im)
        elif im.mode == "1":
            im = im.convert("L")
        elif im.mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGB")
        if im.mode in ("LA", "RGBA") and not keep_alpha:
            over_white = convert_channels(np.asarray(im), len(im.mode) - 1)  # alpha composited over white
            im = Image.fromarray(over_white.squeeze(-1) if im.mode == "LA" else over_white)
        if image_size:
            im = _fit(im, image_size)
        array = np.asarray(im, np.uint8)
    return array[..., None] if array.ndim == 2 else array


def resize_uint8(images: np.ndarray, size) -> np.ndarray:
    """Centre-crop to the target's aspect and resize a uint8 batch (N, H, W, C) to `size` (one
    side, or (height, width))."""
    from PIL import Image

    images = np.asarray(images, np.uint8)
    n, h, w, c = images.shape
    height, width = image_hw(size)
    if (h, w) == (height, width):
        return images
    out = np.empty((n, height, width, c), np.uint8)
    for i in range(n):
        pil = Image.fromarray(images[i, :, :, 0] if c == 1 else images[i])
        out[i] = np.asarray(_fit(pil, (height, width))).reshape(height, width, c)
    return out


def prepare_uint8(images: np.ndarray, image_size, channels: int) -> np.ndarray:
    """Resize and convert channels: the one path every in-memory source goes through."""
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    return convert_channels(resize_uint8(images, image_size), channels)


def load_image_file(path, shape) -> np.ndarray:
    """One image file as uint8 (1, H, W, C) for an image input of `shape` (H, W, C), channels
    converted. A fixed (H, W) is centre-cropped to its aspect and resized like the data loaders;
    an input of any size (H, W None) keeps the file's own size and aspect, nothing cropped; with
    one side None, the other is resized to and the aspect kept."""
    path = Path(path)
    if not path.exists():
        raise KerasGenError(f"{path} does not exist: pass the path of an image file.")
    if not path.is_file():
        raise KerasGenError(f"{path} is a folder, not an image file.")
    try:
        pixels = decode_image(path, None)
    except TooSmallImageError as err:
        raise KerasGenError(f"{path} is {err}: images need at least {MIN_SOURCE_SIDE} px a side.") from None
    except Exception as err:  # Pillow raises many types for bad files
        raise KerasGenError(f"Cannot read image {path}: {err}") from None
    native_height, native_width = pixels.shape[:2]
    height, width = shape[0], shape[1]
    if height is None and width is None:
        height, width = native_height, native_width
    elif height is None:
        height = max(1, round(native_height * width / native_width))
    elif width is None:
        width = max(1, round(native_width * height / native_height))
    return prepare_uint8(pixels[None], (int(height), int(width)), int(shape[2]))
