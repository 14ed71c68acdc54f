"""The procedural shapes: determinism, attribute ranges, and pixels that match the attributes."""

import numpy as np
import pytest

from keras_gen.data import shapes
from keras_gen.data.shapes import BACKGROUND, COLOUR_NAMES, COLOURS, SHAPES, SIZE_RANGE, draw_shapes
from keras_gen.errors import KerasGenError


def _foreground(images):
    """Pixels that differ clearly from the background (anti-aliased edges count partly)."""
    diff = np.abs(images.astype(np.float32) - np.array(BACKGROUND, np.float32)).max(axis=-1)
    return np.clip(diff / 60.0, 0.0, 1.0)  # (N, H, W) coverage-ish weights


def test_draw_shapes_is_deterministic_and_seeded():
    a, attrs_a = draw_shapes(50, 32, seed=1)
    b, attrs_b = draw_shapes(50, 32, seed=1)
    c, attrs_c = draw_shapes(50, 32, seed=2)
    np.testing.assert_array_equal(a, b)
    for k in attrs_a:
        np.testing.assert_array_equal(attrs_a[k], attrs_b[k])
    assert not np.array_equal(a, c)
    assert not np.array_equal(attrs_a["x"], attrs_c["x"])
    # Image i depends only on (seed, i): a shorter request is a prefix.
    d, attrs_d = draw_shapes(20, 32, seed=1)
    np.testing.assert_array_equal(d, a[:20])
    np.testing.assert_array_equal(attrs_d["shape"], attrs_a["shape"][:20])


def test_returned_arrays_do_not_alias_the_cache():
    a, attrs = draw_shapes(8, 16, seed=5)
    a[:] = 0
    attrs["x"][:] = -1
    b, attrs_b = draw_shapes(8, 16, seed=5)
    assert b.max() > 0 and attrs_b["x"].min() >= 0


def test_attribute_ranges_and_types():
    images, attrs = draw_shapes(2000, 16, seed=0)
    assert images.shape == (2000, 16, 16, 3) and images.dtype == np.uint8
    assert set(attrs) == set(shapes.ATTRIBUTES)
    assert attrs["shape"].dtype == np.int64 and attrs["colour"].dtype == np.int64
    assert set(np.unique(attrs["shape"])) == set(range(len(SHAPES)))
    assert set(np.unique(attrs["colour"])) == set(range(len(COLOURS)))
    size, x, y, rot = attrs["size"], attrs["x"], attrs["y"], attrs["rotation"]
    assert SIZE_RANGE[0] <= size.min() and size.max() <= SIZE_RANGE[1]
    assert np.all(x >= size - 1e-6) and np.all(x <= 1 - size + 1e-6)
    assert np.all(y >= size - 1e-6) and np.all(y <= 1 - size + 1e-6)
    assert 0.0 <= rot.min() and rot.max() < 360.0


@pytest.mark.parametrize("image_size", [32, 64])
def test_pixels_sit_where_the_attributes_say(image_size):
    images, attrs = draw_shapes(300, image_size, seed=11)
    weight = _foreground(images)
    yy, xx = np.mgrid[0:image_size, 0:image_size] + 0.5  # pixel centres
    total = weight.sum(axis=(1, 2))
    cx = (weight * xx).sum(axis=(1, 2)) / total / image_size
    cy = (weight * yy).sum(axis=(1, 2)) / total / image_size
    # Every shape is centrally symmetric or a regular polygon: its centroid is its centre.
    assert np.abs(cx - attrs["x"]).max() < 1.5 / image_size
    assert np.abs(cy - attrs["y"]).max() < 1.5 / image_size
    # Nothing is drawn outside the circumcircle.
    dx = xx[None] / image_size - attrs["x"][:, None, None]
    dist = np.hypot(dx, yy[None] / image_size - attrs["y"][:, None, None])
    outside = dist > attrs["size"][:, None, None] + 1.0 / image_size
    assert weight[outside].max() == 0.0


def test_colours_and_areas_match():
    images, attrs = draw_shapes(300, 64, seed=3)
    weight = _foreground(images)
    for i in range(len(images)):
        solid = weight[i] >= 1.0
        solid &= np.all(np.abs(images[i].astype(int) - COLOURS[COLOUR_NAMES[attrs["colour"][i]]]) <= 2, axis=-1)
        assert solid.sum() > 0.5 * (weight[i] >= 1.0).sum()  # the fill is the named colour
    circles = np.flatnonzero(attrs["shape"] == SHAPES.index("circle"))
    squares = np.flatnonzero(attrs["shape"] == SHAPES.index("square"))
    assert len(circles) > 10 and len(squares) > 10
    radius_px = attrs["size"] * 64
    area = _coverage(images, attrs["colour"])
    np.testing.assert_allclose(area[circles], np.pi * radius_px[circles] ** 2, rtol=0.06)
    np.testing.assert_allclose(area[squares], 2.0 * radius_px[squares] ** 2, rtol=0.06)  # side = r * sqrt(2)


def _coverage(images, colours):
    """Covered area in pixels, from the anti-aliased blend between background and fill."""
    images = images.astype(np.float32)
    bg = np.array(BACKGROUND, np.float32)
    fill = np.array([COLOURS[COLOUR_NAMES[c]] for c in colours], np.float32)
    alpha = ((images - bg) * (fill - bg)[:, None, None]).sum(-1) / ((fill - bg) ** 2).sum(-1)[:, None, None]
    return np.clip(alpha, 0, 1).sum(axis=(1, 2))


def test_any_resolution():
    for size in (8, 200):
        images, attrs = draw_shapes(4, size, seed=0)
        assert images.shape == (4, size, size, 3)
        assert _foreground(images).sum(axis=(1, 2)).min() > 0


def test_ring_has_a_hole():
    images, attrs = draw_shapes(400, 64, seed=4)
    for i in np.flatnonzero(attrs["shape"] == SHAPES.index("ring"))[:5]:
        cx, cy = int(attrs["x"][i] * 64), int(attrs["y"][i] * 64)
        np.testing.assert_array_equal(images[i, cy, cx], BACKGROUND)


@pytest.mark.parametrize("bad", [{"n": 0}, {"image_size": 2}, {"seed": -1}, {"n": 2.5}])
def test_bad_arguments(bad):
    kwargs = {"n": 4, "image_size": 16, "seed": 0, **bad}
    with pytest.raises(KerasGenError):
        draw_shapes(**kwargs)
