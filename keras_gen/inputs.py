"""Request inputs: keras_gen/core/inputs.py (numpy) with its TF twins from
keras_gen/core_tf/inputs.py, under the import path that predates the core.

The core's names are here as they are; `resolve_inputs_tf`, `check_request_tf`, `draw_tf` and
`tensor_spec` are imported on first use, so importing this module never imports TensorFlow.
`InputSpec.tensor_spec()` and `InputSpec.draw_tf(...)` were methods: they are the functions
`tensor_spec(spec)` and `draw_tf(spec, ...)` now.
"""

from keras_gen.core.inputs import *  # noqa: F401,F403
from keras_gen.core.inputs import (KINDS, MAX_SAMPLES, MAX_SEED, RANDOM_KINDS, SAMPLE_COUNT,  # noqa: F401
                                   SAMPLE_SEED, InputSpec, check_request, choice, code, condition_specs, image,
                                   image_noise, label, latent, latents, option, resolve_conditions, resolve_inputs,
                                   sample_count_and_seed, streams, value_of_choice)

_TWINS = ("resolve_inputs_tf", "check_request_tf", "draw_tf", "tensor_spec")


def __getattr__(name):
    if name in _TWINS:  # TensorFlow loads here, when a twin is first asked for
        from keras_gen.core_tf import inputs as twins

        return getattr(twins, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
