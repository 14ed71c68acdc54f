"""The speckle detector: mean |4-neighbour Laplacian| on the [0, 1] scale."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen.metrics.roughness import mean_abs_laplacian, rougher_than


def test_flat_and_linear_images_are_smooth_and_a_checkerboard_is_the_roughest():
    ramp = np.broadcast_to(np.linspace(-1, 1, 8)[None, :, None], (8, 8, 1))  # linear: Laplacian 0
    checker = np.where(np.add.outer(np.arange(8), np.arange(8)) % 2 == 0, 1.0, -1.0)[..., None]
    got = mean_abs_laplacian(np.stack([np.full((8, 8, 1), -1.0), ramp, checker]))
    np.testing.assert_allclose(got, [0.0, 0.0, 4.0], atol=1e-12)  # 0/1 neighbours: |4 x 1 - 0| = 4


def test_noise_on_a_smooth_image_is_rougher_than_the_image():
    rng = np.random.default_rng(0)
    disc = np.where(np.hypot(*np.mgrid[-7.5:8, -7.5:8]) < 5, 1.0, -1.0)[None, ..., None]
    noisy = np.clip(disc + rng.normal(0, 0.3, (4, 16, 16, 1)), -1, 1)
    assert np.all(mean_abs_laplacian(noisy) > mean_abs_laplacian(disc)[0])
    assert rougher_than(noisy, disc) == 1.0 and rougher_than(disc, noisy) == 0.0


def test_images_must_be_batches_of_at_least_3x3():
    with pytest.raises(ValueError, match="at least 3x3"):
        mean_abs_laplacian(np.zeros((8, 8, 1)))
