"""Memorisation check: copies are caught, fresh samples look like held-out data."""

import json

import numpy as np
import pytest

from keras_gen.errors import KerasGenError
from keras_gen.metrics import memorisation

SCALARS = ("ratio", "median_generated_to_train", "median_test_to_train", "threshold", "quantile",
           "flagged_fraction", "num_flagged")


def _split(seed=0, d=10):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(1000, d)), rng.normal(size=(300, d)), rng


def test_copies_of_training_points_are_flagged():
    train, test, rng = _split()
    picks = rng.choice(len(train), 200, replace=False)
    result = memorisation(train[picks], train, test)
    assert result["ratio"] == 0.0
    assert result["flagged_fraction"] == 1.0 and result["num_flagged"] == 200
    np.testing.assert_array_equal(result["nearest_train_index"], picks)
    np.testing.assert_array_equal(result["nearest_train_distance"], 0.0)
    json.dumps({k: result[k] for k in SCALARS})  # the scalars are JSON-ready


def test_near_copies_are_flagged_and_ranked_first():
    train, test, rng = _split(1)
    fresh = rng.normal(size=(150, 10))
    near = train[:50] + rng.normal(size=(50, 10)) * 0.01
    result = memorisation(np.concatenate([fresh, near]), train, test)
    assert set(result["most_suspicious"][:50]) == set(range(150, 200))
    assert result["flagged"][150:].all()
    np.testing.assert_array_equal(result["nearest_train_index"][150:], np.arange(50))
    assert result["flagged_fraction"] > 0.25  # 50 of 200 copies, plus ~5% of the fresh ones


def test_fresh_samples_from_the_data_distribution_look_like_test_data():
    train, test, rng = _split(2)
    result = memorisation(rng.normal(size=(300, 10)), train, test, quantile=0.05)
    assert 0.85 < result["ratio"] < 1.15
    assert result["flagged_fraction"] < 0.12  # about the 5% that the threshold lets through
    assert result["threshold"] == pytest.approx(np.quantile(result["test_to_train_distance"], 0.05))
    assert len(result["nearest_train_index"]) == 300 and len(result["test_to_train_distance"]) == 300


def test_memorisation_input_errors():
    train, test, _ = _split(3)
    with pytest.raises(KerasGenError, match="generated features have dimension 9 but training"):
        memorisation(train[:5, :9], train, test)
    with pytest.raises(KerasGenError, match="test features have dimension 9"):
        memorisation(train[:5], train, test[:, :9])
    with pytest.raises(KerasGenError, match="needs at least 2 samples in test features, got 1"):
        memorisation(train[:5], train, test[:1])
    with pytest.raises(KerasGenError, match="quantile must be between 0 and 1"):
        memorisation(train[:5], train, test, quantile=5)
    with pytest.raises(KerasGenError, match="disjoint"):
        memorisation(train[:5], train, train[:10])
    bad = train[:5].copy()
    bad[0, 0] = np.inf
    with pytest.raises(KerasGenError, match="NaN or inf"):
        memorisation(bad, train, test)
