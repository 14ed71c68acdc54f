"""Helpers shared by tests/export and tests/serving: a small DCGAN with a trained-like output range."""

import numpy as np

LATENT_DIM = 16


def spread_generator_weights(model, seed: int = 0) -> None:
    """Give an untrained DCGAN's generator a trained-like output range.

    DCGAN's N(0, 0.02) initialisation and fresh batch-norm statistics give outputs within
    +-0.005, so every runtime would agree trivially. He-scaled kernels and non-trivial
    batch-norm statistics spread the outputs over [-1, 1] (std ~0.4), which is what parity and
    the uint8 rounding checks need to mean something.
    """
    rng = np.random.default_rng(seed)
    for v in model.generator.weights:
        shape, path = tuple(v.shape), v.path
        if path.endswith("kernel"):
            fan_in = np.prod(shape[:2]) * shape[-1] / 4  # transposed conv (k, k, out, in), stride 2
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif path.endswith("moving_variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif path.endswith("moving_mean"):
            value = rng.normal(0.0, 0.2, shape)
        elif path.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        else:  # beta, bias
            value = rng.normal(0.0, 0.1, shape)
        v.assign(value.astype("float32"))


def build_dcgan(image_size: int, channels: int, seed: int = 0):
    from keras_gen import registry

    model = registry.build("dcgan", image_size=image_size, channels=channels, latent_dim=LATENT_DIM, base_filters=8)
    spread_generator_weights(model, seed)
    return model


TRAINING_INFO = {"data": "digits", "steps": 0, "epochs": 0, "seed": 0}
