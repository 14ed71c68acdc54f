"""What every model family shares: the export contract and seeded sampling.

A family subclasses `GenerativeModel`, builds its sub-networks in `__init__`, writes
`compile`/`train_step`/`get_config`, and says what to deploy through `export_endpoints()`.
The export stage (export/) and the CLI know nothing else about a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np

from keras_gen.latents import gaussian_latents


@dataclass
class Endpoint:
    """One named, deployable function with a fixed input signature.

    `fn` takes tensors in the order of `input_signature` and returns a dict of named outputs.
    The endpoint marked `onnx=True` is the plain network converted to `model.onnx`; its outputs
    are float and are the ones compared for parity (Keras vs SavedModel vs onnxruntime).
    """

    fn: Callable
    input_signature: list  # list[tf.TensorSpec], each with a name
    description: str
    onnx: bool = False
    output_ranges: dict = field(default_factory=dict)  # output name -> [lo, hi]


class GenerativeModel(keras.Model):
    """Base class: subclasses implement `export_endpoints`, `parity_inputs` and `export_metadata`."""

    # -- exact resume: Keras saves layer variables but not SeedGenerator states ---------------
    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, generator in enumerate(self._seed_generators):
            store[f"seed_generator_{i}"] = generator.state

    def load_own_variables(self, store):
        keys = [k for k in store.keys() if not k.startswith("seed_generator_")]
        super().load_own_variables({k: store[k] for k in keys})
        for i, generator in enumerate(self._seed_generators):
            if f"seed_generator_{i}" in store:
                generator.state.assign(store[f"seed_generator_{i}"])

    def export_endpoints(self) -> dict[str, Endpoint]:
        """Named endpoints; one of them must be `serving_default`, one must have `onnx=True`."""
        raise NotImplementedError(f"{type(self).__name__} does not define export_endpoints()")

    def parity_inputs(self, n: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
        """Random inputs for the ONNX endpoint, keyed by input name, for the parity check."""
        raise NotImplementedError(f"{type(self).__name__} does not define parity_inputs()")

    def export_metadata(self) -> dict:
        """Facts the manifest records and edge runtimes need (e.g. latent_dim, image shape)."""
        raise NotImplementedError(f"{type(self).__name__} does not define export_metadata()")

    def sample(self, n: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
        """`n` images as float32 [-1, 1] numpy, the same for the same seed.

        Latent-variable models (those with `latent_dim` and `generate(z)`) get this for free:
        latents come from `keras_gen.latents.gaussian_latents`, as on every export path.
        """
        if getattr(self, "latent_dim", None) is None or not hasattr(self, "generate"):
            raise NotImplementedError(f"{type(self).__name__} does not define sample()")
        z = gaussian_latents(n, self.latent_dim, seed)
        chunks = [np.asarray(self.generate(z[i : i + batch_size])) for i in range(0, n, batch_size)]
        return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, *self.image_shape), np.float32)
