"""The model of docs/adding-a-model.md is a working model that needs no edit outside its two files."""

import re
import shutil
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
def readme_model():
    """The page's example written into keras_gen/models/ as a new family folder (its
    `__init__.py` registration and its model file), then removed."""
    files = example_files()
    assert sorted(files) == ["keras_gen/models/moments/__init__.py", "keras_gen/models/moments/gmmn.py"], sorted(files)
    folder = REPO / "keras_gen" / "models" / "_readme_family"  # not the page's name: no clash with a real family
    folder.mkdir()
    (folder / "__init__.py").write_text(files["keras_gen/models/moments/__init__.py"])
    (folder / "gmmn.py").write_text(files["keras_gen/models/moments/gmmn.py"])
    registry._loaded = False  # discover families again, as a fresh process would
    try:
        yield folder
    finally:
        shutil.rmtree(folder)
        spec = registry._REGISTRY.pop("gmmn", None)
        if spec is not None:
            registry._BY_TARGET.pop(spec.target, None)
        for module in [m for m in sys.modules if m.startswith("keras_gen.models._readme_family")]:
            del sys.modules[module]


def test_the_readme_model_trains_samples_and_exports_with_no_other_edit(readme_model, tmp_path, capsys):
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
