import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import from_uint8, make_grid, save_grid, to_uint8
from keras_gen.core.latents import gaussian_latents
from keras_gen.core_tf.images import from_uint8_tf, to_uint8_tf
from keras_gen.core_tf.latents import gaussian_latents_tf


def test_uint8_round_trip_is_exact_for_numpy_and_tf():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    floats = from_uint8(pixels)
    assert floats.dtype == np.float32 and floats.min() == -1.0 and floats.max() == 1.0
    np.testing.assert_array_equal(to_uint8(floats), pixels)
    np.testing.assert_array_equal(to_uint8_tf(from_uint8_tf(tf.constant(pixels))).numpy(), pixels)
    np.testing.assert_array_equal(from_uint8_tf(tf.constant(pixels)).numpy(), floats)


def test_to_uint8_clips_and_rounds():
    x = np.array([-3.0, -1.0, -0.999, 0.0, 0.999, 1.0, 7.0], np.float32)
    expected = np.clip(np.round((x + 1) * 127.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(to_uint8(x), expected)
    np.testing.assert_array_equal(to_uint8_tf(tf.constant(x)).numpy(), expected)
    assert to_uint8(x)[0] == 0 and to_uint8(x)[-1] == 255


def test_non_finite_pixels_are_an_error_not_black():
    import pytest

    from keras_gen import KerasGenError

    with pytest.raises(KerasGenError, match="diverged"):
        to_uint8(np.array([0.0, np.nan], np.float32))


def test_grid_layout_and_png(tmp_path):
    images = np.stack([np.full((4, 4, 3), i * 20, np.uint8) for i in range(5)])
    grid = make_grid(images, ncols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert (grid[1:5, 6:10] == 20).all()  # second image in the first row
    path = save_grid(images, tmp_path / "g.png")
    from PIL import Image

    assert Image.open(path).size[0] >= grid.shape[1]


def test_latents_are_gaussian_seeded_and_identical_in_numpy_and_tf():
    z = gaussian_latents(500, 64, seed=3)
    assert z.shape == (500, 64) and z.dtype == np.float32
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    np.testing.assert_array_equal(z, gaussian_latents(500, 64, seed=3))
    assert not np.allclose(z[:4], gaussian_latents(4, 64, seed=4))
    np.testing.assert_array_equal(gaussian_latents(4, 64, seed=3), z[:4])  # prefix-stable
    graph = tf.function(lambda n, s: gaussian_latents_tf(n, 64, s))
    np.testing.assert_allclose(graph(tf.constant(500), tf.constant(3, tf.int64)).numpy(), z, atol=1e-5)


def test_the_image_helpers_of_the_old_path_take_numpy_or_tensors():
    """keras_gen.images.to_uint8 (and from_uint8, convert_channels) pick the runtime from the
    argument: numpy through the core, a tensor through its TF twin."""
    from keras_gen import images

    pixels = np.arange(0, 256, 5, dtype=np.uint8).reshape(1, 1, -1, 1)
    floats = images.from_uint8(pixels)
    assert isinstance(floats, np.ndarray) and isinstance(images.to_uint8(floats), np.ndarray)
    tensor = images.from_uint8(tf.constant(pixels))
    assert isinstance(tensor, tf.Tensor) and tensor.dtype == tf.float32
    np.testing.assert_array_equal(images.to_uint8(tensor).numpy(), pixels)
    gray = images.convert_channels(tf.constant(np.full((1, 2, 2, 3), 100.0, np.float32)), 1)
    assert isinstance(gray, tf.Tensor) and np.allclose(gray.numpy(), 100.0, atol=1e-3)
    np.testing.assert_array_equal(images.convert_channels(np.full((1, 2, 2, 3), 100, np.uint8), 1), 100)


def test_image_and_latent_helpers_do_not_import_tensorflow():
    code = ("import sys, numpy as np; from keras_gen.images import to_uint8; from keras_gen.latents import "
            "gaussian_latents; to_uint8(gaussian_latents(2, 3, 0)); assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_different_seeds_share_no_latents():
    """Seeds must not map onto shifted copies of each other's streams (a xor-keyed counter did:
    seeds 15074 and 16395 shared 6144 of 6400 values). Only chance float32 collisions remain."""
    from collections import Counter

    z_a, z_b = gaussian_latents(64, 100, 15074), gaussian_latents(64, 100, 16395)
    assert len(np.intersect1d(z_a, z_b)) < 5
    seeds = range(300)
    values = np.concatenate([gaussian_latents(16, 64, s).ravel() for s in seeds])
    owner = np.repeat(np.arange(len(seeds)), 16 * 64)
    order = np.argsort(values, kind="stable")
    same = np.flatnonzero(np.diff(values[order]) == 0)
    pairs = Counter(tuple(sorted((owner[order][i], owner[order][i + 1]))) for i in same)
    assert max(pairs.values(), default=0) <= 3


def test_one_channel_conversion_for_numpy_uint8_and_tf_float():
    import tensorflow as tf

    from keras_gen.core.images import PIXEL_RANGE, convert_channels
    from keras_gen.core_tf.images import convert_channels_tf

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (2, 5, 5, 4)).astype(np.uint8)
    for channels in (1, 3):
        numpy_out = convert_channels(rgba, channels)
        tf_out = convert_channels_tf(tf.constant(from_uint8(rgba)), channels, value_range=PIXEL_RANGE).numpy()
        assert numpy_out.dtype == np.uint8 and numpy_out.shape == (2, 5, 5, channels)
        assert np.abs(to_uint8(tf_out).astype(int) - numpy_out.astype(int)).max() <= 1
    transparent = np.zeros((1, 1, 1, 4), np.uint8)  # fully transparent reads as white paper
    assert convert_channels(transparent, 3).tolist() == [[[[255, 255, 255]]]]
    red = np.array([[[[255, 0, 0]]]], np.uint8)
    assert convert_channels(red, 1).item() == round(0.299 * 255)
    with pytest.raises(KerasGenError, match="channels"):
        convert_channels(np.zeros((1, 2, 2, 5), np.uint8), 3)


def test_streams_are_independent_and_codes_agree_in_numpy_and_tf():
    from keras_gen.core import latents
    from keras_gen.core_tf import latents as latents_tf

    base = latents.gaussian_latents(4, 8, seed=1)
    np.testing.assert_array_equal(latents.gaussian_latents(4, 8, seed=1, stream=0), base)
    other = latents.gaussian_latents(4, 8, seed=1, stream=1)
    assert not np.intersect1d(base.ravel(), other.ravel()).size
    np.testing.assert_allclose(latents_tf.gaussian_latents_tf(4, 8, 1, stream=2).numpy(),
                               latents.gaussian_latents(4, 8, 1, stream=2), atol=1e-5)
    uniform = latents.uniform_codes(500, 2, seed=3, stream=1)
    assert -1 < uniform.min() and uniform.max() < 1 and abs(uniform.mean()) < 0.1
    np.testing.assert_array_equal(latents_tf.uniform_codes_tf(500, 2, 3, 1).numpy(), uniform)
    categories = latents.categorical_codes(1000, 10, seed=3, stream=2)
    np.testing.assert_array_equal(latents_tf.categorical_codes_tf(1000, 10, 3, 2).numpy(), categories)
    assert set(categories.tolist()) == set(range(10)) and np.bincount(categories).min() > 60


def test_an_image_file_is_read_at_the_shape_its_input_declares(tmp_path):
    """A fixed (H, W) is a centre crop to its aspect, resized; an any-size input keeps the file's
    own shape (a 40x64 picture stays 40x64, not cropped to 40x40); missing paths and folders say so."""
    from keras_gen import KerasGenError
    from keras_gen.images import load_image_file, save_image

    picture = np.zeros((40, 64, 3), np.uint8)
    picture[:, :12] = 255  # a white band on the left: cropped away by a centred square crop
    path = save_image(picture, tmp_path / "wide.png")
    assert load_image_file(path, (None, None, 3)).shape == (1, 40, 64, 3)
    assert load_image_file(path, (None, None, 1)).shape == (1, 40, 64, 1)
    assert load_image_file(path, (20, None, 3)).shape == (1, 20, 32, 3)  # one side given: the aspect kept
    square = load_image_file(path, (16, 16, 3))
    assert square.shape == (1, 16, 16, 3) and square.max() == 0  # the centred 40x40, band cropped away
    tall = load_image_file(path, (20, 10, 3))  # a tall target: the centred 40x20 of the picture
    assert tall.shape == (1, 20, 10, 3) and tall.max() == 0
    with pytest.raises(KerasGenError, match="does not exist"):
        load_image_file(tmp_path / "missing.png", (None, None, 3))
    with pytest.raises(KerasGenError, match="is a folder"):
        load_image_file(tmp_path, (None, None, 3))
    save_image(np.zeros((5, 6, 1), np.uint8), tmp_path / "tiny.png")
    with pytest.raises(KerasGenError, match="at least 8 px"):
        load_image_file(tmp_path / "tiny.png", (None, None, 1))


def test_image_sizes_are_one_side_or_height_by_width():
    from keras_gen import KerasGenError
    from keras_gen.core.images import image_hw
    from keras_gen.data.common import check_image_size, parse_image_size

    assert parse_image_size("32") == 32 and parse_image_size("12x20") == (12, 20) and parse_image_size("12X20") == (12, 20)
    assert check_image_size((16, 16), 8) == 16 and check_image_size([12, 20], 8) == (12, 20)
    assert check_image_size(None, 8) == 8 and image_hw(7) == (7, 7) and image_hw([3, 5]) == (3, 5)
    for bad in ("twelve", "1x2x3"):
        with pytest.raises(KerasGenError, match="HEIGHTxWIDTH"):
            parse_image_size(bad)
    with pytest.raises(KerasGenError, match="out of range"):
        check_image_size((2, 20), 8)
