"""The diffusion sampler under the import path that predates the core: `GUIDANCE_RANGE` from
keras_gen/core/samplers/ddim.py, and `DiffusionSampler` with both loops (numpy and tf.while_loop)
from keras_gen/core_tf/samplers.py, imported with TensorFlow on first use.
"""

from keras_gen.core.samplers.ddim import GUIDANCE_RANGE  # noqa: F401

_TWINS = ("DiffusionSampler",)


def __getattr__(name):
    if name in _TWINS:  # TensorFlow loads here, when a twin is first asked for
        from keras_gen.core_tf import samplers as twins

        return getattr(twins, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
