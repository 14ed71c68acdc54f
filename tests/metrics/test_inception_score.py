"""Inception Score: known values for one-hot, constant and two-class predictions; logits; errors."""

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import entropy

from keras_gen.errors import KerasGenError
from keras_gen.metrics import inception_score


@pytest.mark.parametrize("num_classes", [2, 10, 37])
def test_uniform_one_hot_predictions_score_the_number_of_classes(num_classes):
    probs = np.tile(np.eye(num_classes), (20, 1))  # every split of 2*C rows holds each class twice
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(num_classes, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_constant_predictions_score_one():
    rng = np.random.default_rng(0)
    p = softmax(rng.normal(size=10))
    mean, std = inception_score(np.tile(p, (100, 1)), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_two_class_known_value():
    probs = np.array([[0.9, 0.1], [0.1, 0.9]] * 50)
    expected = np.exp(entropy([0.9, 0.1], [0.5, 0.5]))  # KL against the uniform marginal
    mean, _ = inception_score(probs, splits=1)
    assert mean == pytest.approx(expected, rel=1e-12)


def test_logits_match_probabilities():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(60, 5)) * 3
    from_logits = inception_score(logits, splits=3, from_logits=True)
    from_probs = inception_score(softmax(logits, axis=1).astype(np.float32), splits=3)
    np.testing.assert_allclose(from_logits, from_probs, rtol=1e-5)
    # confident logits approach the one-hot value
    mean, _ = inception_score(np.tile(np.eye(4) * 60.0, (10, 1)), splits=2, from_logits=True)
    assert mean == pytest.approx(4.0, rel=1e-9)


def test_splits_are_scored_separately():
    # split 1 is all class 0, split 2 all class 1: each split's own marginal is one-hot -> IS 1
    probs = np.repeat(np.eye(2), 10, axis=0)
    assert inception_score(probs, splits=2)[0] == pytest.approx(1.0)
    assert inception_score(probs, splits=1)[0] == pytest.approx(2.0)


def test_inception_score_input_errors():
    with pytest.raises(KerasGenError, match="sum to 1.*from_logits=True"):
        inception_score(np.ones((10, 3)), splits=2)
    with pytest.raises(KerasGenError, match="negative.*from_logits=True"):
        inception_score(np.array([[2.0, -1.0]] * 4), splits=1)
    with pytest.raises(KerasGenError, match="splits=10 needs at least 10 samples, got 4"):
        inception_score(np.tile(np.eye(2), (2, 1)), splits=10)
    with pytest.raises(KerasGenError, match="at least 2 classes"):
        inception_score(np.ones((5, 1)))
    bad = np.tile(np.eye(3), (3, 1))
    bad[4, 1] = np.nan
    with pytest.raises(KerasGenError, match="NaN"):
        inception_score(bad, splits=1)
