"""How an image file or a bundled picture's name becomes an array: `read_image`, the one reader
of the style, texture and inversion code (Gatys, texture, inversion, and the fast_style / adain
pictures through style_images.picture_uint8).

An image is named by a file path or by a bundled picture (keras_gen.data.bundled: photos
astronaut, chelsea, coffee, rocket, motorcycle, hubble_deep_field, immunohistochemistry;
textures brick, grass, gravel), as `photos:NAME`, `textures:NAME` or the bare NAME, read at full
size. An existing file of that name wins over a bundled picture.

Files are decoded by keras_gen.data.folders.decode_image, like every image folder: EXIF
orientation applied, 16-bit and float grayscale scaled to 8 bits, palettes and CMYK to RGB, and
a shorter side below MIN_SOURCE_SIDE (8 px) refused. Missing, unreadable or too small files
raise KerasGenError with one line saying what to do.

Channel policy (decided once here): images with alpha are composited over white, and by default
grayscale images are repeated to RGB; both are accepted with a note (returned, and printed by
the CLI), because a grey texture is a perfectly good style or texture source. `rgb=False` keeps
grayscale as one channel (the feed-forward stylizers convert channels themselves).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError

BUNDLED_SOURCES = ("photos", "textures")


def bundled_names() -> dict[str, list[str]]:
    from keras_gen.data import bundled

    return {"photos": list(bundled.PHOTOS), "textures": list(bundled.TEXTURES)}


def _bundled(spec: str, what: str) -> np.ndarray | None:
    """The bundled picture `spec` names (`photos:NAME`, `textures:NAME` or a bare NAME), uint8
    (H, W, 1 or 3); None when `spec` is a file or names no bundled picture."""
    if Path(spec).is_file():
        return None
    from keras_gen.data import bundled

    names = bundled_names()
    source, sep, name = spec.partition(":")
    if sep and source in BUNDLED_SOURCES:
        if name not in names[source]:
            raise KerasGenError(f"{what} {spec}: no bundled picture {name!r} in {source}; choose one of "
                                f"{', '.join(names[source])}")
        return np.asarray(bundled._picture(source, name))
    source = next((s for s in BUNDLED_SOURCES if spec in names[s]), None)
    return None if source is None else np.asarray(bundled._picture(source, spec))


def _read_file(spec: str, what: str) -> np.ndarray:
    """uint8 (H, W, C), C in 1..4 (alpha kept), from an image file; KerasGenError otherwise."""
    from keras_gen.data.folders import MIN_SOURCE_SIDE, TooSmallImageError, decode_image

    path = Path(spec)
    if not path.is_file():
        names = bundled_names()
        raise KerasGenError(f"{what} {spec}: no such file, and it is neither an image file nor a bundled picture: "
                            f"give a file path or a bundled name, photos:NAME ({', '.join(names['photos'])}) or "
                            f"textures:NAME ({', '.join(names['textures'])}); the bare NAME works too")
    try:
        return decode_image(path, None, keep_alpha=True)
    except TooSmallImageError as err:
        raise KerasGenError(f"{what} {spec} is {err}, below the {MIN_SOURCE_SIDE} px minimum on each side: "
                            "use a larger image") from None
    except Exception as err:  # Pillow raises many types for bad files
        raise KerasGenError(f"{what} {spec}: cannot read it as an image ({err})") from None


def read_image(spec, what: str = "image", rgb: bool = True) -> tuple[np.ndarray, list[str]]:
    """(uint8 (H, W, 3), notes) for a file path or a bundled picture (`photos:NAME`,
    `textures:NAME`, NAME). Alpha is composited over white and grayscale repeated to RGB, each
    with a note; `rgb=False` keeps grayscale as (H, W, 1) (no note)."""
    spec = str(spec)
    notes: list[str] = []
    pixels = _bundled(spec, what)
    if pixels is None:
        pixels = _read_file(spec, what)
    c = pixels.shape[-1]
    if c in (2, 4):
        from keras_gen.images import convert_channels

        pixels = convert_channels(pixels, c - 1)
        notes.append(f"{what} {spec} has an alpha channel: composited over white")
        c -= 1
    if c == 1 and rgb:
        pixels = np.repeat(pixels, 3, axis=-1)
        notes.append(f"{what} {spec} is grayscale: repeated to RGB")
    return np.ascontiguousarray(pixels, dtype=np.uint8), notes


def resize_longer(pixels: np.ndarray, size: int | None) -> np.ndarray:
    """Resize uint8 (H, W, 3) so its longer side is `size` (aspect kept; antialiased)."""
    if not size:
        return pixels
    from PIL import Image

    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if new == (w, h):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize(new, Image.LANCZOS, reducing_gap=3.0))


def check_side(pixels: np.ndarray, need: int, what: str, deepest: str) -> None:
    h, w = pixels.shape[:2]
    if min(h, w) < need:
        raise KerasGenError(f"{what} is {w}x{h} px, too small for layer {deepest} (needs at least {need} px "
                            "on each side): use a larger image or --size, or shallower layers")


def load_float(spec, size: int | None, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """(float32 (H, W, 3) in [-1, 1], notes): `read_image` then `resize_longer`."""
    pixels, notes = read_image(spec, what)
    return resize_longer(pixels, size).astype(np.float32) / 127.5 - 1.0, notes


def save_float(image: np.ndarray, path) -> Path:
    from keras_gen.images import save_image, to_uint8

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_image(to_uint8(np.asarray(image)), path)
