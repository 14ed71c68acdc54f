"""Class-conditional DCGAN: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
on the DCGAN architecture (Radford et al. 2016, see dcgan.py).

Both players see the class y:

    min_G max_D  E_{x,y}[log D(x, y)] + E_{z,y}[log(1 - D(G(z, y), y))]

G takes z with an embedding of y concatenated (the paper feeds y beside z into G's first
layer); D takes x with a learned per-class (S, S) map stacked on as one more channel, so every
convolution of D sees y. Fakes are drawn for the labels of the real batch, so both terms see
the data's class balance. The losses, their options, the optimizers and the training step are
DCGAN's (dcgan.py), with the label passed to both networks.

Sampling takes the class: `keras-gen sample RUN --label 7`, or `--labels 0,1,2` (cycled);
without one, samples go through every class in turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.models.base import option
from keras_gen.models.gan.dcgan import DCGAN


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalDCGAN(DCGAN):
    """DCGAN whose generator and discriminator both take the class label."""

    @dataclass
    class Options(DCGAN.Options):
        embed_dim: int = option(50, "size of the label embedding concatenated to z (z is 100)", min=1)

    harness_options = {"latent_dim": 8, "base_filters": 4, "embed_dim": 4}

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is None:
            raise KerasGenError("cdcgan is class-conditional: it needs labelled data (digits, shapes, photos, textures, "
                                "a labelled TFDS set, or a folder with one subfolder per class).")
        super().__init__(**kwargs)  # DCGAN builds both networks with the label, as data_kind is "labelled"

    def generator_specs(self):
        return [kinds.latent(self.options.latent_dim), kinds.label(self.num_classes)]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate_images(self, z, label):
        """Latents (B, latent_dim) and labels (B,) -> images (B, S, S, C) in [-1, 1]."""
        return self.generator([z, label], training=False)
