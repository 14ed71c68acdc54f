"""Improved precision/recall (Kynkäänniemi et al. 2019) on constructed point clouds."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from keras_gen.errors import KerasGenError
from keras_gen.metrics import precision_recall


def _reference(real, fake, k):
    """Brute-force eqs. 1-2 with full distance matrices (independent of the blocked engine)."""
    def coverage(query, points):
        radii = np.sort(cdist(points, points), axis=1)[:, k]  # column 0 is the point itself
        return (cdist(query, points) <= radii[None, :]).any(axis=1).mean()

    return coverage(fake, real), coverage(real, fake)


def _modes(rng, centres, n_per_mode, d):
    return np.concatenate([rng.normal(size=(n_per_mode, d)) * 0.5 + c for c in centres])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_brute_force_reference(k):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(150, 5)), rng.normal(size=(120, 5)) * 0.8 + 0.7
    p, r = precision_recall(real, fake, k=k, batch_size=16)
    p_ref, r_ref = _reference(real, fake, k)
    assert (p, r) == (p_ref, r_ref)
    assert 0 < p < 1 and 0 < r < 1


def test_identical_clouds_have_full_precision_and_recall():
    x = np.random.default_rng(1).normal(size=(300, 8))
    assert precision_recall(x, x.copy()) == (1.0, 1.0)
    # a fresh sample of the same distribution is almost entirely inside the manifold
    p, r = precision_recall(x, np.random.default_rng(2).normal(size=(300, 8)))
    assert p > 0.8 and r > 0.8


def test_far_apart_clouds_have_zero_precision_and_recall():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 50.0
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_generator_covering_half_the_modes():
    # real data: 4 well-separated modes; the generator produces only 2 of them, well
    rng = np.random.default_rng(4)
    centres = 20.0 * np.eye(4)
    real = _modes(rng, centres, 250, 4)
    fake = _modes(rng, centres[:2], 250, 4)
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.9
    # half the real points lie in covered modes, and most of those inside the fake manifold
    assert 0.4 < recall <= 0.5


def test_precision_recall_input_errors():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 4))
    with pytest.raises(KerasGenError, match="k=3.*needs at least 4 samples in generated features, got 3"):
        precision_recall(x, x[:3])
    with pytest.raises(KerasGenError, match="dimension 4 but generated features have dimension 3"):
        precision_recall(x, x[:, :3])
    bad = x.copy()
    bad[5, 2] = np.nan
    with pytest.raises(KerasGenError, match="generated features contain NaN"):
        precision_recall(x, bad)
    with pytest.raises(KerasGenError, match="k must be at least 1"):
        precision_recall(x, x, k=0)


def test_real_radii_computed_once_give_the_same_scores_and_are_checked():
    from keras_gen.metrics.distances import kth_neighbour_distance

    rng = np.random.default_rng(3)
    real = rng.normal(size=(300, 8))
    radii = kth_neighbour_distance(real, 3)
    for fake in (rng.normal(size=(60, 8)), rng.normal(0.5, 1.0, size=(90, 8)), real[:40] + 0.01):
        assert precision_recall(real, fake, real_radii=radii) == precision_recall(real, fake)
    with pytest.raises(ValueError, match="299 radii for 300 real features"):
        precision_recall(real, real[:20], real_radii=radii[:-1])
