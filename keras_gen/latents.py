"""Seeded latents: keras_gen/core/latents.py (numpy) with its TF twins from
keras_gen/core_tf/latents.py, under the import path that predates the core.

The core's names are here as they are; the `*_tf` twins are imported on first use, so importing
this module (and sampling from it in numpy) never imports TensorFlow.
"""

from keras_gen.core.latents import *  # noqa: F401,F403
from keras_gen.core.latents import (PARITY_IMAGE_STREAM, SAMPLER_STREAM_BASE, TRUNCATION_RANGE,  # noqa: F401
                                    _hash32_np, _M1, _M2, _uniforms_np, categorical_codes, gaussian_latents,
                                    slerp, truncate, uniform_codes)

_TWINS = ("_uniforms_tf", "gaussian_latents_tf", "uniform_codes_tf", "categorical_codes_tf")


def __getattr__(name):
    if name in _TWINS:  # TensorFlow loads here, when a twin is first asked for
        from keras_gen.core_tf import latents as twins

        return getattr(twins, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
