"""The diffusion loop for caption-conditioned models (tddpm), in numpy; its tf.while_loop twin is
keras_gen.core_tf.text_diffusion.TextDiffusionSampler.

The same loop as keras_gen/core/samplers/ddim.py (DDIM or DDPM steps over the same scheduler),
with classifier-free guidance on a caption (Ho & Salimans 2021; GLIDE, Nichol et al. 2022):

    out <- out_u + w (out_c - out_u)      out_c = network(x, t, caption), out_u = network(x, t, null)

The null caption is a row of PADs (token id 0 everywhere): no request can send it (a caption
needs a word), and caption dropout in training feeds exactly it, so the same network is the
unconditional model. w = 1 runs the conditional pass alone; w = 0 ignores the caption.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.samplers import register_sampler
from keras_gen.core.samplers.ddim import GUIDANCE_RANGE, DiffusionSampler

CAPTION = "caption"  # the network's caption input


@register_sampler
class TextDiffusionSampler(DiffusionSampler):
    """config: DiffusionSampler's (num_classes None) and the default guidance."""

    name = "text_diffusion"

    def option_specs(self):
        return [*super().option_specs(),
                kinds.option("guidance", float(self.config.get("guidance", 1.0)), *GUIDANCE_RANGE, "float32",
                             "classifier-free guidance scale: 1 conditional, 0 ignores the caption, above 1 "
                             "follows it more closely and varies less")]

    def _predict_numpy(self, network, x, t, inputs):
        t = np.asarray(t, np.int32)
        caption, guidance = np.asarray(inputs[CAPTION], np.int32), np.float32(inputs["guidance"])
        if guidance == 1.0:
            return np.asarray(network({"x": x, "t": t, CAPTION: caption})["prediction"], np.float32)
        both = np.asarray(network({"x": np.concatenate([x, x]), "t": t,
                                   CAPTION: np.concatenate([caption, np.zeros_like(caption)])})["prediction"],
                          np.float32)
        conditional, unconditional = both[:len(x)], both[len(x):]
        return unconditional + guidance * (conditional - unconditional)
