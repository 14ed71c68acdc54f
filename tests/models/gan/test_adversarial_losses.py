import numpy as np
import pytest
import tensorflow as tf

from keras_gen.losses import (ADVERSARIAL_LOSSES, clip_weights, discriminator_loss, generator_loss, gradient_penalty,
                              r1_penalty)


def test_minimax_generator_loss_saturates_on_confident_fakes():
    """Where D confidently rejects fakes (logits around -8, as early in training), the minimax
    G loss's gradient w.r.t. D's logits is ~s(l) = 3e-4 of the non-saturating one's ~1 - s(l)."""
    logits = tf.constant(np.linspace(-9.0, -7.0, 16)[:, None], tf.float32)
    norms = {}
    for kind in ("minimax", "non_saturating"):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = generator_loss(logits, kind)
        norms[kind] = float(tf.norm(tape.gradient(loss, logits)))
    assert norms["minimax"] < 1e-3 * norms["non_saturating"]
    assert norms["non_saturating"] > 0.2  # ~ sqrt(B) / B: no saturation


def test_losses_match_their_formulas():
    real, fake = tf.constant([[1.5], [-0.5], [0.2]]), tf.constant([[-2.0], [0.3], [1.2]])
    r, f = real.numpy(), fake.numpy()
    np.testing.assert_allclose(discriminator_loss(real, fake, kind="wasserstein"), f.mean() - r.mean(), rtol=1e-6)
    np.testing.assert_allclose(discriminator_loss(real, fake, kind="hinge"),
                               np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), rtol=1e-6)
    np.testing.assert_allclose(discriminator_loss(real, fake, kind="least_squares"),
                               0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(), rtol=1e-6)
    np.testing.assert_allclose(generator_loss(fake, "hinge"), -f.mean(), rtol=1e-6)
    np.testing.assert_allclose(generator_loss(fake, "least_squares"), 0.5 * ((f - 1) ** 2).mean(), rtol=1e-6)
    for kind in set(ADVERSARIAL_LOSSES) - {"least_squares"}:  # D's loss falls as real and fake scores separate
        assert float(discriminator_loss(real + 3, fake - 3, kind=kind)) < float(discriminator_loss(real, fake, kind=kind))
    with pytest.raises(ValueError, match="least_squares"):
        discriminator_loss(real, fake, kind="wgan?")


def _tiny_critic(seed=0):
    """D(x) = sum_j v_j tanh(x . W_j), x flattened: smooth, so finite differences are accurate."""
    rng = np.random.default_rng(seed)
    w, v = tf.constant(rng.normal(size=(12, 5))), tf.constant(rng.normal(size=(5, 1)))
    return lambda x: tf.tanh(tf.reshape(x, (tf.shape(x)[0], -1)) @ w) @ v


def test_gradient_penalty_matches_a_finite_difference_gradient_norm():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(4, 2, 3, 2)), rng.normal(size=(4, 2, 3, 2))
    eps = rng.uniform(size=4)
    critic = _tiny_critic()
    penalty = float(gradient_penalty(critic, tf.constant(real), tf.constant(fake), tf.constant(eps)))

    x_hat = eps[:, None, None, None] * real + (1 - eps[:, None, None, None]) * fake
    h, norms = 1e-5, []
    for i in range(len(x_hat)):
        grad = np.zeros(x_hat[i].size)
        for j in range(x_hat[i].size):
            step = np.zeros(x_hat[i].size)
            step[j] = h
            up = x_hat[i : i + 1] + step.reshape(x_hat[i : i + 1].shape)
            down = x_hat[i : i + 1] - step.reshape(x_hat[i : i + 1].shape)
            grad[j] = (float(critic(tf.constant(up))[0, 0]) - float(critic(tf.constant(down))[0, 0])) / (2 * h)
        norms.append(np.linalg.norm(grad))
    np.testing.assert_allclose(penalty, np.mean((np.array(norms) - 1) ** 2), rtol=1e-6)
    # R1 on the same critic: the mean squared gradient norm at the real points
    r1 = float(r1_penalty(critic, tf.constant(real)))
    assert r1 > 0 and np.isfinite(r1)


def test_gradient_penalty_trains_the_critic_towards_unit_gradients():
    """The penalty is differentiable in the critic's weights (second-order gradient exists)."""
    w = tf.Variable(np.full((12, 1), 3.0))
    critic = lambda x: tf.reshape(x, (tf.shape(x)[0], -1)) @ w  # noqa: E731  gradient norm = ||w|| = 10.4
    real, fake, eps = tf.ones((2, 2, 3, 2), tf.float64), tf.zeros((2, 2, 3, 2), tf.float64), tf.constant([0.3, 0.6])
    with tf.GradientTape() as tape:
        penalty = gradient_penalty(critic, real, fake, eps)
    np.testing.assert_allclose(float(penalty), (np.sqrt(12 * 9.0) - 1) ** 2, rtol=1e-6)
    assert float(tf.reduce_sum(tape.gradient(penalty, w))) > 0  # shrinking w lowers the penalty


def test_clip_weights():
    v = tf.Variable([-0.5, 0.005, 0.3])
    clip_weights([v], 0.01)
    np.testing.assert_allclose(v.numpy(), [-0.01, 0.005, 0.01])
