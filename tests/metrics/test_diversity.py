"""Diversity: mean pairwise distance, exact and sampled, L2 and cosine; collapse gives 0."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from keras_gen.errors import KerasGenError
from keras_gen.metrics import mean_pairwise_distance, mean_pairwise_distance_per_class


def test_exact_mean_matches_pdist():
    x = np.random.default_rng(0).normal(size=(200, 16)) + 5.0
    assert mean_pairwise_distance(x) == pytest.approx(pdist(x).mean(), rel=1e-10)
    assert mean_pairwise_distance(x, metric="cosine") == pytest.approx(pdist(x, "cosine").mean(), rel=1e-10)


def test_sampled_mean_is_close_and_seeded():
    x = np.random.default_rng(1).normal(size=(600, 16))
    exact = pdist(x).mean()
    sampled = mean_pairwise_distance(x, max_pairs=20_000, seed=3)
    assert sampled == pytest.approx(exact, rel=0.01)
    assert sampled == mean_pairwise_distance(x, max_pairs=20_000, seed=3)
    assert sampled != mean_pairwise_distance(x, max_pairs=20_000, seed=4)


def test_collapsed_features_have_zero_diversity():
    collapsed = np.tile(np.random.default_rng(2).normal(size=32) + 100.0, (50, 1))
    assert mean_pairwise_distance(collapsed) == pytest.approx(0.0, abs=1e-9)
    assert mean_pairwise_distance(collapsed, max_pairs=10) == 0.0
    assert mean_pairwise_distance(collapsed, metric="cosine") == pytest.approx(0.0, abs=1e-12)
    # spreading the samples out raises the score
    spread = collapsed + np.random.default_rng(3).normal(size=collapsed.shape)
    assert mean_pairwise_distance(spread) > 1.0


def test_per_class_diversity_finds_collapse_inside_one_class():
    rng = np.random.default_rng(4)
    diverse = rng.normal(size=(40, 8))
    collapsed = np.tile(rng.normal(size=8), (40, 1))
    labels = np.array([0] * 40 + [1] * 40 + [2])  # class 2 has one sample: skipped
    result = mean_pairwise_distance_per_class(np.concatenate([diverse, collapsed, diverse[:1]]), labels)
    assert set(result["per_class"]) == {0, 1}
    assert result["per_class"][0] == pytest.approx(pdist(diverse).mean(), rel=1e-10)
    assert result["per_class"][1] == pytest.approx(0.0, abs=1e-9)
    assert result["mean"] == pytest.approx(result["per_class"][0] / 2, rel=1e-6)


def test_diversity_input_errors():
    with pytest.raises(KerasGenError, match="at least 2 samples in features, got 1"):
        mean_pairwise_distance(np.ones((1, 4)))
    with pytest.raises(KerasGenError, match="Unknown diversity metric 'manhattan'"):
        mean_pairwise_distance(np.ones((3, 4)), metric="manhattan")
    with pytest.raises(KerasGenError, match="all zeros.*metric='l2'"):
        mean_pairwise_distance(np.zeros((3, 4)), metric="cosine")
    with pytest.raises(KerasGenError, match=r"labels must have shape \(3,\)"):
        mean_pairwise_distance_per_class(np.ones((3, 4)), [0, 1])
    with pytest.raises(KerasGenError, match="NaN"):
        mean_pairwise_distance(np.array([[0.0, np.nan], [1.0, 2.0]]))
