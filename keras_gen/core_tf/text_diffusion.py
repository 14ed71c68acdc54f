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
        caption, guidance = tf.cast(inputs[CAPTION], tf.int32), tf.cast(inputs["guidance"], tf.float32)

        def conditional_only():
            return tf.cast(network({"x": x, "t": t, CAPTION: caption})["prediction"], tf.float32)

        def guided():
            both = tf.cast(network({"x": tf.concat([x, x], 0), "t": t,
                                    CAPTION: tf.concat([caption, tf.zeros_like(caption)], 0)})["prediction"],
                           tf.float32)
            conditional, unconditional = tf.split(both, 2, axis=0)
            return unconditional + guidance * (conditional - unconditional)

        return tf.cond(tf.equal(guidance, 1.0), conditional_only, guided)
