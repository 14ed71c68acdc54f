"""Discrete likelihoods of 8-bit images: distributions over the 256 levels of each value.

Images hold 8-bit values v in {0, ..., 255}, which the library reads as y = v / 127.5 - 1 in
[-1, 1] (keras_gen.images), so the levels are 2/255 apart. A decoder that outputs a continuous
distribution per value becomes a distribution over the 256 levels by giving each level the mass
of its bin [y - 1/255, y + 1/255], the two edge bins taking the tails (Salimans, Karpathy, Chen &
Kingma 2017, "PixelCNN++", eq. 2):

    P(v) = F((y + 1/255 - m) / s) - F((y - 1/255 - m) / s)    0 < v < 255
    P(0) = F((-1 + 1/255 - m) / s),   P(255) = 1 - F((1 - 1/255 - m) / s)

The masses sum to one over the 256 levels exactly (the sum telescopes), so -log P is a code
length in nats and bits/dim = -log P / (D ln 2) (keras_gen.metrics.likelihood, discrete).

    discretised_logistic_log_prob   F = sigmoid, location m and log-scale log s per value (the
                                    PixelCNN++ / VAE-literature choice, e.g. Kingma et al. 2016
                                    "Improved variational inference with inverse autoregressive
                                    flow"); log s is floored at LOG_SCALE_MIN.
    discretised_gaussian_log_prob   F = Phi, a fixed standard deviation.
    discretised_bernoulli_log_prob  P(v) proportional to p^(v/255) (1 - p)^(1 - v/255), the
                                    Bernoulli density on grey levels normalised over the 256
                                    levels (a continuous Bernoulli on the grid).

Each takes `levels`, the 8-bit values as floats 0..255, and returns log P per value (same
shape), in float32, stably for any parameters (no log of a difference of CDFs that round to
the same float).
"""

from __future__ import annotations

import math

import tensorflow as tf

LEVELS = 256  # 8-bit data
HALF_BIN = 1.0 / 255.0  # half the distance between two levels on the [-1, 1] scale
LOG_SCALE_MIN = -7.0  # PixelCNN++'s floor: s >= e^-7, a bin then holds at most 1 - 1e-4 less than all


def levels_to_unit(levels):
    """8-bit values (floats 0..255) -> the library's scale [-1, 1]."""
    return tf.convert_to_tensor(levels, tf.float32) / 127.5 - 1.0


def _log_expm1(d):
    """log(e^d - 1) for d > 0, stably at both ends."""
    return d + tf.math.log(-tf.math.expm1(-d))


def discretised_logistic_log_prob(levels, mean, log_scale):
    """log P(v) per value of the logistic with location `mean` (on the [-1, 1] scale) and
    log-scale `log_scale` (floored at LOG_SCALE_MIN), discretised to the 256 levels.

    Interior levels use sigmoid(a) - sigmoid(b) = e^b (e^(a - b) - 1) / ((1 + e^a)(1 + e^b)), so
    log P = log(e^(a-b) - 1) - softplus(a) - softplus(-b): no cancellation in either tail."""
    y = levels_to_unit(levels)
    mean = tf.convert_to_tensor(mean, tf.float32)
    log_scale = tf.maximum(tf.convert_to_tensor(log_scale, tf.float32), LOG_SCALE_MIN)
    inv_scale = tf.exp(-log_scale)
    upper = (y - mean + HALF_BIN) * inv_scale  # a
    lower = (y - mean - HALF_BIN) * inv_scale  # b
    log_cdf_upper = -tf.nn.softplus(-upper)  # log F(a): level 0 takes the lower tail
    log_survival_lower = -tf.nn.softplus(lower)  # log (1 - F(b)): level 255 takes the upper tail
    log_mid = _log_expm1(2.0 * HALF_BIN * inv_scale) - tf.nn.softplus(upper) - tf.nn.softplus(-lower)
    return tf.where(levels < 0.5, log_cdf_upper, tf.where(levels > 254.5, log_survival_lower, log_mid))


def _ndtr(u):
    """The standard normal CDF."""
    return 0.5 * tf.math.erfc(-u / math.sqrt(2.0))


def _log_ndtr(u):
    """log Phi(u); below u = -10 its asymptote -u^2/2 - log(-u sqrt(2 pi)) (error < 0.01)."""
    tail = -0.5 * tf.square(u) - tf.math.log(tf.maximum(-u, 10.0)) - 0.5 * math.log(2 * math.pi)
    return tf.where(u > -10.0, tf.math.log(tf.maximum(_ndtr(u), 1e-37)), tail)


def discretised_gaussian_log_prob(levels, mean, sigma: float):
    """log P(v) per value of N(mean, sigma^2) over pixels t = v / 255 in [0, 1] (the scale of the
    VAE's Gaussian decoder), discretised to the 256 levels: bins of width 1/255 around each."""
    t = tf.convert_to_tensor(levels, tf.float32) / 255.0
    centred = t - tf.convert_to_tensor(mean, tf.float32)
    half = 0.5 / 255.0
    plus, minus = (centred + half) / sigma, (centred - half) / sigma
    mass = tf.where(centred > 0, _ndtr(-minus) - _ndtr(-plus), _ndtr(plus) - _ndtr(minus))  # no cancellation
    log_density = -0.5 * tf.square(centred / sigma) - 0.5 * math.log(2 * math.pi) + math.log(2 * half / sigma)
    log_mid = tf.where(mass > 1e-10, tf.math.log(tf.maximum(mass, 1e-10)), log_density)
    return tf.where(levels < 0.5, _log_ndtr(plus), tf.where(levels > 254.5, _log_ndtr(-minus), log_mid))


def _log_sum_geometric(c):
    """log sum_{u=0}^{255} exp(u c), stably: 255 max(c, 0) + log((1 - e^{256 a}) / (1 - e^a)), a = -|c|."""
    a = -tf.maximum(tf.abs(c), 1e-8)
    return 255.0 * tf.nn.relu(c) + tf.math.log(-tf.math.expm1(LEVELS * a)) - tf.math.log(-tf.math.expm1(a))


def discretised_bernoulli_log_prob(levels, logits):
    """log P(v) per value, P(v) = p^(v/255) (1 - p)^(1 - v/255) / Z(p), p = sigmoid(logits):
    log P(v) = (v/255) L - log sum_{u=0}^{255} exp(u L / 255)."""
    logits = tf.convert_to_tensor(logits, tf.float32)
    return tf.convert_to_tensor(levels, tf.float32) / 255.0 * logits - _log_sum_geometric(logits / 255.0)
