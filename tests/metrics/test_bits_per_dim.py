"""Bits per dimension: discrete and continuous ([-1, 1] density) likelihoods with known values."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from keras_gen.errors import KerasGenError
from keras_gen.metrics import bits_per_dim


def test_uniform_over_256_levels_is_8_bits():
    d = 28 * 28
    assert bits_per_dim(d * math.log(256), d) == pytest.approx(8.0, rel=1e-12)
    assert bits_per_dim(np.full(5, 3 * 32 * 32 * math.log(256)), (32, 32, 3)) == pytest.approx(8.0)


def test_uniform_density_on_the_library_range():
    # density 2^-D on [-1, 1]^D is the uniform density over [0, 255] on the 8-bit scale
    d = 64
    assert bits_per_dim(d * math.log(2.0), d, continuous=True) == pytest.approx(math.log2(255), rel=1e-12)


def test_gaussian_density_changes_scale_correctly():
    # A Gaussian N(0, s^2) per value on the [-1, 1] scale is N(127.5, (127.5 s)^2) on the 8-bit
    # scale; evaluating both densities at matching points must give the same bits/dim.
    rng = np.random.default_rng(0)
    s, d = 0.3, 48
    y = rng.normal(scale=s, size=(4, d))
    x = 127.5 * (y + 1.0)
    nll_y = -norm.logpdf(y, scale=s).sum(axis=1)
    nll_x = -norm.logpdf(x, loc=127.5, scale=127.5 * s).sum(axis=1)
    np.testing.assert_allclose(bits_per_dim(nll_y, d, continuous=True), nll_x / (d * math.log(2)), rtol=1e-12)
    # and the per-dimension closed form at the mean: 0.5 log2(2 pi e s^2) differential entropy
    entropy_bits = 0.5 * math.log2(2 * math.pi * math.e * s**2)
    expected_nll = d * 0.5 * math.log(2 * math.pi * math.e * s**2)
    assert bits_per_dim(expected_nll, d) == pytest.approx(entropy_bits, rel=1e-12)


def test_bits_per_dim_input_errors():
    with pytest.raises(KerasGenError, match="num_dims must be a positive integer"):
        bits_per_dim(1.0, 0)
    with pytest.raises(KerasGenError, match="NaN"):
        bits_per_dim(np.array([1.0, np.nan]), 10)
    with pytest.raises(KerasGenError, match="numeric"):
        bits_per_dim("lots", 10)
