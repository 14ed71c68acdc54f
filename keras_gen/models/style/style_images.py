"""Style and content pictures for the feed-forward stylizers (fast.py, adain.py): bundled
pictures by name, or image files, as uint8 arrays; style weight lists checked.

A style reference is a bundled picture's name (keras_gen.data.bundled: the photos astronaut,
chelsea, coffee, rocket, motorcycle, hubble_deep_field, immunohistochemistry and the textures
brick, grass, gravel; `photos:NAME` / `textures:NAME` also work) or the path of an image file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError


def bundled_names() -> list[str]:
    from keras_gen.data.bundled import PHOTOS, TEXTURES

    return [*PHOTOS, *TEXTURES]


def picture_uint8(ref: str) -> np.ndarray:
    """A bundled picture's name or an image file -> uint8 (H, W, 1 or 3), its native size."""
    from keras_gen.data.bundled import PHOTOS, TEXTURES, _picture

    name = ref.split(":", 1)[1] if ref.startswith(("photos:", "textures:")) else ref
    if name in PHOTOS:
        return _picture("photos", name)
    if name in TEXTURES:
        return _picture("textures", name)
    path = Path(ref)
    if not path.is_file():
        raise KerasGenError(f"style/content {ref!r} is neither an image file nor a bundled picture; use a path or "
                            f"one of {', '.join(bundled_names())}.")
    from keras_gen.data.folders import decode_image

    try:
        return decode_image(path, None)
    except KerasGenError:
        raise
    except Exception as err:  # Pillow raises many types for bad files
        raise KerasGenError(f"Cannot read image {path}: {err}") from None


def square_picture(ref: str, side: int, channels: int) -> np.ndarray:
    """The picture centre-cropped to a square, resized to `side`: float32 (1, side, side, channels) in [-1, 1]."""
    from keras_gen.data.common import prepare_uint8
    from keras_gen.images import from_uint8

    return from_uint8(prepare_uint8(picture_uint8(ref)[None], int(side), int(channels)))


def picture_at(ref: str, channels: int, size: int | None = None) -> np.ndarray:
    """The whole picture, aspect kept, its shorter side resized to `size` (None: as it is):
    uint8 (1, H, W, channels)."""
    from PIL import Image

    from keras_gen.images import convert_channels

    pixels = picture_uint8(ref)
    if size:
        h, w = pixels.shape[:2]
        scale = size / min(h, w)
        pil = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        pil = pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR, reducing_gap=2.0)
        pixels = np.asarray(pil).reshape(pil.size[1], pil.size[0], -1)
    return np.asarray(convert_channels(pixels[None], channels), np.uint8)


def parse_refs(text: str) -> list[str]:
    """"a,b" -> ["a", "b"]; an empty list is an error."""
    refs = [r.strip() for r in str(text).split(",") if r.strip()]
    if not refs:
        raise KerasGenError("give at least one style image (a bundled picture's name or a file path).")
    return refs


def style_weights(mix, num_styles: int) -> np.ndarray:
    """A style mix ("0.3,0.7", a list, or one style's index as an int) -> float32 (num_styles,)
    non-negative weights summing to 1; one clear error for a wrong length or negative weights."""
    if isinstance(mix, (int, np.integer)) and not isinstance(mix, bool):
        if not 0 <= int(mix) < num_styles:
            raise KerasGenError(f"style index {mix} is out of range: this model has {num_styles} style(s), 0 to "
                                f"{num_styles - 1}.")
        return np.eye(num_styles, dtype=np.float32)[int(mix)]
    try:
        values = [float(v) for v in mix.split(",") if v.strip()] if isinstance(mix, str) else [float(v) for v in mix]
    except (TypeError, ValueError):
        raise KerasGenError(f"--style-mix takes comma-separated numbers, one per style, got {mix!r}.") from None
    w = np.asarray(values, np.float32)
    if w.shape != (num_styles,):
        raise KerasGenError(f"--style-mix needs {num_styles} weight(s), one per style of the model, got {len(values)} "
                            f"({mix!r}).")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise KerasGenError(f"--style-mix weights must be non-negative with a positive sum, got {mix!r}.")
    return w / w.sum()
