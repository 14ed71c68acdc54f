"""Losses shared by model families (adversarial now; perceptual, KL, likelihood as families land)."""

from keras_gen.losses.adversarial import GENERATOR_LOSSES, discriminator_loss, generator_loss

__all__ = ["GENERATOR_LOSSES", "discriminator_loss", "generator_loss"]
