"""PSNR and SSIM on [-1, 1] images: known values, agreement with uint8 conventions, errors."""

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8, to_uint8
from keras_gen.metrics import psnr, ssim


def _images(n=3, size=24, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    smooth = rng.uniform(-0.7, 0.7, size=(n, size // 4, size // 4, channels))
    return np.repeat(np.repeat(smooth, 4, axis=1), 4, axis=2).astype(np.float32)


def test_identical_images():
    x = _images()
    assert psnr(x, x) == math.inf
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("offset", [0.02, 0.1, 0.25])
def test_psnr_of_a_constant_offset(offset):
    x = _images()
    # MSE = offset^2 and the [-1, 1] range has width 2: PSNR = 10 log10(4 / offset^2)
    expected = 10 * math.log10(2.0**2 / offset**2)
    assert psnr(x + offset, x) == pytest.approx(expected, abs=1e-3)
    np.testing.assert_allclose(psnr(x + offset, x, per_image=True), [expected] * 3, atol=1e-3)


def test_psnr_equals_the_uint8_convention():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 256, (2, 2, 16, 16, 3), dtype=np.uint8)
    mse = np.mean((a.astype(np.float64) - b) ** 2, axis=(1, 2, 3))
    expected = np.mean(10 * np.log10(255.0**2 / mse))
    assert psnr(from_uint8(a), from_uint8(b)) == pytest.approx(expected, abs=1e-3)
    assert psnr(a, b) == pytest.approx(expected, abs=1e-3)  # uint8 input converts itself


def test_ssim_matches_scikit_image_on_uint8_images():
    # shifting [-1, 1] to [0, 2] makes SSIM equal to the standard SSIM of the uint8 images
    clean = _images(n=1, size=32, channels=1)
    noisy = np.clip(clean + np.random.default_rng(2).normal(size=clean.shape) * 0.2, -1, 1)
    a, b = to_uint8(noisy)[0, ..., 0], to_uint8(clean)[0, ..., 0]
    expected = structural_similarity(
        a, b, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    got = ssim(from_uint8(a)[None, ..., None], from_uint8(b)[None, ..., None])
    assert 0.1 < expected < 0.95
    assert got == pytest.approx(expected, abs=2e-3)


def test_ssim_drops_with_noise():
    x = _images(size=32)
    rng = np.random.default_rng(3)
    light = ssim(np.clip(x + rng.normal(size=x.shape) * 0.05, -1, 1), x)
    heavy = ssim(np.clip(x + rng.normal(size=x.shape) * 0.4, -1, 1), x)
    assert 1.0 > light > heavy > 0.0


def test_restoration_input_errors():
    x = _images()
    with pytest.raises(KerasGenError, match="differ in channels"):
        psnr(x, x[..., :1])
    with pytest.raises(KerasGenError, match="differ in shapes"):
        ssim(x, x[:, :20, :20])
    with pytest.raises(KerasGenError, match="at least 11x11, got 8x8.*smaller odd filter_size"):
        ssim(x[:, :8, :8], x[:, :8, :8])
    assert ssim(x[:, :8, :8], x[:, :8, :8], filter_size=7) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(KerasGenError, match="from_uint8"):
        psnr(x * 127.5 + 127.5, x)
    bad = x.copy()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(KerasGenError, match=r"NaN or inf in 1 of 3 images \(first: image 1\)"):
        psnr(bad, x)
    with pytest.raises(KerasGenError, match=r"\(N, H, W, C\)"):
        psnr(x[0, 0], x[0, 0])
