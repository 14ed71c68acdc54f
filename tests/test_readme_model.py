"""The README's "Adding a model" file is a working model that needs no edit outside itself."""

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_gen import registry
from keras_gen.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def readme_model():
    """The README's example written into keras_gen/models/ as a new family folder (its
    `__init__.py` registration and its model file), then removed."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Adding a model"):text.index("\n## ", text.index("## Adding a model") + 1)]
    registration, code = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    folder = REPO / "keras_gen" / "models" / "_readme_family"
    folder.mkdir()
    (folder / "__init__.py").write_text(registration)
    (folder / "gmmn.py").write_text(code)
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
