"""Inpainting with a context encoder: Pathak et al. 2016, "Context Encoders: Feature Learning by
Inpainting", with Iizuka et al. 2017's dilated bottleneck ("Globally and Locally Consistent Image
Completion") and Yu et al. 2019's free-form masks ("Free-Form Image Inpainting with Gated
Convolution").

Each training image x gets a random hole M (keras_gen/layers/masks.py: rectangles and free-form
strokes, drawn in the graph from the model's seeded noise); the network G sees the image with the
hole blanked and the mask, and is asked for the whole image; the hole is then filled with G's
pixels and everything else kept:

    x_hat = M * G((1 - M) x, M) + (1 - M) x                          the completion
    L_rec = sum M |G - x| / sum M  +  lambda_v sum (1 - M) |G - x| / sum (1 - M)
    L_G   = lambda_h L_rec + lambda_adv g_loss(D(x_hat, M))
    L_D   = d_loss(D(x, M'), D(x_hat, M))                            M' another random hole

(Pathak et al.'s masked L2 and adversarial loss, 0.999 and 0.001; L1 here, as Iizuka et al. and
most later work, which blurs less.) D is a PatchGAN that also sees the mask and averages its
patch logits over the hole (keras_gen/layers/inpaint_blocks.py): the adversarial game is played
on the filled region, where G invents pixels, and the real images are judged over holes drawn
the same way so that the mask itself gives nothing away. The game (its loss, penalties,
augmentation, spectral norm) is keras_gen/models/gan/game.py.

At inference (`keras-gen inpaint`, the export's `generate`), the request is an image of any size
and a mask (white where pixels are to be generated); the pixels outside the hole come back
exactly as given.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.layers.inpaint_blocks import build_hole_critic, build_inpainter
from keras_gen.layers.masks import parse_mask_kinds, random_masks
from keras_gen.layers.upsampling import UPSAMPLE_METHODS
from keras_gen.models.base import PREVIEW_ROWS, GenerativeModel, option
from keras_gen.models.gan.game import AdamOptions, AdversarialGame, GameOptions, adam_pair


@keras.saving.register_keras_serializable(package="keras_gen")
class Inpaint(GenerativeModel):
    """A context encoder trained on random holes (module docstring)."""

    @dataclass
    class Options(AdamOptions, GameOptions):
        filters: int = option(32, "width of the first layer; doubling per halving", min=1)
        downsamplings: int = option(2, "halvings before the dilated bottleneck; sides must be >= 2^this", min=1,
                                    max=5)
        dilations: str = option("2,4,8", "dilation rates of the bottleneck's 3x3 convolutions (Iizuka et al. "
                                "2,4,8,16 at 256 px): enough for the whole image at 32-64 px")
        upsample: str = option("resize", "the decoder's up-sampling: resize (nearest, then a convolution), subpixel "
                               "or transpose", choices=UPSAMPLE_METHODS)
        d_filters: int = option(32, "width of D's first layer", min=1)
        d_downsamplings: int = option(3, "D's stride-2 layers: its patch is about 2^(this + 2) px", min=1, max=6)
        masks: str = option("rectangles,strokes", "the holes trained on, each image's drawn from these: rectangles, "
                            "strokes (free-form), halves")
        hole_weight: float = option(1.0, "lambda_h: weight of the reconstruction term", min=0.0)
        valid_weight: float = option(0.1, "lambda_v: L1 outside the hole, relative to inside (keeps G an identity "
                                     "there, which eases learning the fill)", min=0.0)
        adversarial_weight: float = option(0.01, "lambda_adv: weight of G's adversarial loss (Pathak et al. 0.001 "
                                           "beside L2; 0 trains the reconstruction alone)", min=0.0)

    harness_options = {"filters": 4, "downsamplings": 1, "dilations": "2", "d_filters": 2, "d_downsamplings": 2}
    harness_image_size = 16
    square_only = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.mask_kinds = parse_mask_kinds(o.masks)
        try:
            self.dilations = tuple(int(r) for r in o.dilations.split(",") if r.strip())
        except ValueError:
            self.dilations = ()
        if not self.dilations or min(self.dilations) < 1:
            raise KerasGenError(f"dilations takes whole rates of at least 1 separated by commas (2,4,8), got "
                                f"{o.dilations!r}.")
        height, width, _ = self.image_shape
        if min(height, width) < self.min_image_side or min(height, width) < 2**o.d_downsamplings:
            raise KerasGenError(f"inpaint trains on images of at least {max(self.min_image_side, 2**o.d_downsamplings)} "
                                f"px a side at downsamplings={o.downsamplings}, d_downsamplings={o.d_downsamplings}; "
                                f"got {height}x{width}.")
        self.game = AdversarialGame(self)
        self.inpainter = build_inpainter(self.channels, o.filters, o.downsamplings, self.dilations, o.upsample)
        self.discriminator = build_hole_critic(self.image_shape, o.d_filters, o.d_downsamplings,
                                               wrap=self.game.discriminator_layer)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("d_loss", "g_loss", "hole_l1", *self.game.score_names)}
        self.built = True

    @property
    def min_image_side(self) -> int:
        """The smallest side the network takes: its reflection padding to a multiple of 2^downsamplings."""
        return 2 ** self.options.downsamplings

    def default_optimizers(self):
        return adam_pair(self.options, "inpainter", "discriminator")

    @property
    def metrics(self):
        return [*self.trackers.values(), *self.game.metrics]

    # -- training ------------------------------------------------------------------------------
    def draw_masks(self, batch):
        height, width, _ = self.image_shape
        return random_masks(batch, height, width, self._replica_seed(), self.mask_kinds)

    @staticmethod
    def blank(images, hole):
        """The network's view of an image: the hole set to 0 (mid-grey in [-1, 1])."""
        return images * (1.0 - hole)

    @staticmethod
    def composite(filled, images, hole):
        """The hole from `filled`, every other pixel from `images` (exactly)."""
        return hole * filled + (1.0 - hole) * images

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data  # (B, H, W, C); labels unused
        o, game = self.options, self.game
        batch = tf.shape(images)[0]
        hole, real_hole = self.draw_masks(batch), self.draw_masks(batch)

        def critic(x, mask):
            return self.discriminator([x, mask], training=True)

        with tf.GradientTape() as tape:
            filled = self.composite(self.inpainter([self.blank(images, hole), hole], training=True), images, hole)
            real_seen, fake_seen = game.augment(images, real_hole), game.augment(filled, hole)
            real_logits, fake_logits = critic(*real_seen), critic(*fake_seen)
            d_loss = game.discriminator_loss(real_logits, fake_logits) + game.penalty(
                lambda x: critic(x, real_seen[1]), real_seen[0], fake_seen[0])
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)

        def generator_step():
            with tf.GradientTape() as tape:
                output = self.inpainter([self.blank(images, hole), hole], training=True)
                error = tf.abs(output - images)
                inside = tf.reduce_sum(hole * error) / tf.maximum(tf.reduce_sum(hole) * self.channels, 1.0)
                outside = tf.reduce_sum((1.0 - hole) * error) / tf.maximum(
                    tf.reduce_sum(1.0 - hole) * self.channels, 1.0)
                adversarial = game.generator_loss(critic(*game.augment(self.composite(output, images, hole), hole)))
                g_loss = o.hole_weight * (inside + o.valid_weight * outside) + o.adversarial_weight * adversarial
            self.apply_gradients("inpainter", tape, g_loss)
            self.trackers["g_loss"].update_state(g_loss)
            self.trackers["hole_l1"].update_state(inside)
            return g_loss

        game.generator_turn(generator_step)
        real_score, fake_score = game.scores(real_logits, fake_logits)
        self.trackers["d_loss"].update_state(d_loss)
        self.trackers[game.score_names[0]].update_state(real_score)
        self.trackers[game.score_names[1]].update_state(fake_score)
        return {m.name: m.result() for m in self.metrics}

    # -- the request: an image and its mask ----------------------------------------------------------
    def input_specs(self):
        c = self.channels
        return [kinds.image((None, None, c), name="image"),
                kinds.InputSpec("mask", "image", (None, None, 1), "float32", range=(-1.0, 1.0),
                                description="the hole: > 0 (white in a mask file) where pixels are to be generated, "
                                            "-1 (black) where they are kept; the image's size")]

    def generate(self, image, mask):
        """Images (B, H, W, C) and masks (B, H, W, 1) in [-1, 1] -> the completions: the network's
        pixels where mask > 0, the image's elsewhere (exactly)."""
        image = tf.convert_to_tensor(image, tf.float32)
        hole = tf.cast(tf.convert_to_tensor(mask, tf.float32) > 0.0, tf.float32)
        return self.composite(self.inpainter([self.blank(image, hole), hole], training=False), image, hole)

    def complete(self, images, holes) -> np.ndarray:
        """float [-1, 1] images (N, H, W, C) and 0/1 holes (N, H, W, 1), any H, W >= min_image_side
        -> completions (numpy)."""
        images = np.asarray(images, np.float32)
        if min(images.shape[1:3]) < self.min_image_side:
            raise KerasGenError(f"the image is {images.shape[1]}x{images.shape[2]} px: inpaint takes at least "
                                f"{self.min_image_side} px a side.")
        masks = np.where(np.asarray(holes, np.float32) > 0, 1.0, -1.0).astype(np.float32)
        return np.asarray(self.generate(images, masks))

    # -- previews: masked | completed | original -------------------------------------------------
    def preview(self, n, seed, examples=None):
        from keras_gen.images import to_uint8

        images = np.asarray(examples[0])[: min(n, PREVIEW_ROWS)]
        height, width, _ = self.image_shape
        holes = random_masks(len(images), height, width, tf.constant([int(seed), 29], tf.int64), self.mask_kinds)
        holes = np.asarray(holes)
        completed = self.complete(images, holes)
        masked = np.where(holes > 0, 1.0, images).astype(np.float32)  # the hole shown white
        tiles = np.stack([masked, completed, images], axis=1)
        return to_uint8(tiles.reshape(-1, *images.shape[1:])), 6

    def export_metadata(self) -> dict:
        return {**super().export_metadata(), "inpaint": {"min_image_side": int(self.min_image_side)}}
