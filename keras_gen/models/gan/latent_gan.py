"""What the GANs that generate from a latent z share, and nothing of their training algorithm:

  - the game (game.py): its options, losses, penalties and augmentation, built as `self.game`;
  - a generator `self.generator` and a discriminator `self.discriminator`, from `build_networks()`,
    D's layers spectrally normalised when asked (`d_layer`), one Adam each (the order of
    `default_optimizers` is part of a checkpoint's layout);
  - z ~ N(0, I) drawn per replica from the model's seeded noise (`draw_latents`);
  - the trackers every GAN logs: d_loss, g_loss and the mean scores of real and fake batches
    (d_real/d_fake for the BCE games, which the run watches for a collapsed discriminator);
  - sampling: a request is what G takes (`generator_specs`, z by default) and the truncation
    option, z' = psi z (the truncation trick; StyleGAN truncates in W instead).

Each variant writes its own `train_step`, top to bottom: draw, D update, G update on the game's
turn, trackers. The base class (models/base.py) keeps the optimizers, the EMA of the weights
(sampling, the run's pictures and exports use it) and exact resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from keras_gen import inputs as kinds, latents
from keras_gen.models.base import GenerativeModel, option
from keras_gen.models.gan.game import AdamOptions, AdversarialGame, GameOptions, adam_pair

TRUNCATION = "truncation"  # the option every GAN's sampling request takes (`--truncation` of `sample`)


def with_conditions(x, conditions):
    """A network's input: x alone, or [x, *conditions] for a conditioned one."""
    return [x, *conditions] if conditions else x


class LatentGAN(GenerativeModel):
    """A generator of z (and conditions) and a discriminator, trained by the game. Not
    registered: variants are."""

    @dataclass
    class Options(AdamOptions, GameOptions):
        latent_dim: int = option(100, "z size (DCGAN's)", min=1)


    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.game = AdversarialGame(self)
        self.generator, self.discriminator = self.build_networks()
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name=self.game.score_names[0])
        self.fake_score_tracker = keras.metrics.Mean(name=self.game.score_names[1])
        self.extra_trackers = []  # a variant's own (AC-GAN's class loss, ...)
        self.built = True  # both sub-networks are built above; nothing is created lazily

    def build_networks(self) -> tuple[keras.Model, keras.Model]:
        """(generator, discriminator), built from self.options; D's layers through `d_layer`."""
        raise NotImplementedError(f"{type(self).__name__} does not define build_networks()")

    def d_layer(self, layer):
        """A discriminator layer, spectrally normalised when the option is on."""
        return self.game.discriminator_layer(layer)

    def default_optimizers(self):
        return adam_pair(self.options, "generator", "discriminator")

    def draw_latents(self, batch):
        """z ~ N(0, I), (batch, latent_dim)."""
        return self.random_normal((batch, self.options.latent_dim))

    # -- logs --------------------------------------------------------------------------------
    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker,
                *self.game.metrics, *self.extra_trackers]

    def track_discriminator(self, d_loss, real_logits, fake_logits) -> dict:
        """Update the D step's trackers; the step's logs: every tracker's running mean."""
        self.d_loss_tracker.update_state(d_loss)
        real_score, fake_score = self.game.scores(real_logits, fake_logits)
        self.real_score_tracker.update_state(real_score)
        self.fake_score_tracker.update_state(fake_score)
        return {m.name: m.result() for m in self.metrics}

    # -- sampling: one generator call --------------------------------------------------------
    # Every GAN's request ends with the truncation option: a variant declares what G takes
    # (`generator_specs`) and how (`generate_images`); truncation is applied here, once.
    def input_specs(self):
        return [*self.generator_specs(), kinds.option(
            TRUNCATION, 1.0, *latents.TRUNCATION_RANGE, "float32",
            "truncation psi: z scaled toward the prior's mean, z' = psi z (StyleGAN's trick); 1 is off")]

    def generator_specs(self):
        """What G takes, as a request's inputs (keras_gen.inputs): z alone by default."""
        return [kinds.latent(self.options.latent_dim)]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate(self, z, *conditions, truncation=1.0, **named):
        """Latents (B, latent_dim), G's other inputs, and the truncation psi (keras_gen.latents.truncate)
        -> images (B, H, W, C) in [-1, 1], inference mode."""
        return self.generate_images(latents.truncate(z, truncation), *conditions, **named)

    def generate_images(self, z):
        """G at latents z (already truncated) -> images (B, H, W, C) in [-1, 1], inference mode."""
        return self.generator(z, training=False)
