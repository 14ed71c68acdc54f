"""KID: the unbiased polynomial-kernel MMD^2 estimator, its unbiasedness, and the subset average."""

import numpy as np
import pytest

from keras_gen.errors import KerasGenError
from keras_gen.metrics import kernel_inception_distance, mmd2_unbiased


def _kernel(a, b):
    return (a @ b / len(a) + 1.0) ** 3


def _mmd2_by_loops(x, y):
    """Textbook U-statistic, written with explicit loops as an independent reference."""
    m, n = len(x), len(y)
    xx = sum(_kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(_kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(_kernel(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_estimator_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(9, 5)) + 0.3
    assert mmd2_unbiased(x, y) == pytest.approx(_mmd2_by_loops(x, y), rel=1e-12)


def test_estimator_is_unbiased_on_identical_distributions():
    # Average the estimate over many independent sample pairs from the same distribution: the
    # unbiased estimator averages to 0 (within a few standard errors); the biased V-statistic
    # (diagonal included) is clearly positive, so the test can tell the two apart.
    rng = np.random.default_rng(1)
    unbiased, biased = [], []
    for _ in range(400):
        x, y = rng.normal(size=(2, 16, 4))
        unbiased.append(mmd2_unbiased(x, y))
        kxx, kyy, kxy = (_kernel_matrix(a, b) for a, b in ((x, x), (y, y), (x, y)))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    unbiased, biased = np.array(unbiased), np.array(biased)
    stderr = unbiased.std() / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 4 * stderr
    assert (unbiased < 0).any()  # an unbiased estimate of 0 must be negative sometimes
    assert biased.mean() > 10 * stderr


def _kernel_matrix(a, b):
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def test_kid_on_identical_distributions_is_near_zero_and_positive_when_shifted():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(1000, 8))
    same = rng.normal(size=(1000, 8))
    shifted = rng.normal(size=(1000, 8)) + 0.5
    mean, std = kernel_inception_distance(real, same, num_subsets=50, subset_size=100, seed=0)
    assert std > 0
    assert abs(mean) < 4 * std / np.sqrt(50)
    mean_shift, std_shift = kernel_inception_distance(real, shifted, num_subsets=50, subset_size=100, seed=0)
    assert mean_shift > 10 * std_shift / np.sqrt(50)
    assert mean_shift > 20 * abs(mean)


def test_kid_is_seeded_and_clips_the_subset_size():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(30, 6)), rng.normal(size=(30, 6)) + 1.0
    first = kernel_inception_distance(real, fake, num_subsets=5, subset_size=10, seed=7)
    assert first == kernel_inception_distance(real, fake, num_subsets=5, subset_size=10, seed=7)
    assert first != kernel_inception_distance(real, fake, num_subsets=5, subset_size=10, seed=8)
    # subset_size larger than the sets -> every subset is the whole (permuted) set
    mean, std = kernel_inception_distance(real, fake, num_subsets=3, subset_size=1000)
    assert mean == pytest.approx(mmd2_unbiased(real, fake), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-10 * abs(mean))


def test_kid_input_errors():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 6))
    with pytest.raises(KerasGenError, match="KID needs at least 2 samples in generated features, got 1"):
        kernel_inception_distance(x, x[:1])
    with pytest.raises(KerasGenError, match="dimension 6 but generated features have dimension 5"):
        kernel_inception_distance(x, x[:, :5])
    bad = x.copy()
    bad[3, 0] = np.nan
    with pytest.raises(KerasGenError, match="real features contain NaN"):
        kernel_inception_distance(bad, x)
    with pytest.raises(KerasGenError, match="subset_size must be at least 2"):
        kernel_inception_distance(x, x, subset_size=1)
    with pytest.raises(KerasGenError, match="num_subsets must be an integer"):
        kernel_inception_distance(x, x, num_subsets=2.5)
