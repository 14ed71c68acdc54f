"""Streaming mean/covariance: equal to the batch answer for any split, merge, save/load, errors."""

import numpy as np
import pytest

from keras_gen.errors import KerasGenError
from keras_gen.metrics import FeatureStatistics


def _data(n=500, d=12, offset=1e4, seed=0):
    rng = np.random.default_rng(seed)
    # a large common offset is what breaks the naive sum-of-outer-products formula
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + offset


@pytest.mark.parametrize("splits", [[500], [1, 499], [3, 97, 200, 200], [250, 1, 1, 248]])
def test_streamed_statistics_equal_batch_statistics(splits):
    x = _data()
    stats = FeatureStatistics()
    start = 0
    for size in splits:
        stats.update(x[start : start + size])
        start += size
    assert stats.count == len(x)
    np.testing.assert_allclose(stats.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    assert np.array_equal(stats.covariance, stats.covariance.T)


def test_float32_batches_accumulate_in_float64():
    x = _data(offset=100.0).astype(np.float32)
    stats = FeatureStatistics.from_features(x, batch_size=64)
    reference = np.cov(x.astype(np.float64), rowvar=False)
    np.testing.assert_allclose(stats.covariance, reference, rtol=1e-9, atol=1e-9)
    assert stats.mean.dtype == np.float64


def test_merge_equals_one_pass():
    x = _data()
    a = FeatureStatistics.from_features(x[:123])
    b = FeatureStatistics.from_features(x[123:], batch_size=50)
    merged = a.merge(b)
    assert merged is a and merged.count == len(x)
    np.testing.assert_allclose(merged.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(merged.covariance, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    # merging into an empty accumulator copies the other one
    empty = FeatureStatistics().merge(b)
    np.testing.assert_allclose(empty.covariance, np.cov(x[123:], rowvar=False), rtol=1e-9, atol=1e-9)


def test_save_load_round_trip(tmp_path):
    stats = FeatureStatistics.from_features(_data(), meta={"extractor": "inception_pool3", "data": "digits"})
    path = stats.save(tmp_path / "cache" / "real_stats.npz")
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    loaded = FeatureStatistics.load(path)
    assert loaded.count == stats.count and loaded.meta == stats.meta
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.covariance, stats.covariance)
    # a loaded cache keeps accumulating like the original
    extra = _data(seed=1)
    np.testing.assert_allclose(loaded.update(extra).covariance, stats.update(extra).covariance, rtol=1e-12)


def test_save_keeps_the_exact_file_name(tmp_path):
    path = FeatureStatistics.from_features(_data()).save(tmp_path / "stats.cache")
    assert path.name == "stats.cache" and path.is_file()


def test_load_errors_are_actionable(tmp_path):
    with pytest.raises(KerasGenError, match="No feature statistics file"):
        FeatureStatistics.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a numpy file")
    with pytest.raises(KerasGenError, match="Delete it"):
        FeatureStatistics.load(junk)


def test_bad_batches_are_rejected():
    stats = FeatureStatistics().update(_data(n=10, d=4))
    with pytest.raises(KerasGenError, match="dimension mismatch.*4.*5"):
        stats.update(np.zeros((3, 5)))
    bad = np.zeros((6, 4))
    bad[2, 1] = np.nan
    with pytest.raises(KerasGenError, match="NaN or inf in 1 of 6 rows \\(first: row 2\\)"):
        stats.update(bad)
    with pytest.raises(KerasGenError, match="2-D"):
        stats.update(np.zeros(4))
    assert stats.count == 10  # rejected batches change nothing
    with pytest.raises(KerasGenError, match="dimension mismatch"):
        stats.merge(FeatureStatistics.from_features(np.zeros((3, 5))))


def test_covariance_needs_two_samples():
    stats = FeatureStatistics().update(np.ones((1, 3)))
    np.testing.assert_array_equal(stats.mean, np.ones(3))
    with pytest.raises(KerasGenError, match=r"at least 2 samples.*hold 1\."):
        _ = stats.covariance
    with pytest.raises(KerasGenError, match="update"):
        _ = FeatureStatistics().mean
