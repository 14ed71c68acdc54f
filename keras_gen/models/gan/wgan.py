"""WGAN: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN".

D becomes a critic f whose score difference estimates the Earth-Mover distance
    W(P_r, P_g) = sup_{||f||_L <= 1} E_x[f(x)] - E_z[f(G(z))],
kept K-Lipschitz by clipping its weights to [-c, c] after every update. Algorithm 1:
    critic  minimises  E[f(G(z))] - E[f(x)],  n_critic = 5 updates per generator update, then w <- clip(w, -c, c);
    G       minimises  -E[f(G(z))];
RMSprop (lr 5e-5, momentum-free: momentum made training unstable in the paper), c = 0.01, on the
DCGAN networks. The critic's loss is a usable training curve: -d_loss estimates W (up to K).
Algorithm 1 is DCGAN's alternating step (dcgan.py) with the game's n_critic and weight clipping.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from keras_gen.losses.adversarial import ADVERSARIAL_LOSSES
from keras_gen.models.base import option
from keras_gen.models.gan.game import GameOptions
from keras_gen.models.gan.dcgan import DCGAN, build_discriminator, build_generator, _check_image_size


@keras.saving.register_keras_serializable(package="keras_gen")
class WGAN(DCGAN):
    """DCGAN's networks, the Wasserstein game and a weight-clipped critic."""

    @dataclass
    class Options(GameOptions):  # RMSprop, not Adam: no betas
        latent_dim: int = option(100, "z size (DCGAN's)", min=1)
        base_filters: int = option(64, "DCGAN's width at the largest feature map", min=1)
        loss: str = option("wasserstein", "the paper's game; the others are for comparison",
                           choices=ADVERSARIAL_LOSSES)
        n_critic: int = option(5, "the paper's critic updates per G update", min=1, max=100)
        clip_value: float = option(0.01, "the paper's c; too small and the critic learns slowly, too large and "
                                         "it takes long to reach its optimum", min=0.0)
        learning_rate: float = option(5e-5, "the paper's RMSprop rate, both networks", min=0.0, min_exclusive=True)

    harness_options = {"latent_dim": 8, "base_filters": 4, "n_critic": 1}  # one G update per step: counts equal
    retired_options = ("beta_1", "beta_2")  # listed before the game had its own options; RMSprop has none

    def build_networks(self):
        o = self.options
        _check_image_size(self.image_size)
        # The paper keeps DCGAN's critic with batch norm: clipping does not need per-sample gradients.
        return (build_generator(o.latent_dim, self.image_size, self.channels, o.base_filters),
                build_discriminator(self.image_size, self.channels, o.base_filters, wrap=self.d_layer))

    def default_optimizers(self):
        rate = self.options.learning_rate
        return {"generator": keras.optimizers.RMSprop(rate), "discriminator": keras.optimizers.RMSprop(rate)}
