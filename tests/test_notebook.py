"""The notebooks run top to bottom (with tiny settings), show what they claim, and are committed with the
outputs of one full run."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "dcgan.ipynb"


def run_notebook(path: Path, work: Path, monkeypatch, timeout: int, **settings) -> tuple[str, int]:
    """Execute `path` top to bottom with KG_NB_* `settings` (work dir `work`); return its printed
    text and how many images it showed. A cell that raises fails the test."""
    for name, value in {"KG_NB_WORK": work, "CUDA_VISIBLE_DEVICES": "", **settings}.items():
        monkeypatch.setenv(name, str(value))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    text = "\n".join(out.get("text", "") for out in outputs)
    assert "Traceback" not in text
    return text, sum(1 for out in outputs if "image/png" in out.get("data", {}))


def test_dcgan_notebook_runs_top_to_bottom(tmp_path, monkeypatch, digits_classifier_cache):
    outputs, images = run_notebook(NOTEBOOK, tmp_path, monkeypatch, timeout=300, KG_NB_EPOCHS=1, KG_NB_STEPS=2,
                                   KG_NB_EVAL_N=150,
                                   KERAS_GEN_CACHE=digits_classifier_cache)  # reuse the session's classifier
    assert "max difference to Keras: 0" in outputs or "max difference to Keras: 1" in outputs
    assert "floor (test vs train)" in outputs
    assert images >= 4  # real digits, samples, interpolation, onnx grid
    assert (tmp_path / "exports" / "dcgan-digits" / "1" / "model.onnx").is_file()


LATENT_NOTEBOOK = NOTEBOOK.parent / "latent_models.ipynb"


def test_latent_models_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    outputs, images = run_notebook(LATENT_NOTEBOOK, tmp_path, monkeypatch, timeout=600, KG_NB_EPOCHS=1, KG_NB_STEPS=2,
                                   KG_NB_EVAL_N=40, KG_NB_SIZE=8, KG_NB_FILTERS=8,
                                   KG_NB_PIXELCNN_LAYERS=2, KG_NB_PRIOR_LAYERS=2)  # 2 gated blocks: less to trace
    # section 1: the mean has the lowest expected squared error and the median the lowest absolute error
    rows = {line[:22].strip(): line[22:].split() for line in outputs.splitlines()
            if line.startswith(("mean (MSE-optimal)", "median (MAE-optimal)", "one real outcome"))}
    mse = {name: float(values[0]) for name, values in rows.items()}
    mae = {name: float(values[1]) for name, values in rows.items()}
    assert min(mse, key=mse.get) == "mean (MSE-optimal)" and min(mae, key=mae.get) == "median (MAE-optimal)"
    for expected in ("active units", "perplexity", "PixelCNN (exact)", "independent pixels", "samples/s"):
        assert expected in outputs, expected
    assert images >= 9  # real, optimal predictions, reconstructions, prior samples, traversal, manifold, codes,
    # VQ rows, samples


GANS_NOTEBOOK = NOTEBOOK.parent / "gans.ipynb"


def test_gans_notebook_runs_top_to_bottom(tmp_path, monkeypatch, digits_classifier_cache):
    outputs, images = run_notebook(GANS_NOTEBOOK, tmp_path, monkeypatch, timeout=300, KG_NB_EPOCHS=1, KG_NB_STEPS=2,
                                   KG_NB_EVAL_N=150, KG_NB_D_STEPS=2, KG_NB_CRITIC_STEPS=2,
                                   KERAS_GEN_CACHE=digits_classifier_cache)
    # section 1: per logit, the minimax gradient is s(l) and the non-saturating one 1 - s(l), whatever was trained
    table = [line.split() for line in outputs.splitlines()[outputs.splitlines().index(
        next(line for line in outputs.splitlines() if "|dL/dl| minimax" in line)) + 1:][:6]]
    for d_fake, minimax, non_saturating, _ in table:
        assert abs(float(minimax) - float(d_fake)) <= 1e-2 * float(d_fake)
        assert abs(float(non_saturating) - (1 - float(d_fake))) <= 1e-2
    for expected in ("||grad G|| minimax", "critic value", "JS estimate", "entropy", "ADA p", "held-out real"):
        assert expected in outputs, expected
    assert images >= 8  # real digits, 3 x samples, 3 x by-class grids, augmented views


def test_style_and_texture_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    outputs, images = run_notebook(NOTEBOOK.parent / "style_and_texture.ipynb", tmp_path, monkeypatch, timeout=300,
                                   KG_NB_SIZE=32, KG_NB_STEPS=2, KG_NB_VGG_WEIGHTS="hed")  # offline weights
    for expected in ("weights: hed", "tiles shuffled", "beta/alpha", "Efros-Leung", "relative feature error"):
        assert expected in outputs, expected
    assert images == 5


DIFFUSION_NOTEBOOK = NOTEBOOK.parent / "diffusion.ipynb"


def test_diffusion_notebook_runs_top_to_bottom(tmp_path, monkeypatch, digits_classifier_cache):
    outputs, images = run_notebook(DIFFUSION_NOTEBOOK, tmp_path, monkeypatch, timeout=600, KG_NB_EPOCHS=1,
                                   KG_NB_STEPS=2, KG_NB_T=10, KG_NB_FILTERS=8, KG_NB_EVAL_N=150,
                                   # two U-Net levels, not three: still a down- and an upsampling, attention
                                   # at 8 px; the graphs the run traces (train step, sampling loops) halve
                                   KG_NB_MULTIPLIERS="1,2",
                                   KERAS_GEN_CACHE=digits_classifier_cache)  # reuse the session's classifier
    # the forward process keeps less of the digit as t grows, under both schedules
    signals = [[float(v) for v in line.split(":")[1].split()] for line in outputs.splitlines()
               if line.startswith(("linear  sqrt(abar_t):", "cosine  sqrt(abar_t):"))]
    assert len(signals) == 2
    for signal in signals:
        assert signal == sorted(signal, reverse=True) and signal[0] > 0.95 and signal[-1] < 0.05
    for expected in ("DDPM-10", "DDIM-5", "floor (test vs train)", "label acc", "within-class distance"):
        assert expected in outputs, expected
    assert images >= 5  # real digits, forward process, predictions, samplers, guidance


IMAGE_TO_IMAGE_NOTEBOOK = NOTEBOOK.parent / "image_to_image.ipynb"


def test_image_to_image_notebook_runs_top_to_bottom(tmp_path, monkeypatch, digits_classifier_cache):
    outputs, images = run_notebook(IMAGE_TO_IMAGE_NOTEBOOK, tmp_path, monkeypatch, timeout=600, KG_NB_SIZE=16,
                                   KG_NB_EPOCHS=1, KG_NB_STEPS=2, KG_NB_FILTERS=8, KG_NB_BLOCKS=1, KG_NB_EDGES=2,
                                   KG_NB_DEPTH=2, KG_NB_DOWNSAMPLINGS=1,  # shallower generators: less to trace
                                   KERAS_GEN_CACHE=digits_classifier_cache)  # reuse the session's classifier
    # section 2: whatever was trained, the L1- and L2-optimal outputs are grayer than any real rendering
    saturation = {line[:20].strip(): float(line[20:]) for line in outputs.splitlines()
                  if line.startswith(("each rendering", "mean (L2-optimal)", "median (L1-optimal)"))}
    assert saturation["mean (L2-optimal)"] < saturation["median (L1-optimal)"] < saturation["each rendering"]
    for expected in ("sharpness / real", "stride-2 layers, patch  70 px", "D's mean probability", "digit kept",
                     "without it"):
        assert expected in outputs, expected
    assert "max difference to Keras: 0 uint8" in outputs or "max difference to Keras: 1 uint8" in outputs
    assert images >= 8  # the three sets, the optima, Table 1's rows, D's patch maps, the cycle rows, the edge
    assert (tmp_path / "exports" / "cyclegan-digits" / "1" / "a_to_b.onnx").is_file()


RESTORATION_NOTEBOOK = NOTEBOOK.parent / "restoration.ipynb"


def test_restoration_notebook_runs_top_to_bottom(tmp_path, monkeypatch, digits_classifier_cache):
    outputs, images = run_notebook(RESTORATION_NOTEBOOK, tmp_path, monkeypatch, timeout=600, KG_NB_STEPS=2,
                                   KG_NB_EPOCHS=1, KG_NB_DDPM_STEPS_PER_EPOCH=2, KG_NB_DDPM_STEPS=3, KG_NB_N=2,
                                   KG_NB_PER_DIGIT=1,  # one RePaint loop traced, not four
                                   # a one-level U-Net: RePaint is the same loop over any network (the diffusion
                                   # notebook's test trains one that down- and upsamples)
                                   KG_NB_DDPM_MULTIPLIERS="1",
                                   KERAS_GEN_CACHE=digits_classifier_cache)  # reuse the session's classifier
    # the papers' measure: bicubic beats nearest
    psnr = {line.split()[0]: float(line.split()[2]) for line in outputs.splitlines()
            if line.startswith(("nearest ", "bicubic "))}
    assert psnr["bicubic"] > psnr["nearest"]
    # the mean of the possible images wins PSNR against a held-out one and loses on VGG features
    rows = {line[:28].strip(): [float(v) for v in line[28:].split()] for line in outputs.splitlines()
            if line.startswith(("the mean of the candidates", "candidate "))}
    mean, others = rows.pop("the mean of the candidates"), list(rows.values())
    assert len(others) == 3 and all(mean[0] > o[0] for o in others) and all(mean[1] > o[1] for o in others)
    # a transposed convolution starts with a checkerboard, sub-pixel with ICNR does not
    board = {line.split()[0]: float(line.split()[1]) for line in outputs.splitlines()
             if line.startswith(("transpose ", "resize ", "subpixel "))}
    assert board["subpixel"] < 1e-3 < board["transpose"]
    assert "known pixels kept exactly: yes" in outputs
    # the classifier's verdict where one is cached at the ddpm's size (the session's is at the digits' own)
    assert "read as the original class" in outputs or "no digits classifier" in outputs
    assert images == 4  # degradation, the mean, checkerboards, completions


DENSITY_NOTEBOOK = NOTEBOOK.parent / "density_text_editing.ipynb"


def test_density_text_editing_notebook_runs_top_to_bottom(tmp_path, monkeypatch, digits_classifier_cache):
    outputs, images = run_notebook(DENSITY_NOTEBOOK, tmp_path, monkeypatch, timeout=600, KG_NB_SIZE=8,
                                   KG_NB_EPOCHS=1, KG_NB_STEPS=2, KG_NB_AR_STEPS=2, KG_NB_FILTERS=4,
                                   KG_NB_OPT_STEPS=3, KG_NB_N=4,
                                   KERAS_GEN_CACHE=digits_classifier_cache)  # reuse the session's classifier
    lines = outputs.splitlines()
    # whatever was trained: a flow is a bijection, and its log-det is its Jacobian's
    assert "f^-1(f(x)) against x: max difference 0 grey levels" in outputs
    for line in [line for line in lines if "summed by the model" in line]:
        model_sum, measured = (line.split("summed by the model [")[1].split("]")[0].split(),
                               line.split("finite differences [")[1].split("]")[0].split())
        assert len(model_sum) == 2 and all(abs(float(a) - float(b)) < 0.02 for a, b in zip(model_sum, measured)), line
    # causality: no network sees a later pixel; the recurrent ones see more of the earlier ones than the
    # 3-layer PixelCNN, the Diagonal BiLSTM all of them (its border column, models/autoregressive/pixelrnn.py)
    seen = {line[:18].strip(): line for line in lines if "earlier pixels; later pixels seen" in line}
    assert len(seen) == 3 and all(line.endswith("later pixels seen: 0") for line in seen.values())
    counts = {name: int(line.split("sees")[1].split("of the")[0]) for name, line in seen.items()}
    assert counts["PixelCNN (gated)"] < counts["Row LSTM"] < counts["Diagonal BiLSTM"] == 12 * 16 + 8
    for expected in ("independent pixels", "PixelRNN (Row LSTM)", "x flow", "a large red circle",
                     "projection PSNR", "P(label + 1)", "colour constraint error", "sketch constraint error"):
        assert expected in outputs, expected
    assert images == 8  # temperatures, receptive fields, autoregressive samples, shapes, text, projections,
    # direction edits, drawn edits


NOTEBOOKS = sorted(NOTEBOOK.parent.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_committed_with_the_outputs_of_one_full_run(path):
    """A reader opening the file sees what a run shows (pictures included) without running it: every
    code cell ran once, top to bottom, in one kernel (notebooks/execute.py), and none raised."""
    nb = nbformat.read(path, as_version=4)
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1)), \
        f"{path.name}: not one run top to bottom: run `python notebooks/execute.py notebooks/{path.name}`"
    outputs = [out for cell in cells for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"], f"{path.name}: a cell raised"
    assert any("image/png" in out.get("data", {}) for out in outputs), f"{path.name}: no picture"
