"""StyleGAN: Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks", with the modulated/demodulated convolution of StyleGAN2 (Karras, Laine,
Aittala, Hellsten, Lehtinen & Aila 2020, "Analyzing and Improving the Image Quality of StyleGAN").

The generator is two networks (blocks in keras_gen/layers/stylegan_blocks.py):

    mapping     f: z -> w = MLP(PixelNorm(z)),  z ~ N(0, I)               (section 2)
    synthesis   g: a learned constant 4x4 input; per resolution 4, 8, ..., S two 3x3 modulated
                convolutions (the first after a 2x bilinear upsampling; one at 4x4), each
                followed by per-pixel noise with learned per-channel strength, a bias and
                leaky ReLU; a toRGB per resolution summed into the output through upsampling
                (StyleGAN2's "skip" generator). Layer i is styled by w_i = A_i(ws[:, i]):
                    w''_ijk = s_i w_ijk / sqrt(sum_{i,k} (s_i w_ijk)^2 + eps)   (StyleGAN2 eqs. 1-3)
                With L convolutions there are num_ws = L + 1 styles (a toRGB shares the next
                convolution's, as in StyleGAN2): 2 log2(S) - 2.

Style mixing regularisation (section 3.1): with probability `style_mixing` a training sample
takes w = f(z) for layers i < c and w_mix = f(z_mix) from layer c on, c ~ U{1, ..., num_ws - 1},
so no layer can rely on its neighbours sharing a style.

Truncation in W (eq. 3):  w' = w_avg + psi (w - w_avg), where w_avg is a moving average of f(z)
over training (beta 0.995, StyleGAN2's), a non-trainable weight that checkpoints and exports
carry. `truncation` is the request's option: psi in [0, 1], default 1 (off); psi = 0 draws the
"average" image. It replaces the z scaling every other GAN of the family uses.

The game (game.py): the non-saturating loss with R1 on reals every D step (Mescheder et al.
2018; gamma 1 by default; StyleGAN2 applies it lazily every 16 steps, a cost saving):
    L_D = softplus(D(G(z))) + softplus(-D(x)) + gamma/2 E||grad_x D(x)||^2,   L_G = softplus(-D(G(z)))
D is StyleGAN2's residual discriminator with a minibatch standard deviation at 4x4. Every weight
uses the equalised learning rate; Adam(0.002, beta_1 0, beta_2 0.99) as in StyleGAN2; an EMA of
G's weights for sampling (half-life 10k images at batch 64, as in the paper's appendix C).

Sampling and export. The noise is the stored per-layer map at inference (StyleGAN2's
noise_mode='const'), so an image is one function of (z, psi): Keras, the SavedModel and
onnxruntime give the same sample for a seed, and the exported generator takes z (latent) and
truncation (option). The extra endpoint `mix` (its own mix.onnx) takes z, z_mix, crossover and
truncation: coarse styles (layers < crossover) from z, the rest from z_mix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers, ops

from keras_gen import inputs as kinds, latents
from keras_gen.errors import KerasGenError
from keras_gen.layers.equalized import EqualizedConv2D, EqualizedDense, MinibatchStdDev
from keras_gen.layers.stylegan_blocks import (BiasActivation, ConstantInput, ModulatedConv2D, NoiseInjection, StyleMixing,
                                              WAverage, build_mapping, to_rgb)
from keras_gen.models.base import Endpoint, option
from keras_gen.models.gan.latent_gan import TRUNCATION, LatentGAN

MIN_SIZE, MAX_SIZE = 8, 256
CROSSOVER = "crossover"


def num_styles(image_size: int) -> int:
    """num_ws: one style per convolution (1 at 4x4, 2 per doubling) plus the last toRGB's."""
    return 2 * int(math.log2(image_size)) - 2


def _filters(res: int, image_size: int, base_filters: int, max_filters: int) -> int:
    """Width at resolution `res`: base_filters at the output, doubling per halving, capped."""
    return min(max_filters, base_filters * image_size // res)


def build_synthesis(image_size: int, channels: int, w_dim: int, base_filters: int, max_filters: int,
                    seed: int) -> keras.Model:
    """g: ws (B, num_ws, w_dim) -> images (B, S, S, C), linear (the sampler clips to [-1, 1])."""
    width = lambda res: _filters(res, image_size, base_filters, max_filters)  # noqa: E731
    ws = keras.Input((num_styles(image_size), w_dim), name="ws")
    index = 0

    def styled_conv(x, filters, name):
        nonlocal index
        x = ModulatedConv2D(filters, 3, index, name=f"{name}_conv")([x, ws])
        x = NoiseInjection(seed=seed * 1000 + index, name=f"{name}_noise")(x)
        index += 1
        return BiasActivation(name=f"{name}_act")(x)

    x = ConstantInput(width(4), name="const")(ws)  # (B, 4, 4, F)
    x = styled_conv(x, width(4), "b4")
    rgb = to_rgb(x, ws, channels, index, "b4_rgb")  # shares the next convolution's style
    res = 4
    while res < image_size:
        res *= 2
        x = layers.UpSampling2D(interpolation="bilinear", name=f"b{res}_up")(x)
        x = styled_conv(x, width(res), f"b{res}_0")
        x = styled_conv(x, width(res), f"b{res}_1")
        rgb = layers.UpSampling2D(interpolation="bilinear", name=f"b{res}_rgb_up")(rgb)
        rgb = layers.Add(name=f"b{res}_skip")([rgb, to_rgb(x, ws, channels, index, f"b{res}_rgb")])
    images = layers.Activation("linear", dtype="float32", name="images")(rgb)
    return keras.Model(ws, images, name="synthesis")


def build_discriminator(image_size: int, channels: int, base_filters: int, max_filters: int, wrap) -> keras.Model:
    """StyleGAN2's residual D: images (B, S, S, C) -> logits (B, 1). Per resolution two 3x3
    convolutions and a 2x average pool, beside a pooled 1x1 skip, summed / sqrt 2; at 4x4 the
    minibatch standard deviation, a 3x3 convolution and two dense layers."""
    width = lambda res: _filters(res, image_size, base_filters, max_filters)  # noqa: E731
    images = keras.Input((image_size, image_size, channels), name="images")
    x = wrap(EqualizedConv2D(width(image_size), 1, gain=1.0, activation=True, name="from_rgb"))(images)
    res = image_size
    while res > 4:
        skip = wrap(EqualizedConv2D(width(res // 2), 1, gain=1.0, use_bias=False, name=f"d{res}_skip"))(
            layers.AveragePooling2D(2, name=f"d{res}_skip_pool")(x))
        x = wrap(EqualizedConv2D(width(res), 3, gain=1.0, activation=True, name=f"d{res}_conv0"))(x)
        x = wrap(EqualizedConv2D(width(res // 2), 3, gain=1.0, activation=True, name=f"d{res}_conv1"))(x)
        x = layers.AveragePooling2D(2, name=f"d{res}_pool")(x)
        x = layers.Rescaling(1.0 / math.sqrt(2.0), name=f"d{res}_sum")(layers.Add()([x, skip]))
        res //= 2
    x = MinibatchStdDev(name="minibatch_std")(x)  # (B, 4, 4, F + 1)
    x = wrap(EqualizedConv2D(width(4), 3, gain=1.0, activation=True, name="d4_conv"))(x)
    x = wrap(EqualizedDense(width(4), gain=1.0, activation=True, name="d4_fc"))(layers.Flatten()(x))
    logits = wrap(EqualizedDense(1, gain=1.0, name="d4_out"))(x)
    return keras.Model(images, layers.Activation("linear", dtype="float32", name="logits")(logits),
                       name="discriminator")


@keras.saving.register_keras_serializable(package="keras_gen")
class StyleGAN(LatentGAN):
    """Mapping + synthesis as one `generator` (z, z_mix, crossover) -> images for training, D and
    G updated in turn on the game (its loss, R1, augmentation); the EMA of G for sampling."""

    @dataclass
    class Options(LatentGAN.Options):
        latent_dim: int = option(128, "z size (the paper's 512; 128 for 32 px)", min=1)
        w_dim: int = option(128, "w size (the paper's 512)", min=1)
        mapping_layers: int = option(4, "dense layers of the mapping (the paper's 8; StyleGAN2-ADA's CIFAR "
                                        "setting uses 2)", min=1, max=16)
        mapping_lr: float = option(0.01, "learning-rate multiplier of the mapping (the paper's 0.01)", min=0.0,
                                   min_exclusive=True)
        base_filters: int = option(32, "width at the output resolution, doubling per halving", min=1)
        max_filters: int = option(128, "widest feature map (the paper's 512)", min=1)
        style_mixing: float = option(0.9, "probability that a training sample mixes two latents at a random "
                                          "crossover layer (the paper's 0.9); 0 is off", min=0.0, max=1.0)
        w_avg_beta: float = option(0.995, "momentum of w_avg, the tracked mean w that truncation moves toward "
                                          "(StyleGAN2's 0.995)", min=0.0, max=0.99999)
        learning_rate: float = option(0.002, "Adam's rate, both networks (StyleGAN2's)", min=0.0, min_exclusive=True)
        beta_1: float = option(0.0, "Adam's beta_1 (StyleGAN2's 0)", min=0.0, max=0.999)
        beta_2: float = option(0.99, "Adam's beta_2 (StyleGAN2's 0.99)", min=0.0, max=0.9999)
        r1_gamma: float = option(1.0, "gamma of R1 on reals, every D step (StyleGAN2's FFHQ 256 px setting 1; on "
                                      "16 px digits, 480 steps: FID 17.4 with 1, 45.8 with 0.01)", min=0.0)
        ema: float = option(0.995, "G's weight EMA momentum for sampling and export (the paper's half-life of "
                                   "10k images at batch 64); 0 is off", min=0.0, max=0.99999)

    # R1 off in the harness (it checks plumbing: save, resume, export); the unit tests train with it.
    harness_options = {"latent_dim": 8, "w_dim": 8, "mapping_layers": 2, "base_filters": 4, "max_filters": 8,
                       "ema": 0.9, "r1_gamma": 0.0}
    harness_image_size = 8  # the smallest StyleGAN: 4x4 and 8x8 blocks
    extra_exports = ("mix",)  # export_endpoints() adds it; the registry lists it

    def build_networks(self):
        o = self.options
        s = self.image_size
        if s < MIN_SIZE or s > MAX_SIZE or s & (s - 1):
            raise KerasGenError(f"StyleGAN needs an image size that is a power of two from {MIN_SIZE} to {MAX_SIZE}, "
                                f"got {s}. Pass e.g. --image-size 32.")
        self.num_ws = num_styles(s)
        mapping = build_mapping(o.latent_dim, o.w_dim, o.mapping_layers, o.mapping_lr)
        synthesis = build_synthesis(s, self.channels, o.w_dim, o.base_filters, o.max_filters, o.seed)
        z = keras.Input((o.latent_dim,), name="z")
        z_mix = keras.Input((o.latent_dim,), name="z_mix")
        crossover = keras.Input((), dtype="int32", name=CROSSOVER)
        w = WAverage(o.w_avg_beta, name="w_average")(mapping(z))  # tracks w_avg in training
        ws = StyleMixing(self.num_ws, name="style_mixing")([w, mapping(z_mix), crossover])  # (B, num_ws, w_dim)
        generator = keras.Model([z, z_mix, crossover], synthesis(ws), name="generator")
        discriminator = build_discriminator(s, self.channels, o.base_filters, o.max_filters, self.d_layer)
        return generator, discriminator

    @property
    def mapping(self) -> keras.Model:
        return self.generator.get_layer("mapping")

    @property
    def synthesis(self) -> keras.Model:
        return self.generator.get_layer("synthesis")

    @property
    def w_average(self) -> WAverage:
        return self.generator.get_layer("w_average")

    def draw_styles(self, batch):
        """[z, z_mix, crossover] for G: crossover ~ U{1, ..., num_ws - 1} with probability
        `style_mixing`, else num_ws (all layers take w = f(z))."""
        o = self.options
        z = self.draw_latents(batch)
        z_mix = self.draw_latents(batch)
        cut = self.random_uniform((batch,), 1, self.num_ws, dtype="int32")
        mixed = self.random_uniform((batch,)) < o.style_mixing
        return [z, z_mix, tf.where(mixed, cut, self.num_ws)]

    def train_step(self, data):
        """D's update on the game with R1 on reals, then G's (with style mixing) on its turn; w_avg
        follows f(z) in both (the WAverage layer, in training mode)."""
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch, game = tf.shape(real)[0], self.game

        def critic(images):
            return self.discriminator(images, training=True)

        styles = self.draw_styles(batch)
        with tf.GradientTape() as tape:
            fake = self.generator(styles, training=True)
            real_seen, fake_seen = game.augment(real), game.augment(fake)
            real_logits, fake_logits = critic(real_seen), critic(fake_seen)
            d_loss = game.discriminator_loss(real_logits, fake_logits) + game.penalty(critic, real_seen, fake_seen)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)

        def generator_step():
            styles = self.draw_styles(batch)
            with tf.GradientTape() as tape:
                g_loss = game.generator_loss(critic(game.augment(self.generator(styles, training=True))))
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            return g_loss

        game.generator_turn(generator_step)
        return self.track_discriminator(d_loss, real_logits, fake_logits)

    # -- sampling: truncation in W, the stored noise ---------------------------------------
    def input_specs(self):
        return [kinds.latent(self.options.latent_dim), self._truncation_spec()]

    @staticmethod
    def _truncation_spec():
        return kinds.option(TRUNCATION, 1.0, *latents.TRUNCATION_RANGE, "float32",
                            "truncation psi in W: w' = w_avg + psi (w - w_avg) (StyleGAN eq. 3); 1 is off, "
                            "0 the average image")

    def styles(self, z, truncation=1.0):
        """w' (B, w_dim): f(z) truncated toward w_avg, inference mode."""
        return self.w_average.truncate(self.mapping(z, training=False), truncation)

    def synthesize(self, ws):
        """ws (B, num_ws, w_dim) -> images (B, S, S, C) clipped to [-1, 1], with the stored noise."""
        return ops.clip(self.synthesis(ws, training=False), -1.0, 1.0)

    def generate(self, z, truncation=1.0):
        """z (B, latent_dim) and psi -> images (B, S, S, C) in [-1, 1]: every layer styled by w'."""
        w = self.styles(z, truncation)
        return self.synthesize(ops.tile(w[:, None, :], (1, self.num_ws, 1)))

    def mix(self, z, z_mix, crossover, truncation=1.0):
        """Style mixing at inference: layers < crossover styled by z's w', the rest by z_mix's.
        crossover 0 is z_mix's image, num_ws is z's."""
        w, w_mix = self.styles(z, truncation), self.styles(z_mix, truncation)
        cut = tf.fill(tf.shape(w)[:1], tf.cast(crossover, tf.int32))
        return self.synthesize(self.generator.get_layer("style_mixing")([w, w_mix, cut]))

    def export_endpoints(self) -> dict:
        endpoints = super().export_endpoints()
        specs = [kinds.latent(self.options.latent_dim), kinds.latent(self.options.latent_dim, name="z_mix"),
                 kinds.option(CROSSOVER, self.num_ws // 2, 0, self.num_ws, "int32",
                              f"first layer styled by z_mix (0: z_mix's image, {self.num_ws}: z's)"),
                 self._truncation_spec()]

        def mix(z, z_mix, crossover, truncation):
            return {"images": self.mix(z, z_mix, crossover, truncation)}

        endpoints["mix"] = Endpoint(mix, specs, "style mixing: (z, z_mix, crossover, truncation) -> float32 images "
                                    "in [-1, 1]", output_ranges={"images": [-1.0, 1.0]}, edge=True)  # also mix.onnx
        return endpoints
