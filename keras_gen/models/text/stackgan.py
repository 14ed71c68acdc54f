"""Text to image in the spirit of StackGAN: Zhang et al. 2017, "StackGAN: Text to Photo-realistic
Image Synthesis with Stacked Generative Adversarial Networks", with the matching-aware
discriminator of Reed et al. 2016, "Generative Adversarial Text to Image Synthesis" (GAN-CLS), and
StackGAN++'s joint training and unconditional scores (Zhang et al. 2018).

    phi = E(caption)                          a caption encoder (keras_gen/layers/text_encoder.py),
                                              trained with the discriminators (below)
    c_0, c_1 = CA_0(phi, eps), CA_1(phi, eps)  conditioning augmentation, c = mu + sigma eps (section 3.1)
    s_0 = G_0(c_0, z)                         stage I: a low-resolution image (image_size / upscale)
    s_1 = G_1(s_0, c_1)                       stage II: s_0 encoded, joined with c_1, residual blocks,
                                              up-sampled to image_size (section 3.3)

Each stage k has a discriminator D_k giving two scores: D_k(x, phi), whether x is a real image of
that caption, and D_k(x), whether x is real at all. With the game's losses l_D and l_G
(keras_gen/models/gan/game.py, non-saturating by default), x_k the real image at stage k's size
and phi' the caption of another image of the batch (the batch rolled by one):

    L_D = sum_k  1/2 l_D(D_k(x_k, phi), D_k(s_k, phi)) + 1/2 l_D(D_k(x_k, phi), D_k(x_k, phi'))
                 + l_D(D_k(x_k), D_k(s_k))
    L_G = sum_k  l_G(D_k(s_k, phi)) + l_G(D_k(s_k))  +  lambda KL(N(mu_k, sigma_k^2) || N(0, I))

(lambda on the KL summed over c's dimensions; StackGAN's code averages it over its 128 with
weight 2, i.e. 0.016 on the sum: at 1 it pinned mu near 0 and sigma near 1 here, and the noise
drowned the caption.)

The mismatched pair (a real image with a wrong caption, scored fake) is what makes D check the
caption and not only realism (GAN-CLS). StackGAN reads a fixed embedding, trained by Reed et al.
as a joint embedding of images and captions; here the caption encoder learns with the model, and
a matching term does the joint embedding's job (the sentence-level DAMSM loss of AttnGAN, Xu et
al. 2018; XMC-GAN's image-sentence contrast, Zhang et al. 2021): an image encoder I and the
caption encoder E learn to pick each real image's caption among the batch's, and G's images must
be picked by their own (L_match, keras_gen/losses/contrastive.py; weight mu_m):

    L_D += mu_m L_match(I(x), phi)       trains I and E, with D's optimizer
    L_G += mu_m L_match(I(s_1), phi)     trains G (I and phi held)

Without it the encoder learned only what D's caption term asked of it: on a 4,000-step run at
16 px, colour carried 95% of phi's variance between captions and shape 4%, and D scored a real
image with its shape word swapped as it scored it with its own caption. G reads phi scaled to
unit size per dimension (`normalise_caption`): the contrastive loss is blind to phi's scale,
which fell to ~0.02 a dimension, under the augmentation's unit noise. G reads phi and does not
move the encoder.
Each discriminator also predicts the caption's words from the image (the auxiliary classifier of
TAC-GAN, Dash et al. 2017, with the caption's bag of words y in place of a class;
keras_gen/losses/caption_words.py), learnt on real images, and G's images of both stages must
show every word of their caption (weight nu, `word_weight`):

    L_D += nu sum_k L_words(W_k(x_k), y)         L_G += nu sum_k L_words(W_k(s_k), y)

The matching term rewards only what tells a caption apart from the batch's others; this one asks
about the shape word in every image. At 32 px it took the named shape drawn from 0.19 to 0.64 of
held-out captions (docs/models/text.md).
With `word_reader` (off by default: below) W_k is not a head on D_k's features but a small
classifier R_k of its own (3x3 convolutions, max pooling; `build_word_reader`), trained on real
images only by its own Adam at a classifier's rate (`reader_learning_rate`), so the reader G
follows neither shares D's features with the real/fake game nor learns at the GAN's rate; the
run's first `reader_warmup_steps` steps train the readers alone, before the game starts:

    L_R = sum_k L_words(R_k(x_k), y)             every step (R's optimizer)
    L_G += nu sum_k L_words(R_k(s_k), y)         once the warm-up is over

(D's word head read the named shape of real test images 57% of the time after 8,000 steps; the
reader, 100% after 4,500.) But G learns to fool a reader that never sees its images: at 32 px
after 4,500 steps the reader found the named shape in 83% of G's images and the shapes classifier
in 26% (the heads: 0.64 after 4,050), spiky blobs for every shape with corners; so the heads stay
the default. With `coordinates`, G's convolutions and D's first one
read each pixel's position (CoordConv; captions name positions); with `mask_output`, each stage
lays tanh colours through a drawn mask over one learned background colour (the chairs decoder's
mask stream), so backgrounds are plain.
Both stages train together, every step, as in StackGAN++ (StackGAN trains stage I first): stage II
learns on stage I's current images and its loss reaches stage I too.

Sampling takes `z`, the augmentation's `condition_noise` (latents drawn from the seed), a
caption (`keras-gen sample RUN --text "a large blue circle"`) and `truncation`, which scales both
latents toward their mean: psi = 0 draws the caption's mean condition mu.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds, latents
from keras_gen.errors import KerasGenError
from keras_gen.layers.conditioning import ConditioningAugmentation, kl_to_standard_normal
from keras_gen.layers.compositing import MaskComposite
from keras_gen.layers.coordinates import CoordinateChannels
from keras_gen.layers.text_encoder import build_text_encoder
from keras_gen.losses.caption_words import bag_of_words, word_prediction_loss, word_recall
from keras_gen.losses.contrastive import matching_accuracy, matching_loss
from keras_gen.models.base import GenerativeModel, option
from keras_gen.models.gan.game import AdamOptions, AdversarialGame, GameOptions, adam_pair
from keras_gen.models.gan.latent_gan import TRUNCATION
from keras_gen.models.text.captions import CaptionOptions, caption_spec, drop_words

MIN_SIZE, MAX_SIZE = 16, 256


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)


def _where(x, coordinates: bool, name: str):
    """x, with each pixel's coordinates as two more channels where `coordinates` (CoordConv)."""
    return CoordinateChannels(name=f"{name}_coordinates")(x) if coordinates else x


def _up(x, filters: int, name: str, coordinates: bool = False):
    """Nearest up-sampling by 2 and a 3x3 convolution (StackGAN's upBlock; no checkerboard)."""
    x = _where(layers.UpSampling2D(2, name=f"{name}_up")(x), coordinates, name)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=_init(), name=f"{name}_conv")(x)
    return layers.ReLU(name=f"{name}_relu")(layers.BatchNormalization(name=f"{name}_norm")(x))


def _tiled(vector, side: int, name: str):
    """(B, D) -> (B, side, side, D): a condition repeated at every position."""
    x = layers.Reshape((1, 1, vector.shape[-1]), name=f"{name}_as_map")(vector)
    return layers.UpSampling2D(side, name=f"{name}_tiled")(x)


def _to_image(x, channels: int, mask: bool, name: str):
    """Features -> an image in [-1, 1]: a 3x3 convolution and tanh, or with `mask` (the chairs
    decoder's second stream) tanh colours laid through a drawn mask over one learned background."""
    colours = layers.Conv2D(channels, 3, padding="same", kernel_initializer=_init(), name=f"{name}_rgb")(x)
    if not mask:
        return layers.Activation("tanh", dtype="float32", name=f"{name}_image")(colours)
    colours = layers.Activation("tanh", dtype="float32", name=f"{name}_colours")(colours)
    logits = layers.Conv2D(1, 3, padding="same", dtype="float32", kernel_initializer=_init(), name=f"{name}_mask")(x)
    return MaskComposite(dtype="float32", name=f"{name}_image")([colours, logits])


def build_generator(text_dim: int, condition_dim: int, noise_dim: int, low_size: int, upscale: int, channels: int,
                    filters: int, refine_blocks: int, normalise_caption: bool = False,
                    coordinates: bool = False, mask: bool = False) -> keras.Model:
    """[phi (B, text_dim), condition_noise (B, 2 condition_dim), z (B, noise_dim)] ->
    [stage I (B, s, s, C), stage II (B, upscale s, upscale s, C), mu_0, log_var_0, mu_1, log_var_1].
    With `coordinates`, every convolution also sees each pixel's position (a caption names one);
    with `mask`, each stage draws colours and a mask over a learned plain background."""
    phi = keras.Input((text_dim,), name="caption_vector")
    eps = keras.Input((2 * condition_dim,), name="condition_noise")
    z = keras.Input((noise_dim,), name="z")
    read = phi
    if normalise_caption:  # phi / |phi| * sqrt(D): unit scale per dimension, so mu starts at eps's scale
        read = layers.Rescaling(math.sqrt(text_dim), name="caption_rescaled")(
            layers.UnitNormalization(name="caption_normalised")(phi))
    c0, mu0, log_var0 = ConditioningAugmentation(condition_dim, 0, name="augmentation_1")([read, eps])
    c1, mu1, log_var1 = ConditioningAugmentation(condition_dim, 1, name="augmentation_2")([read, eps])

    # Stage I: (c_0, z) -> 4x4, widest, halving per doubling up to low_size.
    ups = int(math.log2(low_size)) - 2
    width = filters * 2 ** ups
    x = layers.Concatenate(name="stage1_input")([c0, z])
    x = layers.Dense(4 * 4 * width, use_bias=False, kernel_initializer=_init(), name="stage1_project")(x)
    x = layers.ReLU(name="stage1_project_relu")(layers.BatchNormalization(name="stage1_project_norm")(x))
    x = layers.Reshape((4, 4, width), name="stage1_map")(x)  # (B, 4, 4, W)
    for i in range(ups):
        width //= 2
        x = _up(x, width, f"stage1_up{i}", coordinates)
    low = _to_image(x, channels, mask, "stage1")  # (B, s, s, C)

    # Stage II: s_0 encoded to s/2, joined with c_1, residual blocks, up to upscale * s.
    wide = 2 * filters
    h = layers.Conv2D(filters, 3, padding="same", kernel_initializer=_init(), name="stage2_encode")(
        _where(low, coordinates, "stage2_encode"))
    h = layers.ReLU(name="stage2_encode_relu")(h)
    h = layers.Conv2D(wide, 4, strides=2, padding="same", use_bias=False, kernel_initializer=_init(),
                      name="stage2_down")(h)
    h = layers.ReLU(name="stage2_down_relu")(layers.BatchNormalization(name="stage2_down_norm")(h))  # (B, s/2, s/2, 2F)
    h = layers.Concatenate(name="stage2_joint")([h, _tiled(c1, low_size // 2, "stage2_condition")])
    h = _where(h, coordinates, "stage2_joint")
    h = layers.Conv2D(wide, 3, padding="same", use_bias=False, kernel_initializer=_init(), name="stage2_join")(h)
    h = layers.ReLU(name="stage2_join_relu")(layers.BatchNormalization(name="stage2_join_norm")(h))
    for i in range(refine_blocks):  # residual blocks (StackGAN's ResBlock)
        r = layers.Conv2D(wide, 3, padding="same", use_bias=False, kernel_initializer=_init(), name=f"stage2_res{i}_a")(h)
        r = layers.ReLU(name=f"stage2_res{i}_relu")(layers.BatchNormalization(name=f"stage2_res{i}_a_norm")(r))
        r = layers.Conv2D(wide, 3, padding="same", use_bias=False, kernel_initializer=_init(), name=f"stage2_res{i}_b")(r)
        r = layers.BatchNormalization(name=f"stage2_res{i}_b_norm")(r)
        h = layers.ReLU(name=f"stage2_res{i}_out")(layers.Add(name=f"stage2_res{i}_add")([h, r]))
    width = wide
    for i in range(int(math.log2(upscale)) + 1):  # s/2 -> upscale * s
        width = max(width // 2, 8)
        h = _up(h, width, f"stage2_up{i}", coordinates)
    high = _to_image(h, channels, mask, "stage2")
    return keras.Model([phi, eps, z], [low, high, mu0, log_var0, mu1, log_var1], name="generator")


def build_image_encoder(size: int, channels: int, filters: int, text_dim: int) -> keras.Model:
    """images (B, size, size, C) -> (B, text_dim) vectors in the caption space, for the matching term:
    strided convolutions down to 4x4 (as D's), flattened (the position a caption names stays) and
    projected (AttnGAN's DAMSM image encoder, here small and trained with the model)."""
    images = keras.Input((size, size, channels), name="images")
    x, width = images, filters
    for i in range(int(math.log2(size)) - 2):  # down to 4x4
        x = layers.Conv2D(width, 4, 2, "same", kernel_initializer=_init(), name=f"image_encoder_conv{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"image_encoder_act{i}")(x)
        width *= 2
    x = layers.Flatten(name="image_encoder_flat")(x)
    vector = layers.Dense(text_dim, dtype="float32", name="image_encoder_vector")(x)
    return keras.Model(images, vector, name="image_encoder")


def build_word_reader(size: int, channels: int, filters: int, words: int, coordinates: bool, name: str) -> keras.Model:
    """images (B, size, size, C) -> word logits (B, words): the word term's reader, a classifier of
    its own that says which vocabulary words an image's caption holds, trained on real images only.
    Per stage a 3x3 convolution and 2x2 max pooling (the shapes domain classifier's blocks, one
    convolution each, widths filters, 2 filters, ...) down to 4x4, flattened (the position a
    caption names stays), one dense layer. No batch normalisation, so G's images are read exactly
    as real ones (training and inference modes agree). With `coordinates` the first convolution
    sees each pixel's position. On real 32 px shapes alone, at Adam 3e-3, 16 filters read the named
    shape first 95% of the time after 1,000 steps (D's strided 4x4 convolutions: 60% after 1,500)."""
    images = keras.Input((size, size, channels), name="images")
    x = _where(images, coordinates, name)
    for i in range(int(math.log2(size)) - 2):  # down to 4x4
        x = layers.Conv2D(filters * 2 ** i, 3, padding="same", name=f"{name}_conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"{name}_pool{i}")(layers.LeakyReLU(0.2, name=f"{name}_act{i}")(x))
    x = layers.Flatten(name=f"{name}_flat")(x)
    logits = layers.Dense(words, dtype="float32", name=f"{name}_words")(x)
    return keras.Model(images, logits, name=name)


def build_discriminator(size: int, channels: int, text_dim: int, filters: int, wrap, name: str,
                        coordinates: bool = False, words: int = 0) -> keras.Model:
    """[images (B, size, size, C), phi (B, text_dim)] -> [caption score (B, 1), image score (B, 1)]
    (+ word logits (B, words) where `words`): strided convolutions down to 4x4, then one head on the
    features alone and one on the features joined with the compressed caption tiled over the map
    (StackGAN's D); the word head (TAC-GAN's auxiliary classifier) reads the features alone and
    says which of the vocabulary's words a caption of the image holds. With `coordinates`, the
    first convolution sees each pixel's position."""
    images = keras.Input((size, size, channels), name="images")
    phi = keras.Input((text_dim,), name="caption_vector")
    x = wrap(layers.Conv2D(filters, 4, 2, "same", kernel_initializer=_init(), name=f"{name}_conv0"))(
        _where(images, coordinates, name))
    x = layers.LeakyReLU(0.2, name=f"{name}_act0")(x)
    width = filters
    for i in range(1, int(math.log2(size)) - 2):  # down to 4x4
        width *= 2
        x = wrap(layers.Conv2D(width, 4, 2, "same", use_bias=False, kernel_initializer=_init(), name=f"{name}_conv{i}"))(x)
        x = layers.LeakyReLU(0.2, name=f"{name}_act{i}")(layers.BatchNormalization(name=f"{name}_norm{i}")(x))
    image_score = wrap(layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init(), name=f"{name}_image_head"))(x)
    caption = layers.LeakyReLU(0.2, name=f"{name}_caption_act")(layers.Dense(32, name=f"{name}_caption")(phi))
    joint = layers.Concatenate(name=f"{name}_joint")([x, _tiled(caption, 4, f"{name}_caption")])
    joint = wrap(layers.Conv2D(width, 1, use_bias=False, kernel_initializer=_init(), name=f"{name}_joint_conv"))(joint)
    joint = layers.LeakyReLU(0.2, name=f"{name}_joint_act")(layers.BatchNormalization(name=f"{name}_joint_norm")(joint))
    caption_score = wrap(layers.Conv2D(1, 4, 1, "valid", kernel_initializer=_init(), name=f"{name}_caption_head"))(joint)
    outputs = [layers.Flatten(dtype="float32", name=f"{name}_caption_score")(caption_score),
               layers.Flatten(dtype="float32", name=f"{name}_image_score")(image_score)]
    if words:  # not spectrally normalised: a classifier head, as AC-GAN's
        outputs.append(layers.Dense(words, dtype="float32", kernel_initializer=_init(), name=f"{name}_word_head")(
            layers.Flatten(name=f"{name}_word_features")(x)))
    return keras.Model([images, phi], outputs, name=name)


@keras.saving.register_keras_serializable(package="keras_gen")
class TextToImageGAN(GenerativeModel):
    """A caption encoder, two generator stages and a discriminator per stage; see the module docstring."""

    @dataclass
    class Options(CaptionOptions, AdamOptions, GameOptions):
        noise_dim: int = option(32, "z size (StackGAN: 100; the shapes need less)", min=1)
        word_dim: int = option(32, "size of the word embeddings", min=1)
        text_dim: int = option(64, "size of the caption vector phi (StackGAN's char-CNN-RNN: 1024)", min=1)
        condition_dim: int = option(32, "size of the augmented condition c (StackGAN: 128)", min=1)
        filters: int = option(32, "G's width at stage I's largest map, D's at its first layer", min=1)
        refine_blocks: int = option(2, "stage II's residual blocks (StackGAN: 4)", min=0)
        upscale: int = option(2, "stage II's side over stage I's (StackGAN: 4, 64 -> 256 px)", choices=(2, 4))
        kl_weight: float = option(0.05, "lambda of the conditioning augmentation's KL, summed over c's dimensions "
                                        "(StackGAN's code averages it over its 128 with weight 2: 0.016 on the "
                                        "sum; 1 pins mu to 0 and sigma to 1, and the noise drowns the caption)",
                                  min=0.0)
        normalise_caption: bool = option(True, "G reads phi / |phi| * sqrt(text_dim): the augmentation's mean "
                                               "starts at the noise's scale whatever scale the encoders' training "
                                               "leaves phi at (off, phi shrank to ~0.02 a dimension under eps's 1)")
        mismatch_weight: float = option(0.5, "share of D's caption term given to real images with a wrong caption "
                                             "(GAN-CLS; StackGAN 0.5, the rest to generated images)", min=0.0, max=1.0)
        matching_weight: float = option(1.0, "weight of the image-caption matching term (DAMSM, XMC-GAN): an image "
                                             "encoder and the caption encoder learn to pick each real image's "
                                             "caption in the batch, and G's images must be picked by their own; "
                                             "0 is off (the encoder then learns from D's caption term alone)",
                                        min=0.0)
        matching_temperature: float = option(0.1, "tau of the matching term's softmax over the batch", min=0.0,
                                             min_exclusive=True)
        word_weight: float = option(1.0, "weight of the word-prediction term (TAC-GAN's auxiliary classifier, on "
                                         "the caption's words): each discriminator also says which vocabulary "
                                         "words an image's caption holds, learnt on real images, and G's images "
                                         "must show their own caption's words; 0 is off", min=0.0)
        word_reader: bool = option(False, "the word term's reader is a classifier network of its own per stage "
                                          "(3x3 convolutions and max pooling, trained on real images only with its "
                                          "own Adam at reader_learning_rate), not a head on the discriminators' "
                                          "features trained at the GAN's rate. It reads real shapes far better "
                                          "(100% against 57%) but G learns to fool it: at 32 px the named shape "
                                          "was drawn 0.26 of the time after 4,500 steps, against the heads' 0.64 "
                                          "(docs/models/text.md), so it is off")
        reader_filters: int = option(16, "the word reader's width at its first convolution (doubling per stage)",
                                     min=1)
        reader_learning_rate: float = option(3e-3, "Adam's rate for the word reader (a classifier's: it learns "
                                                   "from real images only, not in the game)", min=0.0,
                                             min_exclusive=True)
        reader_warmup_steps: int = option(500, "the run's first steps train the word reader alone, on real "
                                                "images, before the game starts, so G follows a reader that "
                                                "already knows the words (each about a seventh of a game step's time; "
                                                "counted in the run's steps; no effect without a reader: "
                                                "word_weight 0 or word_reader false)", min=0)
        coordinates: bool = option(True, "every generator convolution and each discriminator's first one also see "
                                         "each pixel's position (CoordConv; captions name positions)")
        mask_output: bool = option(True, "each stage draws colours and a mask laid over one learned background "
                                         "colour (the chairs decoder's mask stream): the background is plain, as "
                                         "the data's is")
        learning_rate: float = option(1e-3, "Adam's rate, for both networks (DCGAN's 2e-4 left the word heads "
                                            "reading the named shape of real images 29% of the time after 1,000 "
                                            "steps at 32 px; 1e-3: 56%)", min=0.0, min_exclusive=True)

    # Runs saved before these trained without the matching term (no image encoder) and fed G phi as
    # the encoder left it; those before the word term, the coordinates and the mask stream had none of them.
    # Round 5's word reader and its warm-up: runs before them read the words with D's heads.
    options_added_later = {"matching_weight": 0.0, "normalise_caption": False, "word_weight": 0.0,
                           "coordinates": False, "mask_output": False, "word_reader": False,
                           "reader_filters": 16, "reader_learning_rate": 3e-3, "reader_warmup_steps": 0}

    harness_image_size = 16
    harness_options = {"noise_dim": 4, "word_dim": 4, "text_dim": 8, "condition_dim": 4, "filters": 4,
                       "refine_blocks": 1, "max_words": 10}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        side = self.image_size
        if not isinstance(side, int) or side < MIN_SIZE or side > MAX_SIZE or side & (side - 1) or \
                side // o.upscale < 8:
            raise KerasGenError(f"text2img needs a square image size that is a power of two from {MIN_SIZE} to "
                                f"{MAX_SIZE}, with stage I (size / upscale = {side}/{o.upscale}) at least 8 px; got "
                                f"{self.image_size}. Pass e.g. --image-size 32.")
        self.low_size = side // o.upscale
        self.caption = caption_spec(o)
        self.game = AdversarialGame(self)
        self.text_encoder = build_text_encoder(len(self.caption.vocabulary), self.caption.max_words, o.word_dim,
                                               o.text_dim)
        self.generator = build_generator(o.text_dim, o.condition_dim, o.noise_dim, self.low_size, o.upscale,
                                         self.channels, o.filters, o.refine_blocks, o.normalise_caption,
                                         o.coordinates, o.mask_output)
        wrap = self.game.discriminator_layer
        words = len(self.caption.vocabulary) if o.word_weight else 0
        heads = 0 if o.word_reader else words  # the words are read by D's heads or by readers of their own
        self.discriminator_1 = build_discriminator(self.low_size, self.channels, o.text_dim, o.filters, wrap,
                                                   "discriminator_1", o.coordinates, heads)
        self.discriminator_2 = build_discriminator(side, self.channels, o.text_dim, o.filters, wrap,
                                                   "discriminator_2", o.coordinates, heads)
        reading = bool(words and o.word_reader)
        self.reader_1 = (build_word_reader(self.low_size, self.channels, o.reader_filters, words, o.coordinates,
                                           "reader_1") if reading else None)
        self.reader_2 = (build_word_reader(side, self.channels, o.reader_filters, words, o.coordinates, "reader_2")
                         if reading else None)
        self.image_encoder = (build_image_encoder(side, self.channels, o.filters, o.text_dim) if o.matching_weight
                              else None)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.real_score_tracker = keras.metrics.Mean(name=self.game.score_names[0])
        self.fake_score_tracker = keras.metrics.Mean(name=self.game.score_names[1])
        self.wrong_score_tracker = keras.metrics.Mean(name=self.game.score_names[1].replace("fake", "wrong"))
        self.matching_trackers = ([keras.metrics.Mean(name="match_real"), keras.metrics.Mean(name="match_fake")]
                                  if self.image_encoder is not None else [])
        self.word_trackers = ([keras.metrics.Mean(name="words_real"), keras.metrics.Mean(name="words_fake")]
                              if o.word_weight else [])
        self.built = True

    def text_spec(self):
        return self.caption

    @property
    def readers(self) -> tuple:
        """The word readers of stage I and stage II (`word_reader`), or () where D's heads read the words."""
        return (self.reader_1, self.reader_2) if self.reader_1 is not None else ()

    def default_optimizers(self):
        optimizers = adam_pair(self.options, "generator", "discriminator")
        if self.readers:  # a classifier's Adam (beta_1 0.9): the reader is not a player of the game
            optimizers["reader"] = keras.optimizers.Adam(self.options.reader_learning_rate)
        return optimizers

    def variables_for(self, optimizer_name: str) -> list:
        """G's optimizer trains both stages and their augmentation; D's both discriminators, the
        caption encoder and the matching term's image encoder (the matching-aware loss and the
        matching term on real pairs are what teach the two encoders); the reader's both word
        readers."""
        if optimizer_name == "reader":
            return [v for reader in self.readers for v in reader.trainable_variables]
        if optimizer_name == "discriminator":
            encoders = [self.text_encoder] + ([self.image_encoder] if self.image_encoder is not None else [])
            return (self.discriminator_1.trainable_variables + self.discriminator_2.trainable_variables
                    + [v for e in encoders for v in e.trainable_variables])
        return super().variables_for(optimizer_name)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.kl_tracker, self.real_score_tracker,
                self.fake_score_tracker, self.wrong_score_tracker, *self.matching_trackers, *self.word_trackers,
                *self.game.metrics]

    # -- training ------------------------------------------------------------------------------
    def _draw(self, batch):
        """(condition noise eps, z) for one generator pass."""
        return (self.random_normal((batch, 2 * self.options.condition_dim)),
                self.random_normal((batch, self.options.noise_dim)))

    def train_step(self, data):
        """The word readers on real images (with `word_reader`); then, once their warm-up is over,
        both discriminators (and the caption encoder) on real, generated and mismatched pairs, and
        both generator stages on the game's turn."""
        images, captions = data[0], tf.cast(data[1], tf.int32)
        o = self.options
        # What each image's caption names (before word dropout: the image shows every word of it).
        words = bag_of_words(captions, len(self.caption.vocabulary)) if o.word_weight else None
        captions = drop_words(self, captions, o.word_dropout)
        reals = (tf.nn.avg_pool2d(images, o.upscale, o.upscale, "VALID"), images)  # x at each stage's size

        def play():
            self._game_step(images, captions, reals, words)
            if self.readers:  # after the game's turn: G has just followed the readers as they were
                self._reader_step(reals, words)
            return tf.constant(0.0)

        def warm_up():
            self._reader_step(reals, words)
            return tf.constant(0.0)

        if self.readers and o.reader_warmup_steps:  # counted by the reader's optimizer (saved: resume is exact)
            tf.cond(self.optimizers["reader"].iterations >= o.reader_warmup_steps, play, warm_up)
        else:
            play()
        return {m.name: m.result() for m in self.metrics}

    def _reader_step(self, reals, words):
        """Each stage's word reader learns the caption's words from real images only, at a
        classifier's rate, by its own optimizer. (Also teaching it that G's images name no word,
        AM-GAN's fake class, drew the named shape less often: docs/models/text.md.)"""
        with tf.GradientTape() as tape:
            logits = [reader(real, training=True) for reader, real in zip(self.readers, reals)]
            loss = sum(word_prediction_loss(stage, words) for stage in logits)
        self.apply_gradients("reader", tape, loss)
        self.word_trackers[0].update_state(word_recall(logits[-1], words))

    def _game_step(self, images, captions, reals, words):
        """Both discriminators (and the caption encoder) on real, generated and mismatched pairs,
        then both generator stages on the game's turn."""
        o, game = self.options, self.game
        batch = tf.shape(images)[0]
        critics = (self.discriminator_1, self.discriminator_2)
        heads = words is not None and not self.readers  # D's word heads read the words (round 4)
        eps, z = self._draw(batch)

        with tf.GradientTape() as tape:
            phi = self.text_encoder(captions, training=True)
            wrong_phi = tf.roll(phi, 1, axis=0)  # another image's caption
            fakes = self.generator([tf.stop_gradient(phi), eps, z], training=True)[:2]
            d_loss, scores = 0.0, []
            for critic, real, fake in zip(critics, reals, fakes):
                real_seen, fake_seen = game.augment(real), game.augment(fake)
                real_caption, real_image, *real_words = critic([real_seen, phi], training=True)
                fake_caption, fake_image, *_ = critic([fake_seen, phi], training=True)
                wrong_caption, *_ = critic([real_seen, wrong_phi], training=True)
                d_loss += ((1 - o.mismatch_weight) * game.discriminator_loss(real_caption, fake_caption)
                           + o.mismatch_weight * game.discriminator_loss(real_caption, wrong_caption)
                           + game.discriminator_loss(real_image, fake_image)
                           + game.penalty(lambda x, c=critic: c([x, phi], training=True)[0], real_seen, fake_seen))
                if heads:  # the word head learns on real images only (G's cannot teach it wrong words)
                    d_loss += o.word_weight * word_prediction_loss(real_words[0], words)
                scores.append((real_caption, fake_caption, wrong_caption))
            if self.image_encoder is not None:  # the encoders learn which real image goes with which caption
                real_vectors = self.image_encoder(images, training=True)
                d_loss += o.matching_weight * matching_loss(real_vectors, phi, o.matching_temperature)
        self.apply_gradients("discriminator", tape, d_loss)
        if self.image_encoder is not None:
            self.matching_trackers[0].update_state(matching_accuracy(real_vectors, phi))
        if heads:
            self.word_trackers[0].update_state(word_recall(real_words[0], words))
        game.discriminator_updated(scores[-1][0])

        def generator_step():
            phi = tf.stop_gradient(self.text_encoder(captions, training=False))
            eps, z = self._draw(batch)
            with tf.GradientTape() as tape:
                low, high, mu0, log_var0, mu1, log_var1 = self.generator([phi, eps, z], training=True)
                kl = kl_to_standard_normal(mu0, log_var0) + kl_to_standard_normal(mu1, log_var1)
                g_loss = o.kl_weight * kl
                for k, (critic, fake) in enumerate(zip(critics, (low, high))):
                    caption_score, image_score, *fake_words = critic([game.augment(fake), phi], training=True)
                    g_loss += game.generator_loss(caption_score) + game.generator_loss(image_score)
                    if words is not None:  # both stages must show the caption's words (TAC-GAN)
                        read = self.readers[k](fake, training=False) if self.readers else fake_words[0]
                        g_loss += o.word_weight * word_prediction_loss(read, words)
                if self.image_encoder is not None:  # G's images must be picked by their own captions
                    fake_vectors = self.image_encoder(high, training=False)
                    g_loss += o.matching_weight * matching_loss(fake_vectors, phi, o.matching_temperature)
            self.apply_gradients("generator", tape, g_loss)
            if self.image_encoder is not None:
                self.matching_trackers[1].update_state(matching_accuracy(fake_vectors, phi))
            if words is not None:  # stage II's: the final image's
                self.word_trackers[1].update_state(word_recall(read, words))
            self.g_loss_tracker.update_state(g_loss)
            self.kl_tracker.update_state(kl)
            return g_loss

        game.generator_turn(generator_step)
        real_caption, fake_caption, wrong_caption = scores[-1]  # stage II's scores, the final image's
        self.d_loss_tracker.update_state(d_loss)
        real_score, fake_score = game.scores(real_caption, fake_caption)
        self.real_score_tracker.update_state(real_score)
        self.fake_score_tracker.update_state(fake_score)
        self.wrong_score_tracker.update_state(game.scores(real_caption, wrong_caption)[1])

    # -- sampling: the caption encoder and both stages in one call ---------------------------
    def input_specs(self):
        o = self.options
        return [kinds.latent(o.noise_dim),
                kinds.InputSpec("condition_noise", "latent", (2 * o.condition_dim,), "float32",
                                distribution="gaussian", description="eps of the conditioning augmentation, "
                                                                     "one half per stage"),
                self.caption,
                kinds.option(TRUNCATION, 1.0, *latents.TRUNCATION_RANGE, "float32",
                             "truncation psi: z and eps scaled toward 0; 0 draws each caption's mean condition")]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate_stages(self, z, condition_noise, caption, truncation=1.0):
        """(stage I images, stage II images), both in [-1, 1], inference mode."""
        phi = self.text_encoder(tf.cast(caption, tf.int32), training=False)
        eps, z = (tf.convert_to_tensor(latents.truncate(v, truncation), tf.float32) for v in (condition_noise, z))
        outputs = self.generator([phi, eps, z], training=False)
        return outputs[0], outputs[1]

    def generate(self, z, condition_noise, caption, truncation=1.0):
        """Latents, caption ids (B, max_words) and truncation psi -> stage II images (B, S, S, C) in [-1, 1]."""
        return self.generate_stages(z, condition_noise, caption, truncation)[1]
