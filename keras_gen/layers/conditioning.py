"""Conditioning augmentation (Zhang et al. 2017, StackGAN, section 3.1).

A caption's embedding phi_t is one point, and a generator conditioned on it directly sees few
distinct conditions and overfits them. StackGAN draws the condition instead:

    (mu, log sigma^2) = W phi_t + b,    c = mu + sigma * eps,  eps ~ N(0, I)

and adds KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum(sigma^2 + mu^2 - 1 - log sigma^2) to the
generator's loss, which smooths the conditioning manifold. `eps` is an input, not drawn inside:
training draws it from the model's seeded noise, and a sampling request from its seed (a latent
input), so the same request gives the same image everywhere. One `eps` vector may feed several
stages: `part` picks this stage's slice of it.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditioningAugmentation(layers.Layer):
    """[phi (B, D), eps (B, parts * dim)] -> (c, mu, log_variance), each (B, dim)."""

    def __init__(self, dim: int, part: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.part = int(dim), int(part)
        self.projection = layers.Dense(2 * self.dim, name="mean_and_log_variance")

    def build(self, input_shapes):
        self.projection.build(input_shapes[0])
        self.built = True

    def call(self, inputs):
        phi, eps = inputs
        moments = self.projection(phi)
        mean, log_variance = moments[:, :self.dim], ops.clip(moments[:, self.dim:], -10.0, 10.0)
        noise = ops.cast(eps[:, self.part * self.dim:(self.part + 1) * self.dim], moments.dtype)  # mixed precision
        return mean + ops.exp(0.5 * log_variance) * noise, mean, log_variance

    def compute_output_shape(self, input_shapes):
        shape = (input_shapes[0][0], self.dim)
        return shape, shape, shape

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "part": self.part}


def kl_to_standard_normal(mean, log_variance):
    """Mean over the batch of KL(N(mean, exp(log_variance)) || N(0, I)), summed over dimensions."""
    mean, log_variance = ops.cast(mean, "float32"), ops.cast(log_variance, "float32")  # a loss: float32 always
    return ops.mean(0.5 * ops.sum(ops.exp(log_variance) + ops.square(mean) - 1.0 - log_variance, axis=-1))
