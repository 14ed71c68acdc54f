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
