"""Style and content pictures for the feed-forward stylizers (fast.py, adain.py) as arrays, and
their style weight lists checked.

A picture is a bundled picture's name (`brick`, `photos:chelsea`, `textures:grass`, ...) or the
path of an image file; keras_gen.models.style.io.read_image reads both (the one reader: see its
docstring for bundled names, decoding and errors). The wrappers here only keep native channels
and resize/convert for a network.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError


def picture_uint8(ref: str, what: str = "picture") -> np.ndarray:
    """A bundled picture's name or an image file -> uint8 (H, W, 1 or 3), its native size and
    channels (alpha composited over white): `io.read_image(ref, what, rgb=False)`."""
    from keras_gen.models.style.io import read_image

    return read_image(ref, what, rgb=False)[0]


def square_picture(ref: str, side: int, channels: int) -> np.ndarray:
    """The picture centre-cropped to a square, resized to `side`: float32 (1, side, side, channels) in [-1, 1]."""
    from keras_gen.data.common import prepare_uint8
    from keras_gen.images import from_uint8

    return from_uint8(prepare_uint8(picture_uint8(ref, "style picture")[None], int(side), int(channels)))


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
