"""Checks every model family runs on itself (after keras-hub's test_case helpers):
config round trip, `.keras` save -> safe load -> same outputs and same optimizer state.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np


def run_serialization_test(model):
    """get_config -> from_config rebuilds a model with the same config."""
    config = model.get_config()
    rebuilt = type(model).from_config(config)
    assert rebuilt.get_config() == config
    return rebuilt


def run_model_saving_test(model, tmp_path, inputs, generate=None):
    """Save to .keras, load with safe_mode=True, and compare outputs, optimizer slots and RNG state.

    Raises on any "Skipping variable loading" warning: Keras only warns when a checkpoint
    fails to restore an optimizer, and resume would silently restart its moments.
    """
    generate = generate or (lambda m, x: m.generate(x))
    path = tmp_path / "model.keras"
    model.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(path, safe_mode=True)
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    assert not skipped, skipped
    np.testing.assert_allclose(np.asarray(generate(model, inputs)), np.asarray(generate(loaded, inputs)), atol=1e-6)
    for name in ("g_optimizer", "d_optimizer", "optimizer"):
        original = getattr(model, name, None)
        if original is not None and getattr(original, "variables", None):
            restored = getattr(loaded, name)
            assert len(original.variables) == len(restored.variables)
            for a, b in zip(original.variables, restored.variables):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(model._seed_generators, loaded._seed_generators):
        np.testing.assert_array_equal(np.asarray(a.state), np.asarray(b.state))
    return loaded
