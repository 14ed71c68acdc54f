"""The notebook runs top to bottom (with tiny settings) and shows what it claims."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "dcgan.ipynb"


def test_dcgan_notebook_runs_top_to_bottom(tmp_path, monkeypatch, digits_classifier_cache):
    monkeypatch.setenv("KG_NB_EPOCHS", "1")
    monkeypatch.setenv("KG_NB_STEPS", "2")
    monkeypatch.setenv("KG_NB_EVAL_N", "150")
    monkeypatch.setenv("KG_NB_WORK", str(tmp_path))
    monkeypatch.setenv("KERAS_GEN_CACHE", str(digits_classifier_cache))  # reuse the session's classifier
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "Traceback" not in outputs
    assert "max difference to Keras: 0" in outputs or "max difference to Keras: 1" in outputs
    assert "floor (test vs train)" in outputs
    images = sum(1 for cell in nb.cells for out in cell.get("outputs", []) if "image/png" in out.get("data", {}))
    assert images >= 4  # real digits, samples, interpolation, onnx grid
    assert (tmp_path / "exports" / "dcgan-digits" / "1" / "model.onnx").is_file()


LATENT_NOTEBOOK = NOTEBOOK.parent / "latent_models.ipynb"


def test_latent_models_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("KG_NB_EPOCHS", "2")
    monkeypatch.setenv("KG_NB_STEPS", "2")
    monkeypatch.setenv("KG_NB_EVAL_N", "40")
    monkeypatch.setenv("KG_NB_WORK", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    nb = nbformat.read(LATENT_NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "Traceback" not in outputs
    # section 1: the mean has the lowest expected squared error and the median the lowest absolute error
    rows = {line[:22].strip(): line[22:].split() for line in outputs.splitlines()
            if line.startswith(("mean (MSE-optimal)", "median (MAE-optimal)", "one real outcome"))}
    mse = {name: float(values[0]) for name, values in rows.items()}
    mae = {name: float(values[1]) for name, values in rows.items()}
    assert min(mse, key=mse.get) == "mean (MSE-optimal)" and min(mae, key=mae.get) == "median (MAE-optimal)"
    for expected in ("active units", "perplexity", "PixelCNN (exact)", "independent pixels", "samples/s"):
        assert expected in outputs, expected
    images = sum(1 for cell in nb.cells for out in cell.get("outputs", []) if "image/png" in out.get("data", {}))
    assert images >= 9  # real, optimal predictions, reconstructions, prior samples, traversal, manifold, codes,
    # VQ rows, samples
