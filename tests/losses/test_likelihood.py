"""Discrete likelihoods over the 256 levels (keras_gen/losses/likelihood.py): each sums to one
over the levels, equals a float64 brute-force computation, and stays finite where the CDFs of a
bin round to the same float."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.losses.likelihood import (LOG_SCALE_MIN, discretised_bernoulli_log_prob,
                                         discretised_gaussian_log_prob, discretised_logistic_log_prob)

LEVELS = np.arange(256, dtype="float32")
MEANS = (-3.0, -1.2, -1.0, -0.5, 0.0, 0.3, 0.99, 1.0, 2.5)  # on the [-1, 1] scale, past both ends too
LOG_SCALES = (-9.0, -7.0, -5.0, -3.0, -1.0, 0.0, 2.0)  # -9 is floored at LOG_SCALE_MIN


def _brute_force_logistic(mean: float, log_scale: float) -> np.ndarray:
    """P(v) for v = 0..255 in float64 from the logistic CDF F at the bin edges, the edge bins
    reaching to -inf and +inf; above the location as differences of the survival 1 - F, so that
    both tails keep their relative precision."""
    s = np.exp(max(log_scale, LOG_SCALE_MIN))
    y = LEVELS.astype(np.float64) / 127.5 - 1.0
    upper = np.where(LEVELS == 255, np.inf, y + 1 / 255)
    lower = np.where(LEVELS == 0, -np.inf, y - 1 / 255)

    with np.errstate(over="ignore"):
        def cdf(u):
            return 1.0 / (1.0 + np.exp(-(u - mean) / s))

        def survival(u):
            return 1.0 / (1.0 + np.exp((u - mean) / s))

        return np.where(y > mean, survival(lower) - survival(upper), cdf(upper) - cdf(lower))


def _logistic(mean, log_scale):
    shape = LEVELS.shape
    return discretised_logistic_log_prob(tf.constant(LEVELS), tf.fill(shape, mean), tf.fill(shape, log_scale)).numpy()


@pytest.mark.parametrize("mean", MEANS)
def test_discretised_logistic_sums_to_one_and_matches_brute_force(mean):
    for log_scale in LOG_SCALES:
        log_p = _logistic(mean, log_scale)
        assert np.all(np.isfinite(log_p)) and np.all(log_p <= 1e-6), (mean, log_scale)
        # float32: at the smallest scale a level's argument carries ~1e-4 of rounding (1/255 is
        # 1e3 scales wide there), so masses agree to ~1e-5, not to float64's precision
        assert abs(np.exp(log_p.astype(np.float64)).sum() - 1.0) < 5e-5, (mean, log_scale)
        expected = _brute_force_logistic(mean, log_scale)
        np.testing.assert_allclose(np.exp(log_p), expected, atol=5e-5, err_msg=f"{mean}, {log_scale}")
        # in log space too, wherever float64 still resolves the mass
        resolved = expected > 1e-250
        np.testing.assert_allclose(log_p[resolved], np.log(expected[resolved]), rtol=2e-4, atol=2e-4)


def test_discretised_logistic_is_finite_and_differentiable_far_from_the_data():
    """A location far outside [-1, 1] at the smallest scale: every bin's CDFs are 0 or 1 in float32,
    yet log P and its gradients are finite (no log 0, no inf - inf)."""
    levels = tf.constant(LEVELS)
    for mean in (-50.0, 50.0):
        m, s = tf.Variable(tf.fill((256,), mean)), tf.Variable(tf.fill((256,), LOG_SCALE_MIN + 0.5))
        with tf.GradientTape() as tape:
            log_p = discretised_logistic_log_prob(levels, m, s)
            total = tf.reduce_sum(log_p)
        grads = tape.gradient(total, [m, s])
        assert np.all(np.isfinite(log_p.numpy())) and all(np.all(np.isfinite(g.numpy())) for g in grads)
        far = 0 if mean > 0 else 255  # the level farthest from the location: about -|y - m| / s nats
        assert log_p.numpy()[far] < -1000.0


def test_a_sharp_logistic_puts_nearly_all_its_mass_on_the_levels_nearest_its_location():
    log_p = _logistic(-1.5, LOG_SCALE_MIN)  # below the range: the edge bin takes the tail
    assert np.exp(log_p[0]) > 0.999
    log_p = _logistic(40 / 127.5 - 1, LOG_SCALE_MIN)  # exactly on level 40
    assert np.exp(log_p[40]) > 0.97 and np.argmax(log_p) == 40


@pytest.mark.parametrize("parameter", [-30.0, -2.5, 0.0, 0.3, 6.0, 40.0])
def test_discretised_bernoulli_and_gaussian_sum_to_one(parameter):
    levels = tf.constant(LEVELS)
    bernoulli = discretised_bernoulli_log_prob(levels, tf.fill((256,), parameter)).numpy()
    gaussian = discretised_gaussian_log_prob(levels, tf.fill((256,), tf.sigmoid(parameter)), 0.1).numpy()
    for log_p in (bernoulli, gaussian):
        assert np.all(np.isfinite(log_p)) and abs(np.exp(log_p.astype(np.float64)).sum() - 1.0) < 1e-4
