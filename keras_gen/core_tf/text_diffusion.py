"""The caption-guided diffusion loop in TensorFlow: the `run_tf` twin of
keras_gen/core/samplers/text_diffusion.py (the loop is DiffusionSampler's; the guided prediction
is written here in TF ops)."""

from __future__ import annotations

import tensorflow as tf

from keras_gen.core.samplers import text_diffusion
from keras_gen.core.samplers.text_diffusion import CAPTION
from keras_gen.core_tf.samplers import DiffusionSampler


class TextDiffusionSampler(DiffusionSampler, text_diffusion.TextDiffusionSampler):
    """DDIM / DDPM with classifier-free guidance on a caption, in TF."""

    def _predict_tf(self, network, x, t, inputs):
        caption = tf.cast(inputs[CAPTION], tf.int32)  # the null caption: PADs only
        return self.guided_tf(network, x, t, CAPTION, caption, tf.zeros_like(caption), inputs["guidance"])
