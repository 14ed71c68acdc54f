"""InceptionV3 features: offline error path, shapes and logits with random weights, resizing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.errors import KerasGenError
from keras_gen.features import _common, inception
from keras_gen.features.inception import InceptionFeatures


@pytest.fixture(scope="module")
def random_inception():
    keras.utils.set_random_seed(0)
    return InceptionFeatures(weights=None)


@pytest.fixture
def empty_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(_common, "keras_model_dirs", lambda: [tmp_path / "keras_home" / "models"])


def test_offline_error_builds_nothing_and_says_what_to_do(empty_keras_cache, monkeypatch):
    """No weights cached and the host unreachable: the error comes before any InceptionV3 is built
    or any file fetched (what made it take minutes), not after."""
    monkeypatch.setattr(_common, "host_reachable", lambda *a, **k: False)
    attempts = []
    monkeypatch.setattr(keras.applications, "InceptionV3", lambda *a, **k: attempts.append(("InceptionV3", k)))
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: attempts.append(("get_file", a)))
    with pytest.raises(KerasGenError) as info:
        InceptionFeatures(weights="imagenet")
    assert attempts == []
    message = str(info.value)
    for part in (inception.TOP_WEIGHTS, "--inception-weights PATH", "~/.keras/models/", "--features domain"):
        assert part in message


def test_failed_download_becomes_kerasgenerror(empty_keras_cache, monkeypatch):
    """Host reachable but the download fails (proxy, 403, bad hash): same clear error."""
    monkeypatch.setattr(_common, "host_reachable", lambda *a, **k: True)

    def failing(*args, **kwargs):
        raise Exception("URL fetch failure: 403 Forbidden")

    monkeypatch.setattr(keras.applications, "InceptionV3", failing)
    with pytest.raises(KerasGenError, match="403 Forbidden") as info:
        InceptionFeatures(weights="imagenet")
    assert "--inception-weights" in str(info.value)
    with pytest.raises(KerasGenError, match="--inception-weights"):
        InceptionFeatures(weights="imagenet", download=False)


def test_missing_or_unreadable_weights_file(tmp_path):
    with pytest.raises(KerasGenError, match="not found"):
        InceptionFeatures(weights=tmp_path / "nope.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"garbage")
    with pytest.raises(KerasGenError, match="cannot read"):
        InceptionFeatures(weights=bad)


def test_shapes_logits_and_grey_input(random_inception):
    rng = np.random.default_rng(0)
    grey = rng.uniform(-1, 1, (2, 20, 24, 1)).astype(np.float32)  # tiny, non-square, 1 channel
    out = random_inception(grey, batch_size=1)
    assert out["pool"].shape == (2, 2048) and out["features"].shape == (2, 2048)
    assert out["logits"].shape == (2, 1000) and out["pool"].dtype == np.float32
    np.testing.assert_array_equal(out["features"], out["pool"])
    # Grey input is the same as its RGB repeat.
    rgb = random_inception(np.repeat(grey, 3, axis=-1))
    np.testing.assert_allclose(out["pool"], rgb["pool"], rtol=1e-5, atol=1e-6)
    # logits are the pre-softmax of keras' top layer: softmax(logits) == the full model's output.
    resized = tf.image.resize(np.repeat(grey, 3, axis=-1), (299, 299), "bilinear", antialias=True)
    expected = random_inception.model.predict(resized, verbose=0)
    np.testing.assert_allclose(out["probs"], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tf.nn.softmax(out["logits"]).numpy(), expected, rtol=1e-4, atol=1e-6)


def test_weights_file_path_round_trip(random_inception, tmp_path):
    path = tmp_path / "inception.weights.h5"
    random_inception.model.save_weights(path)
    loaded = InceptionFeatures(weights=path)
    assert loaded.has_logits
    x = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    a, b = random_inception(x), loaded(x)
    np.testing.assert_allclose(a["logits"], b["logits"], rtol=1e-5, atol=1e-5)


def test_resize_is_antialiased_and_float():
    # A one-pixel checkerboard shrunk 3x: antialiasing averages it to ~0; plain bilinear samples
    # single pixels and keeps a full-contrast (aliased) checkerboard.
    checker = np.indices((48, 48)).sum(axis=0) % 2 * 2.0 - 1.0
    x = np.repeat(checker[None, :, :, None], 3, axis=-1).astype(np.float32)
    small = _common.resize_images(tf.constant(x), 16).numpy()
    aliased = tf.image.resize(x, (16, 16), "bilinear", antialias=False).numpy()
    assert np.abs(small).max() < 0.1 and np.abs(aliased).max() > 0.9
    # No uint8 quantisation: a value between two uint8 levels survives up- and downsampling.
    const = np.full((1, 10, 10, 1), 0.123456, np.float32)
    for size in (299, 5):
        np.testing.assert_allclose(_common.resize_images(tf.constant(const), size).numpy(), 0.123456, atol=1e-6)
    np.testing.assert_array_equal(_common.resize_images(tf.constant(x), 48).numpy(), x)  # identity


def test_rejects_uint8_and_bad_shapes(random_inception):
    with pytest.raises(KerasGenError, match="from_uint8"):
        random_inception(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(KerasGenError, match=r"\(N, H, W, C\)"):
        random_inception(np.zeros((8, 8), np.float32))
    with pytest.raises(KerasGenError, match="channels"):  # 2 and 4 are gray/RGB with alpha, as in files
        random_inception(np.zeros((1, 8, 8, 5), np.float32))
