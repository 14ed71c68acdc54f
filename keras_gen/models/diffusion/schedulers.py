"""The diffusion schedulers, under the import path that predates the core: the scheduler and the
numpy namespace are keras_gen/core/schedulers.py (the edge's sampling loop runs them without
TensorFlow); `TF`, the namespace for graphs, is keras_gen/core_tf/schedulers.py, imported on
first use.
"""

from keras_gen.core.schedulers import (NUMPY, PREDICTION_CHOICES, PREDICTIONS, SAMPLERS, SCHEDULES,  # noqa: F401
                                       DiffusionScheduler, default_prediction,
                                       beta_schedule)

_TWINS = ("TF",)


def __getattr__(name):
    if name in _TWINS:  # TensorFlow loads here, when a twin is first asked for
        from keras_gen.core_tf import schedulers as twins

        return getattr(twins, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
