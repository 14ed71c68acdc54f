"""Reading the images of style, texture and inversion: files or bundled pictures, one policy.

An image is named by a file path or by a bundled picture, `photos:NAME` or `textures:NAME`
(keras_gen.data.bundled: photos astronaut, chelsea, coffee, rocket, motorcycle,
hubble_deep_field, immunohistochemistry; textures brick, grass, gravel), read at full size.

Channel policy (decided once here): every image becomes RGB. Grayscale images are repeated to
three channels and images with alpha are composited over white; both are accepted with a note
(returned, and printed by the CLI), because a grey texture is a perfectly good style or texture
source. Missing or unreadable files raise KerasGenError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError

BUNDLED_SOURCES = ("photos", "textures")


def bundled_names() -> dict[str, list[str]]:
    from keras_gen.data import bundled

    return {"photos": list(bundled.PHOTOS), "textures": list(bundled.TEXTURES)}


def _bundled(spec: str) -> np.ndarray | None:
    source, _, name = spec.partition(":")
    if source not in BUNDLED_SOURCES or Path(spec).exists():
        return None
    from keras_gen.data import bundled

    names = bundled_names()[source]
    if name not in names:
        raise KerasGenError(f"{spec}: no bundled picture {name!r} in {source}; choose one of {', '.join(names)}")
    return np.asarray(bundled._picture(source, name))


def read_image(spec, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """(uint8 (H, W, 3), notes) for a file path or a bundled `photos:NAME` / `textures:NAME`."""
    from PIL import Image, UnidentifiedImageError

    spec = str(spec)
    notes: list[str] = []
    pixels = _bundled(spec)
    if pixels is None:
        path = Path(spec)
        if not path.is_file():
            raise KerasGenError(f"{what} {spec}: no such file (or name a bundled picture: photos:NAME, "
                                f"textures:NAME, e.g. photos:chelsea, textures:brick)")
        try:
            with Image.open(path) as im:
                im.load()
                mode = im.mode
                if mode == "P":
                    im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                elif mode not in ("L", "LA", "RGB", "RGBA"):
                    im = im.convert("L" if mode in ("1", "I", "F") or mode.startswith("I;16") else "RGB")
                pixels = np.asarray(im)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise KerasGenError(f"{what} {spec}: cannot read it as an image ({err})") from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    c = pixels.shape[-1]
    if c in (2, 4):
        from keras_gen.images import convert_channels

        pixels = convert_channels(pixels, c - 1)
        notes.append(f"{what} {spec} has an alpha channel: composited over white")
        c -= 1
    if c == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
        notes.append(f"{what} {spec} is grayscale: repeated to RGB")
    return np.ascontiguousarray(pixels[..., :3], dtype=np.uint8), notes


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
