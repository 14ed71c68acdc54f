"""Super-resolution of real images, whatever their size and colour, around any upscaling function
(a Keras model's on a run, onnxruntime's on an export): the rules of `keras-gen upscale`. Numpy
only, so an export runs without TensorFlow.

Tiles. A fully convolutional network's output pixel depends on the input pixels within its
receptive radius r (the model's `receptive_radius`, the manifest's "tile_margin"). A large image
is cut into a grid of cores of (tile - 2 r) pixels; each core is run with r pixels of its
neighbours around it (fewer at the image's own border, which the whole image has too) and only
the core's part of the output is kept. Every kept pixel then saw exactly what it sees in the
whole image, so the tiled output equals the untiled one (to float rounding), with memory bounded
by the tile.

Colour. `rgb`: the network runs on the image's own channels (a one-channel network on each of R,
G, B in turn). `y`: the image is split into luma and chroma (JPEG's full-range BT.601 YCbCr), the
network upscales Y (a three-channel network gets Y as grey and its output's luma is taken) and
Cb, Cr are upscaled bicubically (keras_gen/core/resize.py), as SR papers treat colour images: the
eye reads detail from luma. `auto`: rgb when the network has the image's channels or more, y for
a colour image and a grey network.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core.errors import KerasGenError
from keras_gen.core.resize import bicubic_upscale

COLOUR_MODES = ("auto", "rgb", "y")
DEFAULT_TILE = 192

# JPEG's YCbCr (ITU-R BT.601, full range), on [0, 1] values; chroma centred on 0.5.
_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_FROM_YCBCR = np.linalg.inv(_TO_YCBCR)


def rgb_to_ycbcr(images: np.ndarray) -> np.ndarray:
    """float (..., 3) in [-1, 1] -> (..., 3) Y, Cb, Cr in [-1, 1] (the [0, 1] values rescaled)."""
    x = (np.asarray(images, np.float64) + 1.0) / 2.0
    ycc = x @ _TO_YCBCR.T + np.array([0.0, 0.5, 0.5])
    return (ycc * 2.0 - 1.0).astype(np.float32)


def ycbcr_to_rgb(images: np.ndarray) -> np.ndarray:
    """The inverse of `rgb_to_ycbcr`, clipped to [-1, 1]."""
    ycc = (np.asarray(images, np.float64) + 1.0) / 2.0 - np.array([0.0, 0.5, 0.5])
    return np.clip((ycc @ _FROM_YCBCR.T) * 2.0 - 1.0, -1.0, 1.0).astype(np.float32)


def tile_boxes(height: int, width: int, tile: int, margin: int) -> list[tuple[tuple, tuple]]:
    """[(core box, input box)], boxes as (top, left, bottom, right): cores of (tile - 2 margin)
    pixels covering the image, each with `margin` pixels of context (module docstring). An input
    box is grown to `tile` pixels (or the whole side) where the image allows: the last core of a
    row or column may be a sliver, and its input is then still a full tile, never below the
    network's smallest input (more context than the margin changes no kept pixel)."""
    step = int(tile) - 2 * int(margin)
    if step < 1:
        raise KerasGenError(f"--tile {tile} leaves no core inside a margin of {margin} px on each side: pass "
                            f"--tile {2 * margin + 64} or more.")
    boxes = []
    for top in range(0, height, step):
        for left in range(0, width, step):
            core = (top, left, min(top + step, height), min(left + step, width))
            rows = _grown(core[0] - margin, core[2] + margin, tile, height)
            cols = _grown(core[1] - margin, core[3] + margin, tile, width)
            boxes.append((core, (rows[0], cols[0], rows[1], cols[1])))
    return boxes


def _grown(start: int, stop: int, tile: int, length: int) -> tuple[int, int]:
    """[start, stop) clipped to [0, length), then widened to min(tile, length) pixels, inward."""
    start, stop = max(0, start), min(length, stop)
    missing = min(tile, length) - (stop - start)
    if missing > 0:
        start = max(0, start - missing)
        stop = min(length, start + min(tile, length))
    return start, stop


def upscale_tiled(upscale, image: np.ndarray, scale: int, tile: int, margin: int) -> np.ndarray:
    """`upscale(images (1, h, w, C)) -> (1, s h, s w, C')` over one float image (H, W, C), in tiles
    when a side exceeds `tile`; the untiled call otherwise. Returns (s H, s W, C')."""
    height, width = image.shape[:2]
    if height <= tile and width <= tile:
        return np.asarray(upscale(image[None]))[0]
    out = None
    for (top, left, bottom, right), (c_top, c_left, c_bottom, c_right) in tile_boxes(height, width, tile, margin):
        part = np.asarray(upscale(image[None, c_top:c_bottom, c_left:c_right]))[0]
        if out is None:
            out = np.empty((height * scale, width * scale, part.shape[-1]), np.float32)
        rows = slice((top - c_top) * scale, (bottom - c_top) * scale)
        cols = slice((left - c_left) * scale, (right - c_left) * scale)
        out[top * scale:bottom * scale, left * scale:right * scale] = part[rows, cols]
    return out


def choose_colour(mode: str, image_channels: int, model_channels: int) -> str:
    """"rgb" or "y" for an image of `image_channels` through a network of `model_channels`."""
    if mode not in COLOUR_MODES:
        raise KerasGenError(f"--colour must be one of {', '.join(COLOUR_MODES)}, got {mode!r}.")
    if mode != "auto":
        if mode == "y" and image_channels == 1:
            return "rgb"  # a grey image is its own luma
        return mode
    return "y" if image_channels == 3 and model_channels == 1 else "rgb"


def upscale_image(upscale, image: np.ndarray, scale: int, model_channels: int, colour: str = "auto",
                  tile: int = DEFAULT_TILE, margin: int = 0) -> np.ndarray:
    """One float [-1, 1] image (H, W, 1 or 3) -> (s H, s W, same channels), through `upscale` (a
    network of `model_channels`) as `colour` says (module docstring)."""
    image = np.asarray(image, np.float32)
    channels = image.shape[-1]
    mode = choose_colour(colour, channels, model_channels)

    def network(x):  # (H, W, c) with c the network's channels -> (sH, sW, c)
        return upscale_tiled(upscale, x, scale, tile, margin)

    def grey_through_network(grey):  # (H, W, 1) -> (sH, sW, 1)
        if model_channels == 1:
            return network(grey)
        return rgb_to_ycbcr(network(np.repeat(grey, 3, axis=-1)))[..., :1]

    if mode == "y" and channels == 3:
        ycc = rgb_to_ycbcr(image)
        luma = grey_through_network(ycc[..., :1])
        chroma = bicubic_upscale(ycc[None, ..., 1:], scale)[0]
        return ycbcr_to_rgb(np.concatenate([luma, chroma], axis=-1))
    if channels == model_channels:
        return np.clip(network(image), -1.0, 1.0)
    if channels == 1:  # a grey image, a colour network
        return np.clip(grey_through_network(image), -1.0, 1.0)
    # a colour image, a grey network, each channel on its own
    return np.clip(np.concatenate([network(image[..., c:c + 1]) for c in range(3)], axis=-1), -1.0, 1.0)


__all__ = ["COLOUR_MODES", "DEFAULT_TILE", "choose_colour", "rgb_to_ycbcr", "tile_boxes", "upscale_image",
           "upscale_tiled", "ycbcr_to_rgb"]
