"""CycleGAN: Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks".

Two domains without pairs. G: A -> B and F: B -> A, each with a discriminator on its output
domain (D_B judges G(a) against real b, D_A judges F(b) against real a), and a cycle that ties
them: translating there and back must give the image back.

    L_GAN(G, D_B)  least squares (Mao et al. 2017; section 4 of the paper):
                   D_B minimises 1/2 E[(D_B(b) - 1)^2] + 1/2 E[D_B(G(a))^2], G minimises 1/2 E[(D_B(G(a)) - 1)^2]
    L_cyc(G, F)    = E ||F(G(a)) - a||_1 + E ||G(F(b)) - b||_1                        (eq. 2)
    L_identity     = E ||F(a) - a||_1 + E ||G(b) - b||_1    (section 5.2: keeps colours where
                                                              nothing needs to change)
    L(G, F)        = L_GAN(G, D_B) + L_GAN(F, D_A) + lambda L_cyc + lambda_id lambda L_identity
                     lambda = 10 (`cycle_weight`), lambda_id = 0.5 (`identity_weight`)

Adversarial losses alone admit any mapping whose outputs look like the other domain: the
translation may ignore its input (collapse to a few outputs) or permute images arbitrarily. The
cycle loss demands that G keeps enough of a to recover it, which on digits means keeping the
digit (notebooks/image_to_image.ipynb trains it with and without).

As in the paper: the ResNet generators of Johnson et al. (keras_gen/layers/resnet_generator.py:
9 residual blocks, 6 for images below 256 px), 70 x 70-style PatchGANs scaled to the image
(patch_discriminator.py), instance norm; D's objective halved; D updated on a pool of the last
50 generated images per direction (keras_gen/layers/image_pool.py; the pools are model weights, so
checkpoints carry them and resume is exact); Adam(2e-4, beta_1 0.5) with the rate constant for
the first half of the run and falling linearly to zero over the second (the paper's 100 + 100
epochs). The schedule follows each optimizer's own step count from the run's planned length
(`plan_training`, kept in the model's weights), or from `decay_start` and `decay_steps` when
given, which also keep it fixed when a run is extended.

Small images (docs/models/translation.md, "CycleGAN on small images"). The paper's settings are
made for 256 px photos; at 32 px on digits_ink (dark ink on white <-> bright strokes on black) they
keep A's polarity (a 7 px patch cannot tell a dark stroke on gray from the dark gap between two
bright strokes), hold it with the identity loss, and let a generator that sees the whole image hide
the input in the cycle instead of keeping the digit. `patch_layers=2` (34 px patches: the whole
digit), `identity_weight=0` and `downsamplings=1` translate it (benchmarks/translation.py's CycleGAN rows).

The two games (keras_gen/models/gan/game.py) are `game_a` (D_A, on domain A images) and
`game_b` (D_B), each with its own optimizer and ADA state; D updates first (on pooled fakes),
then G and F on every n_critic-th of them, as in dcgan.py. Sampling takes an image and a
`direction` (0: A -> B, 1: B -> A); the export has endpoints `a_to_b` and `b_to_a`
(`keras-gen translate RUN|EXPORT --direction`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen import inputs as kinds
from keras_gen.layers.image_pool import ImagePool
from keras_gen.layers.patch_discriminator import build_patch_discriminator
from keras_gen.layers.resnet_generator import build_resnet_generator, min_side
from keras_gen.losses.adversarial import ADVERSARIAL_LOSSES
from keras_gen.models.base import option
from keras_gen.models.gan.game import AdversarialGame, adam_pair
from keras_gen.models.translation.common import DIRECTIONS, TranslationModel, TranslationOptions, linear_decay

A_TO_B, B_TO_A = 0, 1


@keras.saving.register_keras_serializable(package="keras_gen")
class CycleGAN(TranslationModel):
    """G `generator_ab` (A -> B), F `generator_ba` (B -> A), D_A `discriminator_a`, D_B `discriminator_b`."""

    @dataclass
    class Options(TranslationOptions):
        loss: str = option("least_squares", "the game: least_squares (the paper's), non_saturating, minimax, "
                           "wasserstein, hinge", choices=ADVERSARIAL_LOSSES)
        blocks: int = option(9, "residual blocks of each generator (the paper: 9 at 256 px and up, 6 at 128)", min=0)
        downsamplings: int = option(2, "stride-2 convolutions of each generator (the paper's 2); images at the edge "
                                       "need at least 2^(downsamplings + 1) px a side", min=0, max=6)
        cycle_weight: float = option(10.0, "lambda of the cycle loss (the paper's 10); 0: no cycle (it then "
                                           "collapses or copies)", min=0.0)
        identity_weight: float = option(0.5, "the identity loss as a fraction of lambda (the paper's 0.5); 0 is off, "
                                        "as it should be where the translation must change colours or polarity "
                                        "(it holds each generator near the identity)", min=0.0)
        pool_size: int = option(50, "past fakes per direction D is shown (Shrivastava et al.'s 50); 0: the newest "
                                    "only", min=0, max=1000)
        decay_start: int = option(0, "optimizer step where the learning rate starts its linear fall to 0; 0: half "
                                     "of the run's planned steps (the paper: 100 of 200 epochs)", min=0)
        decay_steps: int = option(0, "steps of the fall; 0: to the run's planned end", min=0)

    harness_options = {"filters": 4, "blocks": 1, "pool_size": 3, "decay_start": 1, "decay_steps": 4,
                       "augment": "color"}
    harness_image_size = (16, 24)
    directions = DIRECTIONS
    extra_exports = DIRECTIONS  # registry.exports: endpoints beside the base class's

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o, c = self.options, self.channels
        self.check_training_size()
        self.game_a = AdversarialGame(self, discriminator="discriminator_a", name="a_")
        self.game_b = AdversarialGame(self, discriminator="discriminator_b", name="b_")
        self.generator_ab = build_resnet_generator(c, o.filters, o.blocks, o.downsamplings, o.norm, o.upsample,
                                                   name="generator_ab")
        self.generator_ba = build_resnet_generator(c, o.filters, o.blocks, o.downsamplings, o.norm, o.upsample,
                                                   name="generator_ba")
        layers_ = self.patch_layers()
        self.discriminator_a = build_patch_discriminator(c, layers_, o.filters, o.norm, self.game_a.discriminator_layer,
                                                         name="discriminator_a")
        self.discriminator_b = build_patch_discriminator(c, layers_, o.filters, o.norm, self.game_b.discriminator_layer,
                                                         name="discriminator_b")
        self.pool_a = ImagePool(o.pool_size, self.image_shape, name="pool_a")  # past F(b), for D_A
        self.pool_b = ImagePool(o.pool_size, self.image_shape, name="pool_b")  # past G(a), for D_B
        # The run's planned length in steps (plan_training): the learning-rate schedule's time base.
        self.planned_steps = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False,
                                             name="planned_steps")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in (
            "d_a_loss", "d_b_loss", "g_loss", "gan_loss", "cycle_loss", "identity_loss", "lr")}
        self.score_trackers = [keras.metrics.Mean(name=n) for n in (*self.game_a.score_names, *self.game_b.score_names)]
        self.built = True

    @property
    def size_multiple(self) -> int:
        return 2**self.options.downsamplings

    @property
    def min_image_side(self) -> int:
        return min_side(self.options.downsamplings)

    def default_optimizers(self):
        # Both generators share one optimizer, as the paper's code does (their losses are one sum).
        return adam_pair(self.options, "generators", "discriminator_a", "discriminator_b")

    def variables_for(self, optimizer_name):
        if optimizer_name == "generators":
            return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables
        return super().variables_for(optimizer_name)

    @property
    def metrics(self):
        return [*self.trackers.values(), *self.score_trackers, *self.game_a.metrics, *self.game_b.metrics]

    def translator(self, direction):
        return self.generator_ab if direction == "a_to_b" else self.generator_ba

    # -- the learning-rate schedule ------------------------------------------------------------
    def plan_training(self, total_steps: int) -> None:
        self.planned_steps.assign(int(total_steps))

    def learning_rate_factor(self):
        """The factor of Adam's rate at this step: 1 for the first half of the run (or until
        decay_start), then falling linearly to 0 (common.linear_decay). With no plan and no
        decay_start (a bare `fit`), the rate stays constant."""
        o = self.options
        step = self.optimizers["generators"].iterations
        planned = tf.cast(self.planned_steps, tf.float32)
        start = tf.constant(float(o.decay_start)) if o.decay_start else tf.math.floordiv(planned, 2.0)
        length = tf.constant(float(o.decay_steps)) if o.decay_steps else tf.maximum(planned - start, 1.0)
        scheduled = o.decay_start > 0 or o.decay_steps > 0
        return tf.where(tf.logical_or(scheduled, planned > 0), linear_decay(step, start, length), 1.0)

    def decay_learning_rates(self):
        rate = self.options.learning_rate * self.learning_rate_factor()
        for optimizer in self.optimizers.values():
            optimizer.learning_rate = rate  # a variable of the optimizer: checkpoints carry it
        self.trackers["lr"].update_state(rate)  # "learning_rate" is a name Keras logs itself

    # -- training ------------------------------------------------------------------------------
    def train_step(self, data):
        """D_A and D_B updated on pooled fakes, then G and F together on their turn."""
        o, game_a, game_b = self.options, self.game_a, self.game_b
        self.decay_learning_rates()
        real_a, real_b = self.jitter(data[0]), self.jitter(data[1])  # (B, H, W, C): one draw each, no pairs
        fake_b = self.generator_ab(real_a, training=True)  # G(a)
        fake_a = self.generator_ba(real_b, training=True)  # F(b)
        for game, name, real, fake, pool in ((game_a, "discriminator_a", real_a, fake_a, self.pool_a),
                                             (game_b, "discriminator_b", real_b, fake_b, self.pool_b)):
            shown = pool.query(fake, self._replica_seed())  # the fake, or one made earlier
            critic = getattr(self, name)
            with tf.GradientTape() as tape:
                real_seen, fake_seen = game.augment(real), game.augment(shown)
                real_logits = critic(real_seen, training=True)
                fake_logits = critic(fake_seen, training=True)
                d_loss = 0.5 * game.discriminator_loss(real_logits, fake_logits)  # halved, as the paper does
                d_loss += game.penalty(lambda x, critic=critic: critic(x, training=True), real_seen, fake_seen)
            self.apply_gradients(name, tape, d_loss)
            game.discriminator_updated(real_logits)
            self.trackers[f"d_{name[-1]}_loss"].update_state(d_loss)
            scores = self.score_trackers[:2] if game is game_a else self.score_trackers[2:]
            for tracker, score in zip(scores, game.scores(real_logits, fake_logits)):
                tracker.update_state(score)

        def generator_step():
            with tf.GradientTape() as tape:
                fake_b = self.generator_ab(real_a, training=True)  # G(a)
                fake_a = self.generator_ba(real_b, training=True)  # F(b)
                gan = (game_b.generator_loss(self.discriminator_b(game_b.augment(fake_b), training=True))
                       + game_a.generator_loss(self.discriminator_a(game_a.augment(fake_a), training=True)))
                cycled_a = self.generator_ba(fake_b, training=True)  # F(G(a)) ~ a
                cycled_b = self.generator_ab(fake_a, training=True)  # G(F(b)) ~ b
                cycle = tf.reduce_mean(tf.abs(cycled_a - real_a)) + tf.reduce_mean(tf.abs(cycled_b - real_b))
                identity = tf.constant(0.0)
                if o.identity_weight:  # G on B images and F on A images should change nothing
                    identity = (tf.reduce_mean(tf.abs(self.generator_ba(real_a, training=True) - real_a))
                                + tf.reduce_mean(tf.abs(self.generator_ab(real_b, training=True) - real_b)))
                g_loss = gan + o.cycle_weight * cycle + o.identity_weight * o.cycle_weight * identity
            self.apply_gradients("generators", tape, g_loss)
            for name, value in (("g_loss", g_loss), ("gan_loss", gan), ("cycle_loss", cycle),
                                ("identity_loss", identity)):
                self.trackers[name].update_state(value)
            return g_loss

        game_a.generator_turn(generator_step)  # both D's step together: one schedule for G and F
        return {m.name: m.result() for m in self.metrics}

    # -- sampling ------------------------------------------------------------------------------
    def input_specs(self):
        return [kinds.image((None, None, self.channels), name="image"),
                kinds.option("direction", A_TO_B, A_TO_B, B_TO_A, "int32", "0: A -> B (G), 1: B -> A (F)")]

    def generate(self, image, direction):
        """Images (B, H, W, C) translated A -> B (direction 0) or B -> A (1), inference mode."""
        as_b, as_a = self.generator_ab(image, training=False), self.generator_ba(image, training=False)
        return tf.where(tf.equal(tf.cast(direction, tf.int32), A_TO_B), as_b, as_a)

    def preview(self, n, seed, examples=None):
        """Rows of a | G(a) | F(G(a)) | b | F(b) | G(F(b)): both translations and their cycles."""
        import numpy as np

        from keras_gen.images import to_uint8

        rows = min(n, 16, *(len(e) for e in examples))
        a, b = (np.asarray(e[:rows], np.float32) for e in examples)
        ab = np.asarray(self.generator_ab(a, training=False))
        ba = np.asarray(self.generator_ba(b, training=False))
        columns = [a, ab, np.asarray(self.generator_ba(ab, training=False)),
                   b, ba, np.asarray(self.generator_ab(ba, training=False))]
        return to_uint8(np.stack(columns, axis=1).reshape(-1, *a.shape[1:])), len(columns)
