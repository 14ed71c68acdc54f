"""Caption-conditioned diffusion with classifier-free guidance: Ho & Salimans 2021, "Classifier-Free
Diffusion Guidance", with a caption in the label's place as in GLIDE (Nichol et al. 2022), on the
`ddpm` model of keras_gen/models/diffusion/ddpm.py (its schedule, U-Net, EMA and samplers).

The caption (token ids, keras_gen/core/text.py) goes through a small encoder trained with the
U-Net (keras_gen/layers/text_encoder.py); its vector, projected, is added to the time embedding in
every residual block (the U-Net's `condition`). Training is ddpm's (Ho et al. Algorithm 1, eq. 14),
with the caption replaced by the null caption (PADs only) with probability `caption_dropout`:

    L = E || eps - eps_theta(x_t, t, c~) ||^2,    c~ = null with prob. p_uncond, else c

so one network learns p(x | caption) and p(x). Sampling (keras_gen/core/samplers/text_diffusion.py)
mixes the two, eps_u + w (eps_c - eps_u), `guidance` w per request (`keras-gen sample RUN --text
"a large blue circle" --guidance 3`). A separate registered model, so `ddpm` and `cddpm`
checkpoints are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen import inputs as kinds
from keras_gen.core.samplers.ddim import GUIDANCE_RANGE
from keras_gen.core_tf.schedulers import TF
from keras_gen.core_tf.text_diffusion import TextDiffusionSampler
from keras_gen.layers.text_encoder import build_text_encoder
from keras_gen.models.base import option, options_without
from keras_gen.models.diffusion.ddpm import DDPM
from keras_gen.models.diffusion.unet import build_unet
from keras_gen.models.text.captions import CaptionOptions, caption_spec, drop_words


@keras.saving.register_keras_serializable(package="keras_gen")
class TextDDPM(DDPM):
    """ddpm's U-Net with a caption encoder; see the module docstring."""

    @dataclass
    class Options(CaptionOptions, options_without(DDPM.Options, "label_dropout", "guidance")):
        caption_dropout: float = option(0.1, "share of training captions replaced by the null caption, training the "
                                             "unconditional model for guidance (Ho & Salimans 0.1-0.2)",
                                        min=0.0, max=1.0)
        guidance: float = option(3.0, "default classifier-free guidance scale of a request (1: conditional)",
                                 min=GUIDANCE_RANGE[0], max=GUIDANCE_RANGE[1])
        word_dim: int = option(32, "size of the word embeddings", min=1)
        text_dim: int = option(64, "size of the caption vector", min=1)

    harness_image_size = 8
    # One U-Net level in the harness: ddpm's entry covers the down/up path; this one, the caption.
    harness_options = {**DDPM.harness_options, "channel_multipliers": "1",
                       "guidance": 2.0, "word_dim": 4, "text_dim": 8, "max_words": 10}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.caption = caption_spec(self.options)  # the vocabulary is the encoder's table: checked before building

    def build_denoiser(self) -> keras.Model:
        o = self.options
        caption = caption_spec(o)
        encoder = build_text_encoder(len(caption.vocabulary), caption.max_words, o.word_dim, o.text_dim)
        return build_unet(self.image_shape, o.filters, self.multipliers, o.blocks, o.attention_resolution, o.groups,
                          None, o.dropout, condition=encoder)

    def text_spec(self):
        return self.caption

    def train_step(self, data):
        images, captions = data[0], tf.cast(data[1], tf.int32)
        batch = tf.shape(images)[0]
        captions = drop_words(self, captions, self.options.word_dropout)
        t = self.random_uniform((batch,), 0, self.options.timesteps, dtype="int32")  # uniform t
        noise = self.random_normal(tf.shape(images))
        # caption dropout: the null caption (PADs only) trains the unconditional model
        dropped = self.random_uniform((batch,)) < self.options.caption_dropout
        captions = tf.where(dropped[:, None], tf.zeros_like(captions), captions)
        x_t = self.scheduler.add_noise(images, noise, t, TF)  # eq. (4)
        target = self.scheduler.training_target(images, noise, t, TF)
        with tf.GradientTape() as tape:
            prediction = self.denoiser([x_t, t, captions], training=True)
            loss = self.denoising_loss(target, prediction, t)  # eq. (14), weighted by loss_weighting
        self.apply_gradients("denoiser", tape, loss)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    # -- sampling: the guided loop over steps, the U-Net (with its encoder) exported alone --------
    def input_specs(self):
        return [*super().input_specs(), self.caption]

    def sampler(self):
        o = self.options
        return TextDiffusionSampler(scheduler=self.scheduler.get_config(), height=self.image_size,
                                    width=self.image_size, channels=self.channels, num_classes=None,
                                    sampler=o.sampler, steps=o.sample_steps, eta=o.eta, guidance=o.guidance)

    def network_specs(self):
        x, t = super().network_specs()[:2]
        return [x, t, self.caption]

    def network(self, x, t, caption):
        """x_t (B, H, W, C), a step t for the batch, caption ids (B, L) (a row of PADs: no caption)
        -> {"prediction": eps or v (B, H, W, C)}."""
        x = tf.convert_to_tensor(x, tf.float32)
        t = tf.fill(tf.shape(x)[:1], tf.cast(t, tf.int32))
        return {"prediction": self.denoiser([x, t, tf.cast(caption, tf.int32)], training=False)}
