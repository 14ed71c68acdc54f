"""Adversarial losses on discriminator (critic) outputs, and the regularisers of the critic.

Every loss takes raw D outputs l = D(x) (logits for the BCE games, scores for the others):

    game             D minimises                                        G minimises
    minimax          -E[log s(l_r)] - E[log(1 - s(l_f))]                 E[log(1 - s(l_f))]
    non_saturating   same as minimax                                    -E[log s(l_f)]
    wasserstein      E[l_f] - E[l_r]                                     -E[l_f]
    hinge            E[max(0, 1 - l_r)] + E[max(0, 1 + l_f)]             -E[l_f]
    least_squares    1/2 E[(l_r - 1)^2] + 1/2 E[l_f^2]                   1/2 E[(l_f - 1)^2]

with s the sigmoid, l_r = D(x) on real images and l_f = D(G(z)) on fakes. Sources: Goodfellow et
al. 2014 (minimax and its non-saturating variant), Arjovsky et al. 2017 (Wasserstein), Lim & Ye
2017 / Miyato et al. 2018 (hinge), Mao et al. 2017 (least squares, a-b-c = 0-1-1).

The BCE games are written with softplus so no sigmoid is ever taken explicitly (stable for large
logits):  -log s(l) = softplus(-l),   -log(1 - s(l)) = softplus(l).

Regularisers of D: the WGAN-GP gradient penalty (Gulrajani et al. 2017), R1 (Mescheder et al.
2018) and WGAN's weight clipping (Arjovsky et al. 2017).
"""

from __future__ import annotations

from keras import ops

GENERATOR_LOSSES = ("non_saturating", "minimax")  # the G sides of the BCE game (DCGAN's `generator_loss`)
ADVERSARIAL_LOSSES = ("non_saturating", "minimax", "wasserstein", "hinge", "least_squares")
# Games whose D outputs are logits of a probability (d_real, d_fake = mean sigmoid); the others
# output unbounded scores.
PROBABILITY_LOSSES = ("non_saturating", "minimax")


def _check(kind: str) -> None:
    if kind not in ADVERSARIAL_LOSSES:
        raise ValueError(f"Unknown adversarial loss {kind!r}; choose one of {ADVERSARIAL_LOSSES}.")


def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0, kind: str = "non_saturating"):
    """D's loss for game `kind` (table in the module docstring).

    For the BCE games, one-sided label smoothing (Salimans et al. 2016) replaces the real target
    1 by 1 - label_smoothing:  BCE(t, l) = t softplus(-l) + (1 - t) softplus(l).
    """
    _check(kind)
    if kind in PROBABILITY_LOSSES:
        real_target = 1.0 - label_smoothing
        real = real_target * ops.softplus(-real_logits) + (1.0 - real_target) * ops.softplus(real_logits)
        return ops.mean(real) + ops.mean(ops.softplus(fake_logits))
    if kind == "wasserstein":  # the critic maximises E[D(x)] - E[D(G(z))], an estimate of W1 (up to K)
        return ops.mean(fake_logits) - ops.mean(real_logits)
    if kind == "hinge":
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))
    return 0.5 * ops.mean(ops.square(real_logits - 1.0)) + 0.5 * ops.mean(ops.square(fake_logits))  # least squares


def generator_loss(fake_logits, kind: str = "non_saturating"):
    """G's loss for game `kind` on D's outputs for fakes.

    - "minimax": minimise E[log(1 - D(G(z)))] = -E[softplus(l)], the game as written; its
      gradient dL/dl = -s(l)/B vanishes when D confidently rejects samples (l << 0), which is
      where G starts.
    - "non_saturating" (default): minimise -E[log D(G(z))] = E[softplus(-l)]; same fixed point,
      gradient -(1 - s(l))/B, strongest exactly there (Goodfellow et al. 2014, section 3).
    - "wasserstein", "hinge": minimise -E[D(G(z))].
    - "least_squares": minimise 1/2 E[(D(G(z)) - 1)^2].
    """
    _check(kind)
    if kind == "non_saturating":
        return ops.mean(ops.softplus(-fake_logits))
    if kind == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    if kind in ("wasserstein", "hinge"):
        return -ops.mean(fake_logits)
    return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


def _input_gradient(critic, images):
    """dD(x)/dx for every sample (B, ...): D's output summed over the batch, since sample i's
    output depends only on sample i (no batch statistics in a critic that is penalised)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(images)
        total = ops.sum(critic(images))
    return tape.gradient(total, images)


def _squared_norms(gradients):
    """||g_i||^2 over every axis but the batch axis: (B,)."""
    return ops.sum(ops.reshape(ops.square(gradients), (ops.shape(gradients)[0], -1)), axis=1)


def gradient_penalty(critic, real, fake, epsilon):
    """WGAN-GP (Gulrajani et al. 2017, eq. 3):  E_x^[(||grad_x^ D(x^)||_2 - 1)^2],
    x^ = eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample (`epsilon`, shape (B,)).

    A soft version of the 1-Lipschitz constraint, enforced along lines between real and fake
    samples where the optimal critic has gradient norm 1. `critic` maps images to (B, 1) scores;
    the caller multiplies by lambda (10 in the paper). Differentiable in D's weights (the
    gradient is taken inside the caller's tape: a second-order term).
    """
    eps = ops.reshape(ops.cast(epsilon, real.dtype), (-1,) + (1,) * (len(real.shape) - 1))
    interpolates = eps * real + (1.0 - eps) * fake
    norms = ops.sqrt(_squared_norms(_input_gradient(critic, interpolates)) + 1e-12)  # eps: finite grad at 0
    return ops.mean(ops.square(norms - 1.0))


def r1_penalty(critic, real):
    """R1 (Mescheder et al. 2018, eq. 9) without its factor:  E_x[||grad_x D(x)||_2^2] on real data.

    Penalising D's gradient on the data manifold makes the game converge locally where plain
    GANs circle around the equilibrium; the caller multiplies by gamma / 2.
    """
    return ops.mean(_squared_norms(_input_gradient(critic, real)))


def clip_weights(variables, clip_value: float):
    """WGAN weight clipping (Arjovsky et al. 2017, algorithm 1, line 7): w <- clip(w, -c, c) after
    every critic update, a crude way to keep the critic K-Lipschitz for some K (c = 0.01)."""
    for variable in variables:
        variable.assign(ops.clip(variable, -clip_value, clip_value))
