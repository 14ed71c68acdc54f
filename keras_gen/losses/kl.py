"""KL divergence between diagonal Gaussians, in closed form (Kingma & Welling 2014, appendix B).

For q = N(mu_q, diag sigma_q^2) and p = N(mu_p, diag sigma_p^2) over J dimensions,

    KL(q || p) = 0.5 * sum_j [ log(sigma_p^2 / sigma_q^2) + (sigma_q^2 + (mu_q - mu_p)^2) / sigma_p^2 - 1 ]

and against the standard normal prior p = N(0, I) (the VAE's case)

    KL(q || N(0, I)) = 0.5 * sum_j [ mu_j^2 + sigma_j^2 - log sigma_j^2 - 1 ].

Variances are passed as log-variances, as encoders output them. The sum runs over the last
axis; the result has the batch shape, in nats.
"""

from __future__ import annotations

import tensorflow as tf


def gaussian_kl(mu, log_var, mu_prior=0.0, log_var_prior=0.0):
    """KL(N(mu, e^log_var) || N(mu_prior, e^log_var_prior)), diagonal, summed over the last axis.

    mu, log_var: (..., J). The prior's parameters broadcast against them (0, 0: the standard
    normal). Returns (...) in nats.
    """
    # float32 whatever the networks computed in (a mixed_float16 run's prior network included)
    mu, log_var, mu_prior, log_var_prior = (tf.cast(tf.convert_to_tensor(v), tf.float32)
                                            for v in (mu, log_var, mu_prior, log_var_prior))
    terms = (log_var_prior - log_var + (tf.exp(log_var) + tf.square(mu - mu_prior)) * tf.exp(-log_var_prior) - 1.0)
    return 0.5 * tf.reduce_sum(terms, axis=-1)


def gaussian_log_density(x, mu, log_var):
    """log N(x; mu, diag e^log_var), summed over the last axis (nats): the q(z|x) and p(z) terms
    of an importance-weighted bound."""
    x = tf.convert_to_tensor(x, tf.float32)
    log_2pi = tf.math.log(2.0 * 3.141592653589793)
    return -0.5 * tf.reduce_sum(log_2pi + log_var + tf.square(x - mu) * tf.exp(-log_var), axis=-1)
