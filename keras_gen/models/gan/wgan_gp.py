"""WGAN-GP: Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, "Improved Training of
Wasserstein GANs".

WGAN's critic (wgan.py) with the Lipschitz constraint enforced softly instead of by clipping
(which pushes weights to +-c and gives a critic too simple or gradients that explode or vanish):

    L_D = E[D(G(z))] - E[D(x)] + lambda E_x^[(||grad_x^ D(x^)||_2 - 1)^2],   x^ = eps x + (1 - eps) G(z),
    L_G = -E[D(G(z))],

eps ~ U[0, 1] per sample, lambda = 10, n_critic = 5, Adam(1e-4, beta_1 = 0, beta_2 = 0.9)
(algorithm 1). The penalty is per sample, so the critic has no batch normalisation; the paper
suggests layer normalisation instead, used here on the DCGAN critic. Algorithm 1 is DCGAN's
alternating step (dcgan.py) with the game's n_critic and gradient penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from keras_gen.losses.adversarial import ADVERSARIAL_LOSSES
from keras_gen.models.base import option
from keras_gen.models.gan.latent_gan import LatentGAN
from keras_gen.models.gan.dcgan import DCGAN, build_discriminator, build_generator, _check_image_size


@keras.saving.register_keras_serializable(package="keras_gen")
class WGANGP(DCGAN):
    """DCGAN's generator, a layer-normalised DCGAN critic, the Wasserstein game and its gradient penalty."""

    @dataclass
    class Options(LatentGAN.Options):  # DCGAN's generator_loss is not WGAN-GP's: the game's loss is
        base_filters: int = option(64, "DCGAN's width at the largest feature map", min=1)
        loss: str = option("wasserstein", "the paper's game; the others are for comparison",
                           choices=ADVERSARIAL_LOSSES)
        n_critic: int = option(5, "the paper's critic updates per G update", min=1, max=100)
        gradient_penalty: float = option(10.0, "the paper's lambda", min=0.0)
        learning_rate: float = option(1e-4, "the paper's Adam rate", min=0.0, min_exclusive=True)
        beta_1: float = option(0.0, "the paper's: no momentum", min=0.0, max=0.999)
        beta_2: float = option(0.9, "the paper's", min=0.0, max=0.9999)

    harness_options = {"latent_dim": 8, "base_filters": 4, "n_critic": 1}  # one G update per step: counts equal

    def build_networks(self):
        o = self.options
        _check_image_size(self.image_size)
        return (build_generator(o.latent_dim, self.image_size, self.channels, o.base_filters),
                build_discriminator(self.image_size, self.channels, o.base_filters, wrap=self.d_layer,
                                    normalization="layer"))
