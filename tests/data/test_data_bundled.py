"""Bundled sources (digits, shapes, photos, textures): shapes, ranges, splits, determinism."""

import numpy as np
import pytest

from keras_gen.data import SOURCES, describe, load_arrays
from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8

BUNDLED = ["digits", "shapes", "photos", "textures"]
EXPECTED = {  # source -> (default size, channels, classes)
    "digits": (32, 1, 10),
    "shapes": (32, 3, 6),
    "photos": (64, 3, 7),
    "textures": (64, 1, 3),
}


def test_sources_lists_the_bundled_sets():
    assert sorted(SOURCES) == sorted(BUNDLED)


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("source", BUNDLED)
def test_bundled_split_shapes_dtypes_and_range(source, split):
    info = describe(source)
    size, channels, classes = EXPECTED[source]
    assert (info.default_image_size, info.channels, info.num_classes) == (size, channels, classes)
    assert len(info.class_names) == classes
    limit = None if source == "digits" else 200
    x, y, info2 = load_arrays(source, split, limit=limit)
    n = info.split_sizes[split] if limit is None else limit
    assert x.shape == (n, size, size, channels) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert -1.0 <= x.min() and x.max() <= 1.0
    assert x.max() - x.min() > 1.0  # real contrast, not a constant image
    assert 0 <= y.min() and y.max() < classes
    assert len(np.unique(y)) > 1
    assert info2 == info


def test_split_sizes_match_what_loads():
    assert describe("digits").split_sizes == {"train": 1437, "test": 360}
    x, _, _ = load_arrays("shapes", "test")
    assert len(x) == describe("shapes").split_sizes["test"] == 2000


def test_digits_train_and_test_are_disjoint_and_cover_the_set():
    train, ytr, _ = load_arrays("digits", "train", image_size=8)
    test, yte, _ = load_arrays("digits", "test", image_size=8)
    assert len(train) + len(test) == 1797
    rows_train = {row.tobytes() for row in train.reshape(len(train), -1)}
    rows_test = {row.tobytes() for row in test.reshape(len(test), -1)}
    assert len(rows_train) == len(train) and len(rows_test) == len(test)
    assert not rows_train & rows_test
    # Every class appears in both splits in roughly its share.
    assert set(np.unique(ytr)) == set(np.unique(yte)) == set(range(10))


def test_digits_are_the_sklearn_digits_scaled_and_upsampled():
    from sklearn.datasets import load_digits

    raw = load_digits()
    x8, y8, _ = load_arrays("digits", "test", image_size=8)
    x32, _, _ = load_arrays("digits", "test")
    # At native size: exactly the sklearn values stretched 0..16 -> 0..255 -> [-1, 1].
    want = from_uint8(np.round(raw.images * 255.0 / 16.0).astype(np.uint8))
    lookup = {w.tobytes(): k for k, w in enumerate(want[..., None])}
    idx = [lookup[a.tobytes()] for a in x8]
    np.testing.assert_array_equal(y8, raw.target[idx])
    # Upsampled 8 -> 32: pooling each 4x4 block gives the 8x8 digit back closely.
    pooled = x32.reshape(-1, 8, 4, 8, 4, 1).mean(axis=(2, 4))
    corr = np.corrcoef(pooled.ravel(), x8.ravel())[0, 1]
    assert corr > 0.97


def test_fixed_sets_ignore_the_seed():
    a, ya, _ = load_arrays("digits", "test", seed=0)
    b, yb, _ = load_arrays("digits", "test", seed=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)


@pytest.mark.parametrize("source", ["shapes", "photos", "textures"])
def test_generated_sources_are_deterministic_per_seed(source):
    a, ya, _ = load_arrays(source, limit=64, seed=3)
    b, yb, _ = load_arrays(source, limit=64, seed=3)
    c, _, _ = load_arrays(source, limit=64, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert np.abs(a - c).mean() > 0.05
    # limit takes a prefix of the full split.
    full, _, _ = load_arrays(source, limit=100, seed=3)
    np.testing.assert_array_equal(full[:64], a)


@pytest.mark.parametrize("source", ["shapes", "photos", "textures"])
def test_generated_train_and_test_differ(source):
    train, _, _ = load_arrays(source, "train", limit=100)
    test, _, _ = load_arrays(source, "test", limit=100)
    flat_train = {row.tobytes() for row in train.reshape(100, -1)}
    assert not any(row.tobytes() in flat_train for row in test.reshape(100, -1))


def test_resize_and_channel_conversion():
    x, _, _ = load_arrays("digits", "test", image_size=20, channels=3, limit=10)
    assert x.shape == (10, 20, 20, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 1])
    np.testing.assert_array_equal(x[..., 1], x[..., 2])

    rgb, _, _ = load_arrays("photos", "test", image_size=48, limit=16)
    gray, _, _ = load_arrays("photos", "test", image_size=48, channels=1, limit=16)
    assert rgb.shape == (16, 48, 48, 3) and gray.shape == (16, 48, 48, 1)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(gray[..., 0], luma, atol=1.01 / 127.5)

    big, _, _ = load_arrays("shapes", "test", image_size=96, limit=4)
    small, _, _ = load_arrays("shapes", "test", image_size=24, limit=4)
    assert big.shape == (4, 96, 96, 3) and small.shape == (4, 24, 24, 3)
    # The same shapes at two resolutions: block-averaged big ~ small.
    pooled = big.reshape(4, 24, 4, 24, 4, 3).mean(axis=(2, 4))
    assert np.abs(pooled - small).mean() < 0.05


@pytest.mark.parametrize(
    "kwargs",
    [{"image_size": 2}, {"image_size": 2048}, {"image_size": 32.0}, {"channels": 2}, {"channels": 4},
     {"split": "validation"}, {"limit": 0}, {"seed": -1}],
)  # fmt: skip
def test_bad_arguments_raise_keras_gen_error(kwargs):
    with pytest.raises(KerasGenError):
        load_arrays("digits", **kwargs)
