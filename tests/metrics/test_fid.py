"""FID: closed form for Gaussians, sqrtm reference, convergence from samples, FID(x, x) = 0."""

import warnings

import numpy as np
import pytest
import scipy.linalg

from keras_gen.errors import KerasGenError
from keras_gen.metrics import FeatureStatistics, fid_from_features, fid_from_statistics, frechet_distance


def _random_covariance(rng, d, rank=None):
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / d + (0 if rank else 0.1 * np.eye(d))


def test_commuting_covariances_match_the_closed_form():
    # diagonal covariances commute: Tr((S1 S2)^1/2) = sum sqrt(s1 s2), an independent formula
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = rng.uniform(0.1, 3.0, 8), rng.uniform(0.1, 3.0, 8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-12)


def test_isotropic_gaussians_closed_form():
    # N(0, a^2 I) vs N(m, b^2 I) in d dims: ||m||^2 + d (a - b)^2
    d, a, b = 16, 1.5, 0.5
    m = np.full(d, 0.25)
    expected = m @ m + d * (a - b) ** 2
    got = frechet_distance(np.zeros(d), a**2 * np.eye(d), m, b**2 * np.eye(d))
    assert got == pytest.approx(expected, rel=1e-12)


def test_non_commuting_covariances_match_scipy_sqrtm():
    rng = np.random.default_rng(1)
    for d in (2, 10, 40):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _random_covariance(rng, d), _random_covariance(rng, d)
        assert not np.allclose(s1 @ s2, s2 @ s1)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
        # the distance is symmetric in its arguments
        assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-9)


def test_singular_covariances_stay_real_and_exact():
    # rank-deficient covariances (fewer samples than dims) are where sqrtm(S1 S2) breaks down
    rng = np.random.default_rng(2)
    d = 20
    s1, s2 = _random_covariance(rng, d, rank=5), _random_covariance(rng, d, rank=7)
    got = frechet_distance(np.zeros(d), s1, np.zeros(d), s2)
    # independent reference through the symmetric form S1^1/2 S2 S1^1/2, with eigh-based roots
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)
    expected = np.trace(s1) + np.trace(s2) - 2 * np.sqrt(lam).sum()
    assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(np.zeros(d), s1, np.zeros(d), s1) == pytest.approx(0.0, abs=1e-6 * np.trace(s1))


def test_fid_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 32)) * 3 + 10
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    stats = FeatureStatistics.from_features(x)
    assert fid_from_statistics(stats, stats) == pytest.approx(0.0, abs=1e-8)


def test_fid_from_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(4)
    d, n = 4, 20_000
    mu1, mu2 = np.zeros(d), np.array([0.5, -0.5, 0.0, 1.0])
    s1, s2 = _random_covariance(rng, d), _random_covariance(rng, d)
    x = rng.multivariate_normal(mu1, s1, size=n)
    y = rng.multivariate_normal(mu2, s2, size=n)
    expected = frechet_distance(mu1, s1, mu2, s2)
    got = fid_from_features(x, y)
    assert got == pytest.approx(expected, rel=0.05)
    # streaming in small batches gives the same number as one big batch
    a, b = FeatureStatistics(), FeatureStatistics()
    for start in range(0, n, 1000):
        a.update(x[start : start + 1000])
        b.update(y[start : start + 1000])
    assert fid_from_statistics(a, b) == pytest.approx(got, rel=1e-9)


def test_fid_input_errors():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 8))
    with pytest.raises(KerasGenError, match="dimension 8 but generated features have dimension 9"):
        fid_from_features(x, rng.normal(size=(50, 9)))
    with pytest.raises(KerasGenError, match="at least 2 samples in generated features, got 1"):
        fid_from_features(x, x[:1])
    with pytest.raises(KerasGenError, match="at least 2 samples of the second set.*at least 9"):
        fid_from_statistics(FeatureStatistics.from_features(x), FeatureStatistics.from_features(x[:1]))
    with pytest.raises(KerasGenError, match="feature dimensions 8 and 3"):
        fid_from_statistics(FeatureStatistics.from_features(x), FeatureStatistics.from_features(x[:, :3]))
    nan = x.copy()
    nan[7] = np.inf
    with pytest.raises(KerasGenError, match="NaN or inf"):
        fid_from_features(nan, x)
    with pytest.raises(KerasGenError, match="not a covariance"):
        frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))
    with pytest.raises(KerasGenError, match="not positive semi-definite"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, -1.0]))
    with pytest.raises(KerasGenError, match="not symmetric"):
        frechet_distance(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(KerasGenError, match=r"\(3, 3\) covariance"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))


def test_rank_deficient_estimate_warns_with_the_number_needed():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(10, 16)), rng.normal(size=(100, 16))
    with pytest.warns(UserWarning, match="10 samples of real features.*at least 17 samples are needed"):
        value = fid_from_features(x, y)
    assert np.isfinite(value) and value > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough samples: no warning
        fid_from_features(y, y[::-1])
