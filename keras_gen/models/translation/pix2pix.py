"""pix2pix: Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial
Networks".

A generator G maps an input image x (domain A) to an output y (domain B); a conditional
discriminator D sees x beside a real y or beside G(x), patch by patch (a PatchGAN), and G is
trained against it and towards the true y:

    L_cGAN(G, D) = E[log D(x, y)] + E[log(1 - D(x, G(x)))]                          (eq. 1)
    L_L1(G)      = E ||y - G(x)||_1                                                  (eq. 3)
    G*           = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G),   lambda = 100    (eq. 4)

L1 alone already gets the low frequencies right but, where the output is uncertain (which colour
a labelled shape has), its optimum is the median of the possible outputs: blurred, desaturated.
The PatchGAN penalises structure at the scale of its patches, so it insists on sharp, plausible
high frequencies that L1 averages away: the paper's Table 1 (L1, cGAN, L1 + cGAN) and
benchmarks/translation.py here.

Networks (keras_gen/layers): G is the U-Net with skips (translation_unet.py), D the PatchGAN with
its receptive field scaled to the image (patch_discriminator.py; 70 x 70 at 256 px). Training, as
in the paper: Adam(2e-4, beta_1 0.5), D's objective halved, the non-saturating G loss (the game's
default), random jitter (enlarge by 286/256, crop back) and mirroring applied alike to x and y.
`adversarial_weight=0` is the L1-only row of Table 1 (D is then not trained), `l1_weight=0` the
cGAN-only row.

Test time. The paper keeps dropout on at test time and normalises with the statistics of the
test batch ("batch norm at test time", which at its batch size 1 is instance norm). This
project's translation is a deterministic function of its input, so that the same image gives the
same output on Keras, the SavedModel and onnxruntime (the export's parity check) and a served
request does not depend on what else is in its batch:
  - dropout is off at test time (inference mode): the paper notes it barely makes the output
    stochastic anyway; the noise it adds in training still regularises G;
  - `norm=instance` (the default) is the paper's test-time normalisation itself (per image and
    channel, at batch size 1 the same as batch norm on the test batch), in training and at test
    time alike; `norm=batch` uses batch statistics in training and the moving averages at test
    time, Keras' inference mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen.errors import KerasGenError
from keras_gen.layers.patch_discriminator import build_patch_discriminator
from keras_gen.layers.translation_unet import build_unet_generator
from keras_gen.models.base import option
from keras_gen.models.gan.game import AdversarialGame, adam_pair
from keras_gen.models.translation.common import TranslationModel, TranslationOptions

MAX_DEPTH = 8  # the paper's 256 px U-Net: a 1 x 1 bottleneck


@keras.saving.register_keras_serializable(package="keras_gen")
class Pix2Pix(TranslationModel):
    """G: the U-Net `generator`; D: the conditional PatchGAN `discriminator` on (x, y) stacked."""

    @dataclass
    class Options(TranslationOptions):
        depth: int = option(0, "U-Net levels; 0: as many as the shorter training side allows, up to 8 (the paper's "
                               "1x1 bottleneck at 256 px); images at the edge must be at least 2^depth px a side",
                            min=0, max=10)
        dropout: float = option(0.5, "dropout of the first three decoder layers in training: the paper's noise "
                                     "(off at test time)", min=0.0, max=0.9)
        l1_weight: float = option(100.0, "lambda of the L1 term (the paper's 100); 0: cGAN alone", min=0.0)
        adversarial_weight: float = option(1.0, "weight of the cGAN term; 0: L1 alone (D is not trained)", min=0.0)

    harness_options = {"filters": 4, "augment": "translation", "jitter": 1.125}
    harness_image_size = (16, 32)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.check_training_size()
        self.game = AdversarialGame(self)
        c = self.channels
        self.generator = build_unet_generator(c, c, self.depth, o.filters, o.norm, o.dropout, o.upsample)
        self.discriminator = build_patch_discriminator(2 * c, self.patch_layers(), o.filters, o.norm,
                                                       wrap=self.game.discriminator_layer)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.l1_tracker = keras.metrics.Mean(name="l1")
        self.score_trackers = [keras.metrics.Mean(name=n) for n in self.game.score_names]
        self.built = True

    @property
    def depth(self) -> int:
        """The U-Net's levels: the option, or log2 of the shorter training side, up to MAX_DEPTH."""
        if self.options.depth:
            return self.options.depth
        return max(1, min(MAX_DEPTH, int(math.log2(min(self.image_shape[:2])))))

    @property
    def size_multiple(self) -> int:
        return 2**self.depth

    def check_training_size(self):
        if self.options.depth and min(self.image_shape[:2]) < 2**self.options.depth:
            height, width, _ = self.image_shape
            raise KerasGenError(f"pix2pix with depth {self.options.depth} halves the image {self.options.depth} times: "
                                f"it needs images of at least {2 ** self.options.depth} px a side, got "
                                f"{height}x{width}. Pass a larger --image-size or a smaller --set depth.")

    def default_optimizers(self):
        return adam_pair(self.options, "generator", "discriminator")

    @property
    def metrics(self):
        game = [self.d_loss_tracker, *self.score_trackers, *self.game.metrics] if self.options.adversarial_weight else []
        return [self.g_loss_tracker, self.l1_tracker, *game]  # L1 alone (Table 1's first row) logs no game

    def translator(self, direction):
        return self.generator

    # -- training ------------------------------------------------------------------------------
    def critic(self, pair):
        """D(x, y): patch logits (B, h, w, 1) of an input and an output stacked on the channels
        (B, H, W, 2C), in training mode; the game's penalties differentiate it in the pair."""
        return self.discriminator(pair, training=True)

    def train_step(self, data):
        """One D update on (x, y) against (x, G(x)), then G's update on its turn."""
        source, target = self.jitter(*data)  # (B, H, W, C) each: one jitter and flip per pair
        o, game = self.options, self.game
        adversarial = o.adversarial_weight > 0
        if adversarial:
            fake = self.generator(source, training=True)
            with tf.GradientTape() as tape:
                # One augmentation draw per pair: x moves with its y (or with G(x)).
                real_pair = tf.concat(game.augment(source, target), axis=-1)  # (B, H, W, 2C)
                fake_pair = tf.concat(game.augment(source, fake), axis=-1)
                real_logits, fake_logits = self.critic(real_pair), self.critic(fake_pair)
                d_loss = 0.5 * game.discriminator_loss(real_logits, fake_logits)  # halved, as the paper does
                d_loss += game.penalty(self.critic, real_pair, fake_pair)
            self.apply_gradients("discriminator", tape, d_loss)
            game.discriminator_updated(real_logits)
            self.d_loss_tracker.update_state(d_loss)
            for tracker, score in zip(self.score_trackers, game.scores(real_logits, fake_logits)):
                tracker.update_state(score)

        def generator_step():
            with tf.GradientTape() as tape:
                fake = self.generator(source, training=True)
                l1 = tf.reduce_mean(tf.abs(target - fake))
                g_loss = o.l1_weight * l1
                if adversarial:
                    fake_pair = tf.concat(game.augment(source, fake), axis=-1)
                    g_loss += o.adversarial_weight * game.generator_loss(self.critic(fake_pair))
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            self.l1_tracker.update_state(l1)
            return g_loss

        if adversarial:
            game.generator_turn(generator_step)  # every n_critic-th D update
        else:
            generator_step()
        return {m.name: m.result() for m in self.metrics}

    # -- sampling ------------------------------------------------------------------------------
    def generate(self, image):
        """Images of domain A (B, H, W, C) -> domain B, inference mode: dropout off, instance norm
        or batch norm's moving averages (module docstring)."""
        return self.generator(image, training=False)
