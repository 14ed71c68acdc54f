"""Losses shared by model families (adversarial now; perceptual, KL, likelihood as families land)."""

from keras_gen.losses.adversarial import (ADVERSARIAL_LOSSES, GENERATOR_LOSSES, clip_weights, discriminator_loss,
                                          generator_loss, gradient_penalty, r1_penalty)

__all__ = ["ADVERSARIAL_LOSSES", "GENERATOR_LOSSES", "clip_weights", "discriminator_loss", "generator_loss",
           "gradient_penalty", "r1_penalty"]
