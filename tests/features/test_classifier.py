"""The project-trained domain classifier: accuracy, cache round trip, features, errors."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from keras_gen.data import load_arrays
from keras_gen.errors import KerasGenError
from keras_gen.features import classifier as clf


def test_digits_test_accuracy_at_least_97_percent(digits_classifier):
    cache_dir, features, metadata, _ = digits_classifier
    assert metadata["test_accuracy"] >= 0.97
    assert metadata["source"] == "digits" and metadata["num_classes"] == 10
    assert (metadata["image_size"], metadata["channels"]) == (32, 1)
    # Re-measured independently through the DomainFeatures API on the data module's test split.
    x, y, _ = load_arrays("digits", split="test")
    assert len(x) == metadata["test_size"] == 360
    assert features.accuracy(x, y) == pytest.approx(metadata["test_accuracy"], abs=1e-9)
    assert features.test_accuracy == metadata["test_accuracy"]


def test_cache_files_and_metadata(digits_classifier):
    cache_dir, _, metadata, _ = digits_classifier
    path = cache_dir / "classifiers" / "digits_32px_1ch.keras"
    assert path.is_file() and path.with_suffix(".json").is_file()
    assert json.loads(path.with_suffix(".json").read_text())["test_accuracy"] == metadata["test_accuracy"]
    assert not list(path.parent.glob(f"{path.stem}*partial*"))  # atomic write left no temporaries
    model = keras.saving.load_model(path, safe_mode=True)  # standard layers only
    assert model.get_layer("features").units == 128


def test_second_load_uses_cache_and_gives_same_outputs(digits_classifier, monkeypatch):
    cache_dir, features, _, _ = digits_classifier

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been reused")

    monkeypatch.setattr(clf, "train_domain_classifier", no_training)
    monkeypatch.setattr(keras.Model, "fit", no_training)
    again = clf.load_domain_classifier("digits", 32, 1, cache_dir=cache_dir)
    x, _, _ = load_arrays("digits", split="test", limit=40)
    a, b = features(x), again(x)
    for key in ("features", "logits", "probs"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-5)


def test_train_without_force_returns_cached_model(digits_classifier, monkeypatch):
    cache_dir, _, metadata, _ = digits_classifier

    def no_fit(*args, **kwargs):
        raise AssertionError("train_domain_classifier(force=False) must not retrain a cached classifier")

    monkeypatch.setattr(keras.Model, "fit", no_fit)
    _, meta = clf.train_domain_classifier("digits", cache_dir=cache_dir, verbose=0)
    assert meta["test_accuracy"] == metadata["test_accuracy"]


def test_feature_shapes_and_probabilities(digits_classifier):
    _, features, _, _ = digits_classifier
    x, y, _ = load_arrays("digits", split="test", limit=64)
    out = features(x, batch_size=16)  # several batches
    assert out["features"].shape == (64, 128) and out["features"].dtype == np.float32
    assert out["logits"].shape == (64, 10) and out["probs"].shape == (64, 10)
    np.testing.assert_allclose(out["probs"].sum(axis=1), 1.0, atol=1e-5)
    assert np.all(out["features"] >= 0)  # post-ReLU penultimate layer
    assert out["features"].std(axis=0).mean() > 0  # not a constant map
    np.testing.assert_array_equal(features.predict(x), np.argmax(out["logits"], axis=1))


def test_inputs_are_resized_and_converted_to_the_classifier_space(digits_classifier):
    """RGB 64 px digits are converted to grey and resized back to 32 px before classifying."""
    import tensorflow as tf

    _, features, _, _ = digits_classifier
    x, y, _ = load_arrays("digits", split="test", limit=100)
    big_rgb = tf.image.resize(np.repeat(x, 3, axis=-1), (64, 64), "bilinear").numpy()
    assert features.accuracy(big_rgb, y) >= 0.9
    agree = np.mean(features.predict(big_rgb) == features.predict(x))
    assert agree >= 0.9


def test_bad_inputs_raise_clear_errors(digits_classifier):
    _, features, _, _ = digits_classifier
    x, y, _ = load_arrays("digits", split="test", limit=8)
    with pytest.raises(KerasGenError, match="from_uint8"):
        features(((x + 1) * 127.5).astype(np.uint8))
    with pytest.raises(KerasGenError, match="labels"):
        features.accuracy(x, y[:3])
    with pytest.raises(KerasGenError, match="labels must be in"):
        features.accuracy(x, np.full(8, 10))


def test_unlabelled_source_is_refused(tmp_path):
    folder = tmp_path / "flat_images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(KerasGenError) as info:
        clf.train_domain_classifier(str(folder), cache_dir=tmp_path / "cache", verbose=0)
    message = str(info.value)
    assert "no class labels" in message and "digits" in message and "sub-folder per class" in message
    assert not (tmp_path / "cache").exists()


def test_missing_classifier_without_training_says_how_to_train(tmp_path):
    with pytest.raises(KerasGenError, match="keras-gen train classifier --data digits"):
        clf.load_domain_classifier("digits", 32, 1, cache_dir=tmp_path, train_if_missing=False)


def test_corrupt_cache_file_raises_kerasgenerror(tmp_path):
    path = clf.classifier_path("digits", 32, 1, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a keras file")
    path.with_suffix(".json").write_text("{}")
    with pytest.raises(KerasGenError, match="retrain"):
        clf.load_domain_classifier("digits", 32, 1, cache_dir=tmp_path, train_if_missing=False)


@pytest.mark.parametrize("size,channels,classes", [(8, 1, 10), (64, 3, 4)])
def test_build_any_size_and_safe_mode_round_trip(tmp_path, size, channels, classes):
    model = clf.build_domain_classifier(size, channels, classes, width=8)
    x = np.random.default_rng(0).uniform(-1, 1, (3, size, size, channels)).astype(np.float32)
    assert model(x).shape == (3, classes)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)


def test_cache_names_and_default_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GEN_CACHE", str(tmp_path / "c"))
    assert clf.default_cache_dir() == tmp_path / "c"
    assert clf.classifier_path("tfds:mnist", 28, 1).name == "tfds_mnist_28px_1ch.keras"
    a, b = tmp_path / "x" / "images", tmp_path / "y" / "images"
    a.mkdir(parents=True), b.mkdir(parents=True)
    pa, pb = clf.classifier_path(str(a), 32, 3), clf.classifier_path(str(b), 32, 3)
    assert pa != pb and pa.name.startswith("folder_images_")
    monkeypatch.delenv("KERAS_GEN_CACHE")
    assert str(clf.default_cache_dir()) == "cache"
