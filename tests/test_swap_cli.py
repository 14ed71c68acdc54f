"""`keras-gen swap` on a faceswap run (Keras) and its export (onnxruntime: the swap endpoints'
own ONNX files, parity-checked at export), and the errors a user can cause. A tiny faceswap
trained for two steps on 16 px squares; seconds."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_gen.cli import main
from keras_gen.images import save_image, to_uint8

SET = ["--set", "code_dim=8", "--set", "filters=4", "--set", "downsamplings=2"]


def _square(rng, hollow, size=16):
    x = np.zeros((size, size, 1), np.uint8)
    r, c = rng.integers(0, size - 8, 2)
    x[r:r + 8, c:c + 8] = 255
    if hollow:
        x[r + 2:r + 6, c + 2:c + 6] = 0
    return x


@pytest.fixture(scope="module")
def faceswap(tmp_path_factory):
    """(root, run, export version dir): faceswap trained 2 steps on folders A (filled squares) and
    B (hollow ones), then exported."""
    root = tmp_path_factory.mktemp("swap")
    rng = np.random.default_rng(0)
    for domain, hollow in (("A", False), ("B", True)):
        for i in range(8):
            save_image(_square(rng, hollow), root / domain / f"{i}.png")
    save_image(np.full((40, 30, 3), 200, np.uint8), root / "big.png")  # another size and channel count
    assert main(["train", "faceswap", "--data", str(root / "A"), "--data-b", str(root / "B"), "--out",
                 str(root / "run"), "--image-size", "16", "--epochs", "1", "--steps-per-epoch", "2",
                 "--batch-size", "4", *SET]) == 0
    assert main(["export", str(root / "run"), "--out", str(root / "exports")]) == 0
    return root, root / "run", root / "exports" / "faceswap" / "1"


def _keras_swap(run, images_uint8, to):
    from keras_gen.runs import load_run

    model, _ = load_run(run)
    return to_uint8(np.asarray(model.swap(images_uint8.astype("float32") / 127.5 - 1.0, to)))


def test_swap_on_a_run_writes_input_output_pairs(faceswap, tmp_path, capsys):
    from keras_gen.image_endpoints import load_inputs

    root, run, _ = faceswap
    capsys.readouterr()
    assert main(["swap", str(run), "--input", str(root / "A"), str(root / "big.png"), "--to", "b",
                 "--out", str(tmp_path / "grid.png")]) == 0
    out = capsys.readouterr().out
    assert "resized 1 of 9 input(s) to 16x16" in out and "swap_a_to_b" in out
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    # 9 pairs, 4 a row: 8 columns, 3 rows of 16 px cells with 2 px padding, enlarged 4x
    assert grid.shape == (4 * (3 * 18 + 2), 4 * (8 * 18 + 2))
    files = sorted((root / "A").iterdir()) + [root / "big.png"]
    images, resized = load_inputs(files, (16, 16, 1))
    assert resized == [root / "big.png"]
    swapped = _keras_swap(run, images, "b")
    cell = lambda i: grid[4 * (2 + (i // 8) * 18):4 * (2 + (i // 8) * 18 + 16):4, 4 * (2 + (i % 8) * 18)::4][:, :16]  # noqa: E731
    for k in (0, 3, 8):  # pair k: input at cell 2k, the swap at cell 2k + 1
        np.testing.assert_array_equal(cell(2 * k), images[k, ..., 0])
        np.testing.assert_array_equal(cell(2 * k + 1), swapped[k, ..., 0])


def test_swap_to_a_folder_writes_one_file_per_input_and_endpoint_is_the_same(faceswap, tmp_path):
    root, run, _ = faceswap
    assert main(["swap", str(run), "--input", str(root / "B" / "0.png"), str(root / "B" / "1.png"), "--to", "a",
                 "--out", str(tmp_path / "out") + "/"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png"]
    assert main(["swap", str(run), "--input", str(root / "B" / "0.png"), "--endpoint", "swap_b_to_a",
                 "--out", str(tmp_path / "again") + "/"]) == 0
    first = np.asarray(Image.open(tmp_path / "out" / "0.png"))
    np.testing.assert_array_equal(first, np.asarray(Image.open(tmp_path / "again" / "0.png")))
    expected = _keras_swap(run, np.asarray(Image.open(root / "B" / "0.png"))[None, ..., None], "a")
    np.testing.assert_array_equal(first, expected[0, ..., 0])


def test_swap_endpoints_are_onnx_files_with_parity_and_run_on_the_edge(faceswap, tmp_path):
    from keras_gen.edge import EdgeModel
    from keras_gen.image_endpoints import load_inputs

    root, run, version = faceswap
    manifest = json.loads((version / "manifest.json").read_text())
    assert sorted(manifest["edge_endpoints"]) == ["swap_a_to_b", "swap_b_to_a"]
    assert {"swap_a_to_b.onnx", "swap_b_to_a.onnx"} <= set(manifest["files"])
    for name in ("swap_a_to_b", "swap_b_to_a"):
        for pair, diff in manifest["parity"]["endpoints"][name]["images"].items():
            assert diff <= 1, (name, pair, diff)
    edge = EdgeModel.from_path(version)
    assert edge.endpoint_names == ["swap_a_to_b", "swap_b_to_a"]
    images, _ = load_inputs(sorted((root / "A").iterdir()), (16, 16, 1))
    out = edge.run_endpoint("swap_a_to_b", image=images)["images"]
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - _keras_swap(run, images, "b").astype(int)).max() <= 1
    with pytest.raises(Exception, match="sampling endpoints run through generate"):
        edge.run_endpoint("generate", image=images)

    # The CLI on the export: onnxruntime only, no TensorFlow import.
    code = ("import sys; from keras_gen.cli import main; "
            f"rc = main(['swap', {str(version.parent)!r}, '--input', {str(root / 'A')!r}, '--to', 'b', "
            f"'--out', {str(tmp_path / 'edge.png')!r}]); print(rc, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout + done.stderr
    assert "onnxruntime" in done.stdout
    edge_grid = np.asarray(Image.open(tmp_path / "edge.png"))
    main(["swap", str(run), "--input", str(root / "A"), "--to", "b", "--out", str(tmp_path / "keras.png")])
    assert np.abs(edge_grid.astype(int) - np.asarray(Image.open(tmp_path / "keras.png")).astype(int)).max() <= 1


def _error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_swap_errors_are_one_line_and_exit_2(faceswap, tmp_path, capsys):
    root, run, version = faceswap
    img = str(root / "A" / "0.png")
    assert "does not exist" in _error(capsys, ["swap", str(run), "--input", str(tmp_path / "no.png"), "--to", "b"])
    (tmp_path / "empty").mkdir()
    assert "no images" in _error(capsys, ["swap", str(run), "--input", str(tmp_path / "empty"), "--to", "b"])
    assert "--to must be a or b" in _error(capsys, ["swap", str(run), "--input", img, "--to", "c"])
    assert "--to must be a or b" in _error(capsys, ["swap", str(version), "--input", img, "--to", "c"])
    assert "pass --to a|b" in _error(capsys, ["swap", str(run), "--input", img])
    assert "pass --to a|b" in _error(capsys, ["swap", str(run), "--input", img, "--to", "b", "--endpoint", "x"])
    assert "no image-to-image endpoint 'generate'" in _error(
        capsys, ["swap", str(run), "--input", img, "--endpoint", "generate"])
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert "Cannot read image" in _error(capsys, ["swap", str(run), "--input", str(tmp_path / "bad.png"), "--to", "b"])
    assert "grid image" in _error(capsys, ["swap", str(run), "--input", img, "--to", "b", "--out", "x.npz"])


def test_a_model_without_swap_endpoints_is_refused(faceswap, tmp_path, capsys):
    root, _, _ = faceswap
    assert main(["train", "autoencoder", "--data", str(root / "A"), "--out", str(tmp_path / "ae"), "--image-size",
                 "16", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4", *SET]) == 0
    err = _error(capsys, ["swap", str(tmp_path / "ae"), "--input", str(root / "A"), "--to", "b"])
    assert "swap works with faceswap runs and exports; autoencoder has no swap endpoints" in err
