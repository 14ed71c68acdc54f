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
    assert_same_training_state(model, loaded)
    return loaded


def assert_same_training_state(a, b):
    """Bit for bit: every variable, every optimizer's variables (by name), every seed generator.
    `strict=True` everywhere: an optimizer restored with no variables must not pass."""
    for x, y in zip(a.variables, b.variables, strict=True):  # same order; names carry instance counters
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=x.path)
    assert sorted(a.optimizers) == sorted(b.optimizers) and a.optimizers, "no optimizers to compare"
    for name in a.optimizers:
        va, vb = a.optimizers[name].variables, b.optimizers[name].variables
        assert len(va) > 1, f"optimizer {name} holds no slots"
        for x, y in zip(va, vb, strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=f"{name}: {x.path}")
    sa, sb = a._named_seed_generators(), b._named_seed_generators()
    assert sorted(sa) == sorted(sb) and sa
    for key in sa:
        np.testing.assert_array_equal(np.asarray(sa[key].state), np.asarray(sb[key].state), err_msg=key)
