"""The entry points: source names, `load_dataset` pipelines, and TFDS without a network."""

import numpy as np
import pytest

from keras_gen.data import describe, load_arrays, load_dataset, resolve_source
from keras_gen.errors import KerasGenError


def test_source_resolution_and_unknown_names(tmp_path):
    assert resolve_source("digits") == ("bundled", "digits")
    assert resolve_source("tfds:cifar10") == ("tfds", "cifar10")
    assert resolve_source(str(tmp_path)) == ("folder", str(tmp_path))
    assert resolve_source(tmp_path)[0] == "folder"
    with pytest.raises(KerasGenError) as err:
        load_arrays("mnist")
    message = str(err.value)
    for choice in ("digits", "shapes", "photos", "textures", "tfds:", "folder"):
        assert choice in message
    assert "tfds:mnist" in message  # the likely fix is suggested
    with pytest.raises(KerasGenError):
        describe("")


def test_load_dataset_batches_and_epochs():
    ds = load_dataset("digits", batch_size=64, seed=1)
    batches = list(ds)
    assert len(batches) == 1437 // 64
    first = batches[0].numpy()
    assert first.shape == (64, 32, 32, 1) and first.dtype == np.float32
    assert -1.0 <= first.min() and first.max() <= 1.0
    # drop_remainder=False keeps every image, once.
    everything = np.concatenate(list(load_dataset("digits", batch_size=100, shuffle=False, drop_remainder=False)))
    reference, _, _ = load_arrays("digits")
    np.testing.assert_array_equal(everything, reference)
    # repeat=True runs past one epoch.
    assert len(list(load_dataset("digits", "test", batch_size=100, repeat=True).take(7))) == 7


def test_load_dataset_shuffle_is_seeded():
    a = next(iter(load_dataset("digits", "test", batch_size=32, seed=5))).numpy()
    b = next(iter(load_dataset("digits", "test", batch_size=32, seed=5))).numpy()
    c = next(iter(load_dataset("digits", "test", batch_size=32, seed=6))).numpy()
    unshuffled = next(iter(load_dataset("digits", "test", batch_size=32, shuffle=False))).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, unshuffled)
    # A shuffle reorders the split; it does not change its content.
    full = np.concatenate(list(load_dataset("digits", "test", batch_size=40, seed=5, cache=False)))
    ref, _, _ = load_arrays("digits", "test")
    np.testing.assert_allclose(np.sort(full.reshape(len(full), -1).sum(1)), np.sort(ref.reshape(len(ref), -1).sum(1)))


def test_load_dataset_with_labels_and_options():
    ds = load_dataset("shapes", "test", image_size=16, channels=1, batch_size=50, with_labels=True, limit=200)
    pairs = list(ds)
    assert len(pairs) == 4
    images, labels = pairs[0]
    assert images.shape == (50, 16, 16, 1) and labels.shape == (50,) and labels.dtype.name == "int64"
    all_labels = np.concatenate([y.numpy() for _, y in pairs])
    _, ref_labels, _ = load_arrays("shapes", "test", limit=200)
    np.testing.assert_array_equal(np.sort(all_labels), np.sort(ref_labels))


def test_too_few_images_for_a_batch():
    with pytest.raises(KerasGenError, match="batch"):
        load_dataset("digits", "test", batch_size=500)
    ds = load_dataset("digits", "test", batch_size=500, drop_remainder=False)
    assert next(iter(ds)).shape[0] == 360
    with pytest.raises(KerasGenError):
        load_dataset("digits", batch_size=0)


@pytest.fixture(scope="module")
def tfds_imported():
    import tensorflow_datasets as tfds

    return tfds


def test_tfds_offline_error_neither_probes_nor_downloads_and_says_what_to_do(tmp_path, tfds_imported, monkeypatch):
    """Not prepared and downloads off (download=False, or KERAS_GEN_OFFLINE=1): the error comes
    at once, without the network probe (up to 3 s each) or a download attempt."""
    from keras_gen.data import tfds_source

    attempts = []
    real_builder = tfds_source._builder

    def builder_that_records_downloads(name, data_dir):
        builder = real_builder(name, data_dir)
        builder.download_and_prepare = lambda *a, **k: attempts.append(("download_and_prepare", name))
        return builder

    monkeypatch.setattr(tfds_source, "_builder", builder_that_records_downloads)
    monkeypatch.setattr(tfds_source.socket, "create_connection", lambda *a, **k: attempts.append(("probe", a)))
    data_dir = str(tmp_path / "tfds")
    with pytest.raises(KerasGenError) as err:
        load_arrays("tfds:mnist", data_dir=data_dir, download=False)
    message = str(err.value)
    assert "tfds build mnist --data_dir" in message and data_dir in message and "--data-dir" in message
    # Automatic mode with the network declared off: the same error, without trying to download.
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    for call in (lambda: describe("tfds:cifar10", data_dir=data_dir),
                 lambda: load_dataset("tfds:cifar10", data_dir=data_dir)):  # fmt: skip
        with pytest.raises(KerasGenError, match="not prepared"):
            call()
    assert attempts == []
    assert not list((tmp_path / "tfds").rglob("*.tfrecord*"))  # nothing was downloaded


def test_tfds_unknown_name(tfds_imported, tmp_path):
    with pytest.raises(KerasGenError, match="unknown TFDS data set"):
        describe("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))


def test_tfds_pipeline_on_mock_data(tfds_imported, tmp_path):
    """The whole TFDS path (load, resize, channels, labels, batching) on TFDS's own offline mock."""
    tfds = tfds_imported
    with tfds.testing.mock_data(num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE):
        x, y, info = load_arrays("tfds:mnist", data_dir=str(tmp_path), download=True, image_size=16, channels=3)
        assert info.default_image_size == 28 and info.channels == 1 and info.num_classes == 10
        assert x.shape == (24, 16, 16, 3) and x.dtype == np.float32 and -1 <= x.min() and x.max() <= 1
        np.testing.assert_array_equal(x[..., 0], x[..., 2])
        assert y.dtype == np.int64 and 0 <= y.min() and y.max() < 10
        ds = load_dataset("tfds:cifar10", "test", data_dir=str(tmp_path), download=True, batch_size=8,
                          with_labels=True, channels=1, limit=16)  # fmt: skip
        batches = list(ds)
        assert len(batches) == 2
        assert batches[0][0].shape == (8, 32, 32, 1) and batches[0][1].shape == (8,)
