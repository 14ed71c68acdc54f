"""Sampling loops that call a network many times (diffusion, PixelCNN), written for two runtimes.

ONNX holds one network evaluation, not a loop of them. A model that samples iteratively exports
its network (the `onnx=True` endpoint) and names a `Sampler`; the loop is written twice, as the
latents are (keras_gen/core/latents.py and keras_gen/core_tf/latents.py):

    run_numpy(network, inputs, n, seed)   numpy over any callable, e.g. an onnxruntime session:
                                          the edge runner drives it, without TensorFlow (here)
    run_tf(network, inputs, n, seed)      TF ops with tf.while_loop: the SavedModel's `sample`
                                          endpoint and the Keras model's own `sample`; each
                                          sampler's twin in keras_gen/core_tf/samplers.py, a
                                          subclass of the class here that adds `run_tf`

Both take an optional `progress(done, total)`, called once after each step of the loop (the
CLI's progress bar, `keras_gen.samplers.sample_with_progress`); in TF it is a `tf.py_function`
inside the loop body, a side effect that changes no numbers, and the exported loop never has one.

`network(feeds: dict) -> dict` takes the network endpoint's inputs by name and returns its
outputs by name. `inputs` holds the request's resolved inputs (keras_gen.core.inputs.resolve_inputs:
random draws, labels, the sampler's options). Both loops must give the same images for the same
request; the export's parity check and the shared model harness hold them equal.

A sampler is found by name (`get_sampler`) from the manifest, so the edge runner needs nothing
but this package; a family adds its sampler as a module here (keras_gen/core/samplers/ddim.py),
registered with `@register_sampler` and free of TensorFlow, and its `run_tf` to
keras_gen/core_tf/samplers.py. Every module of the package is imported when a name is not yet
known.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import to_uint8
from keras_gen.core.latents import SAMPLER_STREAM_BASE, _uniforms_np, gaussian_latents

_SAMPLERS: dict[str, type] = {}
DIRECT = "direct"  # the manifest's sampler for models sampled by one network call, generate(**inputs)


class Sampler:
    """Base class: a small object with a JSON config and the loop in numpy (its TF twin adds the
    loop in TF: keras_gen.core_tf.samplers.Sampler)."""

    name = ""

    def __init__(self, **config):
        self.config = dict(config)

    def get_config(self) -> dict:
        return dict(self.config)

    def option_specs(self) -> list:
        """The sampler's own request options (keras_gen.core.inputs.option), e.g. steps or guidance."""
        return []

    @staticmethod
    def step_noise(n: int, shape, seed: int, step: int):
        """N(0, 1) noise (n, *shape) for loop step `step` (DDPM's z_t, PixelCNN's draws), numpy;
        from its own stream, so no step repeats another's numbers or a request input's."""
        size = int(np.prod(shape))
        return gaussian_latents(n, size, seed, SAMPLER_STREAM_BASE + int(step)).reshape(n, *shape)

    @staticmethod
    def step_uniforms(n: int, size: int, seed: int, step: int):
        """U(0, 1) draws (n, size) for loop step `step` (PixelCNN's Gumbel-max), numpy; from the
        same per-step stream as `step_noise`, which a sampler uses instead, never both."""
        return _uniforms_np(int(n) * int(size), seed, SAMPLER_STREAM_BASE + int(step)).reshape(int(n), int(size))

    def run_numpy(self, network, inputs: dict, n: int, seed: int, progress=None):
        raise NotImplementedError(f"{type(self).__name__}.run_numpy")


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
    """Whether `sampler`'s loops take `progress` (a sampler written before it existed does not):
    `run_numpy`, and `run_tf` where the sampler is a two-runtime one."""
    import inspect

    return sampler is not None and all("progress" in inspect.signature(getattr(sampler, name)).parameters
                                       for name in ("run_numpy", "run_tf") if hasattr(sampler, name))


def sample_numpy_with_progress(model, n: int, seed: int, conditions: dict, progress) -> np.ndarray:
    """An edge model's samples (keras_gen.core.edge.EdgeModel, or anything with its `run_network`,
    `input_specs` and `sampler`) from its numpy loop over the session, with `progress(done, total)`
    called after each step: uint8, the same images as `model.sample`."""
    n, seed = kinds.check_request(n, seed)
    values = kinds.resolve_inputs(model.input_specs, n, seed, conditions)
    return to_uint8(model.sampler.run_numpy(model.run_network, values, n, seed, progress=progress))
