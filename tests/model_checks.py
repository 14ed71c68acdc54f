"""Checks every model family runs on itself (after keras-hub's test_case helpers):
config round trip, `.keras` save -> safe load -> same outputs and same optimizer state.
"""

from __future__ import annotations

import io
import json
import sys
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np

LAYOUTS = Path(__file__).with_name("checkpoint_layouts.json")


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


def checkpoint_layout(path) -> list[str]:
    """Every weight a .keras checkpoint holds, as "h5 path, shape, dtype" lines, sorted: where
    loading looks for each variable."""
    import h5py

    with zipfile.ZipFile(path) as archive:
        store = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        items = []
        store.visititems(lambda key, value: items.append(
            f"{key} {'x'.join(map(str, value.shape)) or 'scalar'} {value.dtype}") if isinstance(value, h5py.Dataset)
            else None)
    return sorted(items)


def assert_checkpoint_layout_kept(name: str, path) -> None:
    """The harness checkpoint of model `name` holds the weights, at the paths, shapes and dtypes,
    that its checkpoints held when the layout was recorded: checkpoints saved before a change
    still load after it. A new model's layout is recorded with
    `python -m tests.model_checks NAME ...` (run it when adding a model); a change that moves a
    model's weights needs `options_added_later` so old configs rebuild the old layout."""
    recorded = json.loads(LAYOUTS.read_text())
    assert name in recorded, (f"no recorded checkpoint layout for {name!r}: record it with "
                              f"`python -m tests.model_checks {name}` and commit tests/checkpoint_layouts.json")
    layout = checkpoint_layout(path)
    missing, new = sorted(set(recorded[name]) - set(layout)), sorted(set(layout) - set(recorded[name]))
    assert not missing and not new, (f"{name}'s checkpoint layout changed, so checkpoints saved before no longer "
                                     f"load: missing {missing[:5]}, new {new[:5]}")


def _record_layouts(names) -> None:
    """Write into LAYOUTS the checkpoint layout of each model named, as the harness checks it: its
    CLI run's trained model saved again (test helper CLI)."""
    import tempfile

    from keras_gen.runs import load_run
    from tests import test_model_harness as harness

    recorded = json.loads(LAYOUTS.read_text()) if LAYOUTS.exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        flags = harness.write_data_flags(root)
        for name in names:
            model, _ = load_run(harness.train_harness_runs(name, root / name, flags)[0])
            model.save(root / f"{name}.keras")
            recorded[name] = checkpoint_layout(root / f"{name}.keras")
            print(f"{name}: {len(recorded[name])} weights")
    LAYOUTS.write_text(json.dumps(dict(sorted(recorded.items())), indent=1) + "\n")


if __name__ == "__main__":
    _record_layouts(sys.argv[1:])
