"""The model of docs/adding-a-model.md is a working model that needs no edit outside its two files."""

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_gen import registry
from keras_gen.cli import main

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "adding-a-model.md"


def example_files() -> dict[str, str]:
    """The page's files: its ```python file=PATH blocks, by PATH."""
    return {path: text for path, text in re.findall(r"^```python file=(\S+)\n(.*?)^```", PAGE.read_text(), re.S | re.M)}


@pytest.fixture()
def readme_model(tmp_path, monkeypatch):
    """The page's example as a new family folder of keras_gen.models (its `__init__.py`
    registration and its model file), found by the registry's own discovery, then removed.

    The folder is written under tmp_path and that folder is put on keras_gen.models.__path__ in
    this process only: the registry lists and imports it exactly as a folder in keras_gen/models/
    (same package name, same pkgutil walk), while the shared source tree is never touched, so
    another process (the other xdist worker's `keras-gen models`) cannot see it, half-written or whole."""
    import keras_gen.models

    files = example_files()
    assert sorted(files) == ["keras_gen/models/moments/__init__.py", "keras_gen/models/moments/gmmn.py"], sorted(files)
    models_dir = tmp_path / "package" / "keras_gen" / "models"
    folder = models_dir / "_readme_family"  # not the page's name: no clash with a real family
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(files["keras_gen/models/moments/__init__.py"])
    (folder / "gmmn.py").write_text(files["keras_gen/models/moments/gmmn.py"])
    importlib.invalidate_caches()
    monkeypatch.setattr(keras_gen.models, "__path__", [*keras_gen.models.__path__, str(models_dir)])
    monkeypatch.setattr(registry, "_loaded", False)  # discover families again, as a fresh process would
    try:
        yield folder
    finally:
        spec = registry._REGISTRY.pop("gmmn", None)
        if spec is not None:
            registry._BY_TARGET.pop(spec.target, None)
        for module in [m for m in sys.modules if m.startswith("keras_gen.models._readme_family")]:
            del sys.modules[module]


def test_the_readme_model_trains_samples_and_exports_with_no_other_edit(readme_model, tmp_path, capsys):
    # found by the registry's walk of keras_gen.models, as a folder in the package would be
    assert "keras_gen.models._readme_family" in registry.family_packages()
    assert registry.get("gmmn").target == "keras_gen.models._readme_family.gmmn:GMMN"
    assert not (REPO / "keras_gen" / "models" / readme_model.name).exists()  # the shared tree is untouched
    assert "gmmn" in registry.names() and "gmmn" in [e["name"] for e in registry.catalog()]
    assert main(["models"]) == 0 and "gmmn" in capsys.readouterr().out
    assert main(["models", "gmmn"]) == 0 and "--set bandwidth=0.5" in capsys.readouterr().out
    run, exports = tmp_path / "run", tmp_path / "exports"
    flags = ["--image-size", "8", "--batch-size", "16", "--steps-per-epoch", "3", "--set", "hidden=16",
             "--set", "latent_dim=4"]
    assert main(["train", "gmmn", "--data", "digits", "--out", str(run), "--epochs", "2", *flags]) == 0
    from keras_gen.runs import load_run

    model, _ = load_run(run)
    history = [float(v) for v in __import__("json").loads((run / "state.json").read_text())["logs"].values()]
    assert all(np.isfinite(history))
    assert int(model.optimizers["generator"].iterations) == 6
    assert main(["export", str(run), "--out", str(exports)]) == 0
    assert main(["sample", str(exports / "gmmn"), "--n", "4", "--out", str(tmp_path / "s.npz")]) == 0
    edge = np.load(tmp_path / "s.npz")["images"]
    from keras_gen.images import to_uint8

    assert np.abs(edge.astype(int) - to_uint8(model.sample(4, seed=0)).astype(int)).max() <= 1
