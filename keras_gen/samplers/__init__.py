"""Loop samplers in both runtimes, under the import path that predates the core.

The numpy loops and the registry are keras_gen/core/samplers/ (the edge runs them without
TensorFlow); the two-runtime classes, with `run_tf` (tf.while_loop), are keras_gen/core_tf/samplers.py.
Here: the core's names as they are; `Sampler` is the two-runtime base (a model's sampler
subclasses it and writes both loops), imported with TensorFlow on first use; and
`sample_with_progress` takes a Keras model or an edge model and loads TensorFlow only for the first.
"""

from keras_gen.core.samplers import (DIRECT, get_sampler, register_sampler, sample_numpy_with_progress,  # noqa: F401
                                     takes_progress)

_TWINS = ("Sampler",)


def sample_with_progress(model, n: int, seed: int, conditions: dict, progress):
    """A loop model's `sample(n, seed, **conditions)` with `progress(done, total)` called after
    each step: float [-1, 1] from a Keras model (its tf.while_loop, as `model.sample`), uint8 from
    an edge model (keras_gen.edge.EdgeModel: the numpy loop over its session). Same images as
    `model.sample`; the progress call is the only difference."""
    if hasattr(model, "run_network"):  # EdgeModel: numpy over onnxruntime, no TensorFlow
        return sample_numpy_with_progress(model, n, seed, conditions, progress)
    from keras_gen.core_tf.samplers import sample_keras_with_progress

    return sample_keras_with_progress(model, n, seed, conditions, progress)


def __getattr__(name):
    if name in _TWINS:  # TensorFlow loads here, when a twin is first asked for
        from keras_gen.core_tf import samplers as twins

        return getattr(twins, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
