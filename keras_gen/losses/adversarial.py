"""Adversarial losses on discriminator logits.

Goodfellow et al. 2014, "Generative Adversarial Nets", value function

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))],   D = sigmoid(logit).

Written with softplus so no sigmoid is ever taken explicitly (stable for large logits):
    -log sigmoid(l) = softplus(-l),     -log(1 - sigmoid(l)) = softplus(l).
"""

from __future__ import annotations

from keras import ops

GENERATOR_LOSSES = ("non_saturating", "minimax")


def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """-E[log D(x)] - E[log(1 - D(G(z)))]; one-sided label smoothing (Salimans et al. 2016)
    replaces the real target 1 by 1 - label_smoothing."""
    real_target = 1.0 - label_smoothing
    # BCE(t, l) = t * softplus(-l) + (1 - t) * softplus(l)
    real = real_target * ops.softplus(-real_logits) + (1.0 - real_target) * ops.softplus(real_logits)
    fake = ops.softplus(fake_logits)
    return ops.mean(real) + ops.mean(fake)


def generator_loss(fake_logits, kind: str = "non_saturating"):
    """Generator loss.

    - "minimax": minimise E[log(1 - D(G(z)))] = -E[softplus(l)], the game as written; its
      gradient vanishes when D confidently rejects samples early in training.
    - "non_saturating" (default): maximise E[log D(G(z))], i.e. minimise E[softplus(-l)];
      same fixed point, strong gradients early (Goodfellow et al. 2014, section 3).
    """
    if kind == "non_saturating":
        return ops.mean(ops.softplus(-fake_logits))
    if kind == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    raise ValueError(f"Unknown generator loss {kind!r}; choose one of {GENERATOR_LOSSES}.")
