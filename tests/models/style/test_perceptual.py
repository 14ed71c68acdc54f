"""Gram matrices, content/style losses and total variation against numpy references."""

import numpy as np
import pytest

from keras_gen.losses import perceptual as P


def test_gram_matrix_matches_numpy():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 5, 7, 4)).astype(np.float32)
    flat = f.reshape(2, 35, 4)
    want = np.einsum("bki,bkj->bij", flat, flat) / 35.0
    got = np.asarray(P.gram_matrix(f))
    assert got.shape == (2, 4, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, np.transpose(got, (0, 2, 1)), atol=1e-6)
    # Position-free: shuffling positions keeps the Gram matrix, which is why it measures style.
    perm = rng.permutation(35)
    shuffled = flat[:, perm].reshape(2, 5, 7, 4)
    np.testing.assert_allclose(np.asarray(P.gram_matrix(shuffled)), got, rtol=1e-5, atol=1e-5)


def test_content_and_style_loss_match_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 1, 6, 6, 3)).astype(np.float32)
    assert float(P.content_loss(a, b)) == pytest.approx(np.mean((a - b) ** 2), rel=1e-5)
    assert float(P.content_loss({"x": a, "y": a}, {"x": b, "y": a})) == pytest.approx(np.mean((a - b) ** 2), rel=1e-5)
    feats = {"l1": a, "l2": rng.normal(size=(1, 3, 3, 5)).astype(np.float32)}
    targets = {"l1": np.asarray(P.gram_matrix(b))[0], "l2": np.eye(5, dtype=np.float32)}
    weights = {"l1": 0.25, "l2": 2.0}
    want = sum(weights[k] * np.mean((np.asarray(P.gram_matrix(feats[k]))[0] - targets[k]) ** 2) for k in feats)
    assert float(P.style_loss(feats, targets, weights)) == pytest.approx(want, rel=1e-5)
    assert float(P.style_loss({"l1": b}, {"l1": targets["l1"]}, {"l1": 1.0})) == pytest.approx(0.0, abs=1e-10)


def test_total_variation_and_alpha_norm():
    flat = np.zeros((1, 8, 8, 3), np.float32)
    assert float(P.total_variation(flat, beta=2.0)) == pytest.approx(0.0, abs=1e-12)
    ramp = np.tile(np.arange(8, dtype=np.float32)[None, :, None] * 0.1, (8, 1, 1))[None]  # dx = 0.1, one channel
    assert float(P.total_variation(ramp, beta=2.0)) == pytest.approx(0.01, rel=1e-5)
    assert float(P.total_variation(ramp, beta=1.0)) == pytest.approx(0.1, rel=1e-3)
    noisy = np.random.default_rng(2).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    assert float(P.total_variation(noisy)) > 10 * float(P.total_variation(ramp))
    assert float(P.alpha_norm(np.full((1, 2, 2, 1), 0.5, np.float32), 6.0)) == pytest.approx(0.5**6, rel=1e-4)
