"""Procedurally drawn coloured shapes: a labelled data set of any size, at any resolution, offline.

Each image is one shape (circle, square, triangle, star, cross, ring) in one of eight colours on
a plain dark background, with a known size, centre (x, y) and rotation, in the spirit of
dSprites (Matthey et al., 2017) but in colour. The attributes make conditional generation and
disentanglement checkable: a sample's shape, colour and position can be measured.

Drawing is anti-aliased by supersampling: Pillow fills the polygon on a canvas `ss` times
larger and `Image.reduce(ss)` averages each ss x ss block (area sampling), so edges are smooth
at 8 pixels as at 512.

Determinism: all attributes come from one (n, 6) matrix of uniforms drawn from
`numpy.random.default_rng(seed)`. numpy fills it row by row, so image i depends only on
(seed, i, image_size): the first k images of `draw_shapes(n, ...)` equal `draw_shapes(k, ...)`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from keras_gen.errors import KerasGenError

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring")
COLOURS = {
    "red": (230, 45, 45),
    "green": (45, 200, 70),
    "blue": (55, 100, 235),
    "yellow": (240, 220, 45),
    "magenta": (220, 55, 215),
    "cyan": (45, 210, 220),
    "orange": (250, 140, 30),
    "white": (240, 240, 240),
}
COLOUR_NAMES = tuple(COLOURS)
BACKGROUND = (18, 18, 24)
SIZE_RANGE = (0.14, 0.32)  # circumradius as a fraction of the image side
ATTRIBUTES = ("shape", "colour", "size", "x", "y", "rotation")


def _outline(shape: str, r: float, rotation_deg: float) -> np.ndarray | None:
    """Polygon vertices (K, 2) around the origin, circumradius r; None for round shapes."""
    if shape == "square":
        angles, radii = np.arange(4) * 90.0 + 45.0, np.full(4, r)
    elif shape == "triangle":
        angles, radii = np.arange(3) * 120.0 - 90.0, np.full(3, r)
    elif shape == "star":
        angles, radii = np.arange(10) * 36.0 - 90.0, np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    elif shape == "cross":  # a plus sign with arms of half-width w and length r
        w = 0.34 * r
        pts = np.array([(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r),
                        (-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w), (-w, r)])  # fmt: skip
        # Scale so the arm tips (at distance sqrt(r^2 + w^2)) touch the circumcircle.
        pts *= r / np.hypot(r, w)
        angles, radii = np.degrees(np.arctan2(pts[:, 1], pts[:, 0])), np.hypot(pts[:, 0], pts[:, 1])
    else:
        return None
    theta = np.radians(angles + rotation_deg)
    return np.stack([radii * np.cos(theta), radii * np.sin(theta)], axis=1)


def _supersampling(image_size: int) -> int:
    # 4x up to 64 px (a 256-px canvas), fewer for large images where edges are already fine.
    return 4 if image_size <= 64 else 3 if image_size <= 128 else 2


def _sample_attributes(n: int, seed: int) -> dict[str, np.ndarray]:
    u = np.random.default_rng(seed).random((n, 6))
    size = SIZE_RANGE[0] + u[:, 2] * (SIZE_RANGE[1] - SIZE_RANGE[0])
    return {
        "shape": np.minimum((u[:, 0] * len(SHAPES)).astype(np.int64), len(SHAPES) - 1),
        "colour": np.minimum((u[:, 1] * len(COLOURS)).astype(np.int64), len(COLOURS) - 1),
        "size": size.astype(np.float32),
        # Centres keep the whole circumcircle inside the image.
        "x": (size + u[:, 3] * (1.0 - 2.0 * size)).astype(np.float32),
        "y": (size + u[:, 4] * (1.0 - 2.0 * size)).astype(np.float32),
        "rotation": (u[:, 5] * 360.0).astype(np.float32),
    }


@lru_cache(maxsize=8)
def _draw_cached(n: int, image_size: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from PIL import Image, ImageDraw

    attrs = _sample_attributes(n, seed)
    ss = _supersampling(image_size)
    canvas = image_size * ss
    images = np.empty((n, image_size, image_size, 3), np.uint8)
    for i in range(n):
        pil = Image.new("RGB", (canvas, canvas), BACKGROUND)
        _paint(ImageDraw.Draw(pil), attrs, i, canvas, COLOURS[COLOUR_NAMES[attrs["colour"][i]]], BACKGROUND)
        images[i] = np.asarray(pil.reduce(ss))
    images.flags.writeable = False
    for value in attrs.values():
        value.flags.writeable = False
    return images, attrs


def _paint(draw, attrs: dict, i: int, canvas: int, fill, background) -> None:
    """Shape i of `attrs` filled with `fill` on a canvas of `canvas` pixels (its hole, for a ring,
    in `background`)."""
    shape = SHAPES[attrs["shape"][i]]
    # Continuous coordinates in canvas pixels; Pillow puts pixel centres on integers.
    cx, cy = attrs["x"][i] * canvas - 0.5, attrs["y"][i] * canvas - 0.5
    r = float(attrs["size"][i]) * canvas
    outline = _outline(shape, r, float(attrs["rotation"][i]))
    if outline is not None:
        draw.polygon([(cx + px, cy + py) for px, py in outline], fill=fill)
    else:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        if shape == "ring":
            ri = 0.55 * r
            draw.ellipse((cx - ri, cy - ri, cx + ri, cy + ri), fill=background)


def draw_shape_masks(n: int, image_size: int = 32, seed: int = 0) -> np.ndarray:
    """uint8 (n, H, W) masks, 1 inside the shape and 0 outside, of the images `draw_shapes(n,
    image_size, seed)` draws: the same geometry, not anti-aliased (each pixel takes the value at
    its centre on the supersampled canvas), so a mask is flat where the rendering is smooth."""
    from PIL import Image, ImageDraw

    _check_arguments(n, image_size, seed)
    attrs = _sample_attributes(int(n), int(seed))
    ss = _supersampling(int(image_size))
    canvas = int(image_size) * ss
    masks = np.empty((int(n), int(image_size), int(image_size)), np.uint8)
    for i in range(int(n)):
        pil = Image.new("L", (canvas, canvas), 0)
        _paint(ImageDraw.Draw(pil), attrs, i, canvas, 1, 0)
        # The sample nearest each output pixel's centre: offset ss // 2 in every ss x ss block.
        masks[i] = np.asarray(pil)[ss // 2::ss, ss // 2::ss]
    return masks


def _check_arguments(n, image_size, seed) -> None:
    for name, value, low in (("n", n, 1), ("image_size", image_size, 4), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise KerasGenError(f"draw_shapes: {name} must be an integer >= {low}, got {value!r}")


def draw_shapes(n: int, image_size: int = 32, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw `n` shapes at `image_size` pixels.

    Returns (images uint8 (n, H, W, 3), attributes) where attributes maps
      "shape"    int64 index into SHAPES,  "colour" int64 index into COLOUR_NAMES,
      "size"     float32 circumradius as a fraction of the image side (SIZE_RANGE),
      "x", "y"   float32 centre as fractions of the width and height, in [0, 1],
      "rotation" float32 degrees in [0, 360), clockwise on screen.
    The same (n, image_size, seed) gives the same arrays; generated sets are cached in memory.
    """
    _check_arguments(n, image_size, seed)
    images, attrs = _draw_cached(int(n), int(image_size), int(seed))
    return images.copy(), {k: v.copy() for k, v in attrs.items()}
