"""The rules of `keras-gen inpaint` without TensorFlow: masks read from files, the canvas of an
outpainting, the fill composited so that every known pixel comes back exactly as given, and the
one-line errors for what does not fit.

A mask file is read as grey: white (> 127) marks the pixels to generate, black the pixels to
keep, and it must be the image's size. `--outpaint LEFT,TOP,RIGHT,BOTTOM` grows the canvas by
that many pixels on each side; the new pixels are to be generated (with a mask too, both holes).
A network or diffusion model of another size (or channel count) than the canvas runs on the
canvas resized (and converted) to its own, and its output is resized back; only the hole takes
its pixels, so the known ones are the input's, bit for bit, whatever the model.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core.errors import KerasGenError


def read_mask(path, height: int, width: int) -> np.ndarray:
    """bool (H, W): True where the mask file is white (> 127, the pixels to generate)."""
    from keras_gen.core.decoding import load_image_file

    mask = load_image_file(path, (None, None, 1))[0, ..., 0]
    if mask.shape != (height, width):
        raise KerasGenError(f"the mask {path} is {mask.shape[0]}x{mask.shape[1]} px and the image {height}x{width} "
                            "px: pass a mask of the image's size (white where pixels are to be generated).")
    hole = mask > 127
    if not hole.any():
        raise KerasGenError(f"the mask {path} marks no pixel to generate (it has no white pixel): paint the region to "
                            "fill in white on black.")
    return hole


def parse_outpaint(text: str) -> tuple[int, int, int, int]:
    """"LEFT,TOP,RIGHT,BOTTOM" pixels -> 4 non-negative ints, not all zero."""
    try:
        sides = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        sides = ()
    if len(sides) != 4 or min(sides) < 0 or not any(sides):
        raise KerasGenError(f"--outpaint takes LEFT,TOP,RIGHT,BOTTOM in pixels (e.g. 0,0,16,0: 16 px more on the "
                            f"right), non-negative and not all 0; got {text!r}.")
    return sides


def canvas(image: np.ndarray, hole: np.ndarray | None, outpaint=None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 canvas (H', W', C), bool hole (H', W')): the image grown by `outpaint` (its new
    pixels mid-grey and in the hole) with the mask's hole, if any, in place."""
    left, top, right, bottom = outpaint or (0, 0, 0, 0)
    height, width, channels = image.shape
    out = np.full((height + top + bottom, width + left + right, channels), 128, np.uint8)
    out[top:top + height, left:left + width] = image
    holes = np.ones(out.shape[:2], bool)
    holes[top:top + height, left:left + width] = False if hole is None else hole
    if not holes.any():
        raise KerasGenError("nothing to generate: pass --mask (white where pixels are to be generated) or --outpaint.")
    return out, holes


def composite(known: np.ndarray, filled: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C): `filled` in the hole, `known` (H, W, C) everywhere else, exactly."""
    return np.where(hole[None, :, :, None], filled, known[None]).astype(np.uint8)


def _stretch(images: np.ndarray, height: int, width: int, resample: str) -> np.ndarray:
    """uint8 (N, H, W, C) resized to (height, width) whatever the aspect (Pillow; BILINEAR shrinks
    antialiased)."""
    from PIL import Image

    if images.shape[1:3] == (height, width):
        return images
    method = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[resample]
    out = []
    for image in images:
        pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        out.append(np.asarray(pil.resize((width, height), method)).reshape(height, width, image.shape[-1]))
    return np.stack(out)


def fit_to_model(image: np.ndarray, hole: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """(float [-1, 1] (1, h, w, c), float 0/1 hole (1, h, w, 1)) of a uint8 canvas (H, W, C) for a
    model that takes (h, w, c): converted and, at another size, stretched to it (antialiased; a
    pixel of the small hole is set where any part of it is hole, so no pixel of the full-size
    hole goes without a generated value)."""
    from keras_gen.core.images import convert_channels, from_uint8

    height, width, channels = shape
    model_image = from_uint8(_stretch(convert_channels(image, channels)[None], height, width, "bilinear"))
    grey = _stretch(np.where(hole, 255, 0).astype(np.uint8)[None, :, :, None], height, width, "bilinear")
    return model_image, (grey > 0).astype(np.float32)


def back_to_canvas(outputs: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """uint8 model outputs (N, h, w, c) at the canvas's size (bicubic) and channels."""
    from keras_gen.core.images import convert_channels

    return convert_channels(_stretch(outputs, height, width, "bicubic"), channels)


__all__ = ["back_to_canvas", "canvas", "composite", "fit_to_model", "parse_outpaint", "read_mask"]
