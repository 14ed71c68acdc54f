"""Sampling loops that call a network many times (diffusion, PixelCNN), written for two runtimes.

ONNX holds one network evaluation, not a loop of them. A model that samples iteratively exports
its network (the `onnx=True` endpoint) and names a `Sampler`; the loop is written twice, as in
keras_gen/latents.py:

    run_numpy(network, inputs, n, seed)   numpy over any callable, e.g. an onnxruntime session:
                                          the edge runner drives it, without TensorFlow
    run_tf(network, inputs, n, seed)      TF ops with tf.while_loop: the SavedModel's `sample`
                                          endpoint and the Keras model's own `sample`

Both take an optional `progress(done, total)`, called once after each step of the loop (the
CLI's progress bar, `sample_with_progress`); in TF it is a `tf.py_function` inside the loop body,
a side effect that changes no numbers, and the exported loop never has one.

`network(feeds: dict) -> dict` takes the network endpoint's inputs by name and returns its
outputs by name. `inputs` holds the request's resolved inputs (keras_gen.inputs.resolve_inputs:
random draws, labels, the sampler's options). Both loops must give the same images for the same
request; the export's parity check and the shared model harness hold them equal.

A sampler is found by name (`get_sampler`) from the manifest, so the edge runner needs nothing
but this package; a family adds its sampler as a module here (keras_gen/samplers/ddim.py),
registered with `@register_sampler`, importing numpy at module level and TensorFlow only inside
`run_tf`. Every module of the package is imported when a name is not yet known.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

from keras_gen.errors import KerasGenError

_SAMPLERS: dict[str, type] = {}
DIRECT = "direct"  # the manifest's sampler for models sampled by one network call, generate(**inputs)


class Sampler:
    """Base class: a small object with a JSON config and the loop in numpy and in TF."""

    name = ""

    def __init__(self, **config):
        self.config = dict(config)

    def get_config(self) -> dict:
        return dict(self.config)

    def option_specs(self) -> list:
        """The sampler's own request options (keras_gen.inputs.option), e.g. steps or guidance."""
        return []

    @staticmethod
    def step_noise(n: int, shape, seed: int, step: int):
        """N(0, 1) noise (n, *shape) for loop step `step` (DDPM's z_t, PixelCNN's draws), numpy;
        from its own stream, so no step repeats another's numbers or a request input's."""
        from keras_gen.latents import SAMPLER_STREAM_BASE, gaussian_latents

        size = int(np.prod(shape))
        return gaussian_latents(n, size, seed, SAMPLER_STREAM_BASE + int(step)).reshape(n, *shape)

    @staticmethod
    def step_noise_tf(n, shape, seed, step):
        """The same noise as `step_noise`, from TF ops; `step` may be the tf.while_loop counter."""
        import tensorflow as tf

        from keras_gen.latents import SAMPLER_STREAM_BASE, gaussian_latents_tf

        flat = gaussian_latents_tf(n, int(np.prod(shape)), seed, SAMPLER_STREAM_BASE + tf.cast(step, tf.int32))
        return tf.reshape(flat, tf.concat([[tf.cast(n, tf.int32)], list(shape)], axis=0))

    @staticmethod
    def step_uniforms(n: int, size: int, seed: int, step: int):
        """U(0, 1) draws (n, size) for loop step `step` (PixelCNN's Gumbel-max), numpy; from the
        same per-step stream as `step_noise`, which a sampler uses instead, never both."""
        from keras_gen.latents import SAMPLER_STREAM_BASE, _uniforms_np

        return _uniforms_np(int(n) * int(size), seed, SAMPLER_STREAM_BASE + int(step)).reshape(int(n), int(size))

    @staticmethod
    def step_uniforms_tf(n, size: int, seed, step):
        """The same uniforms as `step_uniforms`, from TF ops; `step` may be the loop counter."""
        import tensorflow as tf

        from keras_gen.latents import SAMPLER_STREAM_BASE, _uniforms_tf

        n = tf.cast(n, tf.int32)
        flat = _uniforms_tf(n * int(size), seed, SAMPLER_STREAM_BASE + tf.cast(step, tf.int32))
        return tf.reshape(flat, tf.stack([n, int(size)]))

    @staticmethod
    def report_tf(progress, done, total, after) -> None:
        """Inside a TF loop body: call `progress(done, total)` with Python ints once `after` (the
        step's result) is computed; a stateful py_function, which tf.function's automatic control
        dependencies run in every iteration. Nothing when `progress` is None."""
        if progress is None:
            return
        import tensorflow as tf

        with tf.control_dependencies([after]):
            tf.py_function(lambda d, t: progress(int(d), int(t)), [tf.cast(done, tf.int32), tf.cast(total, tf.int32)],
                           [])

    def run_numpy(self, network, inputs: dict, n: int, seed: int, progress=None):
        raise NotImplementedError(f"{type(self).__name__}.run_numpy")

    def run_tf(self, network, inputs: dict, n, seed, progress=None):
        raise NotImplementedError(f"{type(self).__name__}.run_tf")


def register_sampler(cls: type) -> type:
    """Class decorator: make `cls` findable by its `name` (which the manifest records)."""
    if not cls.name:
        raise KerasGenError(f"{cls.__name__} needs a non-empty `name` to be registered.")
    _SAMPLERS[cls.name] = cls
    return cls


def get_sampler(name: str, config: dict | None = None) -> Sampler:
    """The sampler registered under `name`, built from its config."""
    if name not in _SAMPLERS:
        for module in pkgutil.iter_modules(__path__, prefix=__name__ + "."):
            importlib.import_module(module.name)
    if name not in _SAMPLERS:
        raise KerasGenError(
            f"unknown sampler {name!r} (known: {', '.join(sorted(_SAMPLERS)) or 'none'}). The export was made by a "
            "keras-gen with more samplers than this one: upgrade keras-gen."
        )
    return _SAMPLERS[name](**(config or {}))


def takes_progress(sampler) -> bool:
    """Whether `sampler`'s loops take `progress` (a sampler written before it existed does not)."""
    import inspect

    return sampler is not None and all("progress" in inspect.signature(getattr(sampler, name)).parameters
                                       for name in ("run_numpy", "run_tf"))


def sample_with_progress(model, n: int, seed: int, conditions: dict, progress) -> np.ndarray:
    """A loop model's `sample(n, seed, **conditions)` with `progress(done, total)` called after
    each step: float [-1, 1] from a Keras model (its tf.while_loop, as `model.sample`), uint8 from
    an edge model (keras_gen.edge.EdgeModel: the numpy loop over its session). Same images as
    `model.sample`; the progress call is the only difference."""
    from keras_gen import inputs as kinds

    if hasattr(model, "run_network"):  # EdgeModel: numpy over onnxruntime, no TensorFlow
        from keras_gen.images import to_uint8

        n, seed = kinds.check_request(n, seed)
        values = kinds.resolve_inputs(model.input_specs, n, seed, conditions)
        return to_uint8(model.sampler.run_numpy(model.run_network, values, n, seed, progress=progress))
    import tensorflow as tf

    values = kinds.resolve_inputs(model.request_specs(), n, seed, conditions)
    sampler = model.sampler()
    loop = tf.function(lambda v, n, seed: sampler.run_tf(lambda feeds: model.network(**feeds), v, n, seed,
                                                         progress=progress))
    return np.asarray(loop({k: tf.constant(v) for k, v in values.items()}, tf.constant(n, tf.int32),
                           tf.constant(seed, tf.int64)))
