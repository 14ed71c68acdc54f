"""The one pair of helpers that converts between the library's and the public image range.

Inside the library images are float32 in [-1, 1], NHWC. At every public edge (files, CLI,
served responses) they are uint8 in [0, 255]. Nothing else in the project converts.

numpy in, numpy out: the onnxruntime path uses these without TensorFlow. The same conversions
as TF ops, for exported graphs and tf.data, are their twins in keras_gen/core_tf/images.py;
`keras_gen.images` takes either and picks the runtime from the argument.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from keras_gen.core.errors import KerasGenError
from keras_gen.core.fileio import atomic_path


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")  # what keras-gen reads (folders) and writes
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's "L" conversion
PIXEL_RANGE = (-1.0, 1.0)  # the library's float images


def image_hw(image_size) -> tuple[int, int]:
    """(height, width) of an image size given as one side (square) or as (height, width)."""
    sides = list(image_size) if isinstance(image_size, (tuple, list)) else [image_size, image_size]
    if len(sides) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in sides):
        raise KerasGenError(f"image_size must be a positive integer or (height, width), got {image_size!r}.")
    return int(sides[0]), int(sides[1])


def is_array(x) -> bool:
    """Whether `x` is numpy data (an array, a numpy scalar, a list or tuple) rather than a tensor."""
    return isinstance(x, (np.ndarray, np.generic, list, tuple))


def to_uint8(images) -> np.ndarray:
    """[-1, 1] float -> [0, 255] uint8, rounding to nearest and clipping out-of-range values.
    Non-finite input is an error (a diverged model), not black pixels."""
    x = np.asarray(images, dtype=np.float32)
    if not np.isfinite(x).all():  # NaN would silently become black pixels
        raise KerasGenError("The model produced NaN or infinite pixels: its training diverged. "
                            "Use an earlier checkpoint or retrain (e.g. with a lower learning rate).")
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def from_uint8(images) -> np.ndarray:
    """[0, 255] uint8 (or any integer/float array in that range) -> [-1, 1] float32."""
    return np.asarray(images, dtype=np.float32) / 127.5 - 1.0


def composite_and_convert(images, channels: int, value_range, repeat, dot):
    """The channel arithmetic of `convert_channels`, written once over the array functions
    `repeat(x, 3, axis)` and `dot(x, weights)` (numpy here, TF ops in core_tf/images.py)."""
    lo, hi = value_range
    c = images.shape[-1]
    if c in (2, 4):
        alpha = (images[..., -1:] - lo) / (hi - lo)
        images, c = images[..., :-1] * alpha + hi * (1.0 - alpha), c - 1
    if c == 1 and channels == 3:
        images = repeat(images, 3, axis=-1)
    elif c == 3 and channels == 1:
        images = dot(images, LUMA)[..., None]
    elif c != channels:
        raise KerasGenError(f"cannot convert images with {c} channels to {channels}; pass gray (1), RGB (3), "
                            "or either with alpha (2, 4)")
    return images


def convert_channels(images, channels: int, value_range=(0, 255)) -> np.ndarray:
    """(..., C) -> (..., channels), the one channel conversion of the project: uint8 in, uint8
    out (rounded); float in, float out, in `value_range`.

    Alpha (last of C = 2 or 4) is composited over white: a transparent background reads as
    paper, not as black. Gray -> RGB repeats the channel; RGB -> gray takes BT.601 luma."""
    images = np.asarray(images)
    out_dtype = images.dtype
    images = composite_and_convert(images.astype(np.float32), channels, value_range, np.repeat,
                                   lambda x, w: x @ np.asarray(w, np.float32))
    if out_dtype == np.uint8:
        return np.clip(np.round(images), 0, 255).astype(np.uint8)
    return images


def to_pixel_values(images):
    """[-1, 1] -> float [0, 255], unrounded and differentiable: for networks that expect pixel
    values (VGG's Caffe preprocessing) inside a loss, where `to_uint8`'s rounding would cut the
    gradient. Works on numpy arrays and on any tensor, symbolic Keras tensors included."""
    return (images + 1.0) * 127.5


def make_grid(images_uint8: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile a batch (N, H, W, C) of uint8 images into one (rows*H, cols*W, C) picture."""
    images_uint8 = np.asarray(images_uint8)
    if images_uint8.ndim != 4:
        raise ValueError(f"make_grid expects (N, H, W, C), got shape {images_uint8.shape}")
    n, h, w, c = images_uint8.shape
    ncols = ncols or max(1, int(math.ceil(math.sqrt(n))))
    nrows = int(math.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = images_uint8[i]
    return grid


def check_image_path(path) -> Path:
    """The path, if `save_image` can write its format; call it before expensive work."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise KerasGenError(f"Cannot write {path}: use one of {', '.join(IMAGE_SUFFIXES)} as the file extension.")
    return path


def save_image(image_uint8: np.ndarray, path: str | Path, upscale: int = 1) -> Path:
    """Write one (H, W, C) uint8 image as PNG/JPEG/WebP/BMP; `upscale` enlarges tiny images for
    viewing. Images with 2 or more than 4 channels are written as their first channel(s)."""
    from PIL import Image

    path = check_image_path(path)
    image_uint8 = np.asarray(image_uint8, np.uint8)
    channels = image_uint8.shape[-1] if image_uint8.ndim == 3 else 1
    # Image files hold 1, 3 or 4 channels; other counts are shown as their first (or first three).
    if channels in (1, 2):
        image_uint8 = image_uint8[..., 0] if image_uint8.ndim == 3 else image_uint8
    elif channels > 4:
        image_uint8 = image_uint8[..., :3]
    pil = Image.fromarray(image_uint8)
    if upscale > 1:
        pil = pil.resize((pil.width * upscale, pil.height * upscale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path)
    return path


def save_grid(images_uint8: np.ndarray, path: str | Path, ncols: int | None = None) -> Path:
    """Tile a uint8 batch and save it; small images are enlarged so a person can see them."""
    images_uint8 = np.asarray(images_uint8)
    upscale = max(1, 64 // max(1, images_uint8.shape[1]))
    return save_image(make_grid(images_uint8, ncols), path, upscale=upscale)


SAMPLE_ARRAY_SUFFIX = ".npz"


def check_samples_path(path) -> Path:
    """Where `save_samples` can write: a grid image, a folder (`DIR/`, one PNG a sample) or an
    `.npz`; checked before any expensive work."""
    text = str(path)
    path = Path(path)
    if text.endswith(("/", "\\")) or path.is_dir() or path.suffix.lower() == SAMPLE_ARRAY_SUFFIX:
        return path
    return check_image_path(path)


def save_samples(images_uint8: np.ndarray, path, conditions: dict | None = None, ncols: int | None = None) -> Path:
    """Write samples in the form the path asks for:
    - `grid.png` (any image suffix): one tiled grid, for people;
    - `DIR/` (or an existing folder): `000000.png`, `000001.png`, ... one file per sample, the
      layout external FID tools (clean-fid, torch-fidelity) read;
    - `samples.npz`: `images` as uint8 (N, H, W, C) plus every condition used (e.g. `label`),
      for scripts."""
    images_uint8 = np.asarray(images_uint8, np.uint8)
    text, path = str(path), check_samples_path(path)
    if path.suffix.lower() == SAMPLE_ARRAY_SUFFIX:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, images=images_uint8, **{k: np.asarray(v) for k, v in (conditions or {}).items()})
        return path
    if text.endswith(("/", "\\")) or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        width = max(6, len(str(len(images_uint8) - 1)))
        for i, image in enumerate(images_uint8):
            save_image(image, path / f"{i:0{width}d}.png")
        return path
    return save_grid(images_uint8, path, ncols=ncols)

