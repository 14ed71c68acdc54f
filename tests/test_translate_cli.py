"""`keras-gen translate` on pix2pix and cyclegan trained from the CLI on the bundled sets: runs
(Keras) and exports (onnxruntime) give the same images at any size, and bad input is one line
with exit status 2."""

import numpy as np
import pytest
from PIL import Image

from keras_gen.cli import main
from keras_gen.images import save_image

TINY = ["--image-size", "16", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--set", "filters=4"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{model: (run, export)}: pix2pix on shapes_maps and cyclegan on digits_ink, trained through
    the CLI, cyclegan also exported (pix2pix's export equals its run in the harness, which samples
    the export on onnxruntime against Keras), and test images of each domain at sizes the networks
    must pad."""
    from keras_gen.data import translation_sets as ts

    root = tmp_path_factory.mktemp("translate")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_GEN_CACHE", str(root / "cache"))
        out = {}
        # cyclegan with 3 downsamplings takes 16 px and up: a 12 px image is refused at the edge too
        for model, data, extra in (("pix2pix", "shapes_maps", []),
                                   ("cyclegan", "digits_ink", ["--set", "blocks=1", "--set", "downsamplings=3"])):
            assert main(["train", model, "--data", data, "--out", str(root / model), *TINY, *extra]) == 0
            out[model] = (root / model, None)
        assert main(["export", str(root / "cyclegan"), "--out", str(root / "exports")]) == 0
        out["cyclegan"] = (root / "cyclegan", root / "exports" / "cyclegan")
        maps, _ = ts.load_translation_set("shapes_maps", "test", image_size=(20, 27), limit=3)
        ink, _ = ts.load_translation_set("digits_ink", "test", image_size=(18, 30), limit=3)
    for i in range(3):
        save_image(maps[i], root / "maps" / f"m{i}.png")
        save_image(ink[i], root / "ink" / f"i{i}.png")
    save_image(maps[0][:12, :12], root / "small.png")
    return out, root


def _read(path):
    return np.asarray(Image.open(path)).astype(int)


def test_runs_and_exports_translate_alike_at_any_size(trained, capsys):
    out, root = trained
    for model, inputs, direction in (("pix2pix", "maps", "a_to_b"), ("cyclegan", "ink", "b_to_a")):
        run, export = out[model]
        for path, dest in ((run, "run"), (export, "edge")):
            if path is not None:
                assert main(["translate", str(path), "--input", str(root / inputs), "--out",
                             f"{root / model / dest}/", "--direction", direction]) == 0
        printed = capsys.readouterr().out
        assert "(Keras)" in printed and ("(onnxruntime" in printed) == (export is not None)
        for i in range(3):
            stem = f"{inputs[0]}{i}.png"
            keras_image = _read(root / model / "run" / stem)
            assert keras_image.shape[:2] == _read(root / inputs / stem).shape[:2]  # each at its own size
            if export is not None:
                assert np.abs(keras_image - _read(root / model / "edge" / stem)).max() <= 1
    # one input -> its translation; several of one size -> a grid of input | output pairs
    run, _ = out["cyclegan"]
    assert main(["translate", str(run), "--input", str(root / "ink" / "i0.png"), "--out", str(root / "one.png")]) == 0
    assert _read(root / "one.png").shape == (18, 30)
    assert main(["translate", str(run), "--input", str(root / "ink"), "--out", str(root / "grid.png")]) == 0
    assert _read(root / "grid.png").shape[1] > 4 * 30


def test_bad_input_is_one_line_and_exit_2(trained, capsys, tmp_path, write_pairs):
    out, root = trained
    run, _ = out["pix2pix"]
    cases = [
        (["translate", str(run), "--input", str(root / "maps"), "--out", f"{tmp_path}/x/", "--direction",
          "b_to_a"], "pix2pix has no direction 'b_to_a': it translates a_to_b"),
        (["translate", str(run), "--input", str(root / "small.png"), "--out", str(tmp_path / "x.png")],
         "12x12 px, smaller than pix2pix takes: at least 16 px a side"),
        (["sample", str(out["cyclegan"][1]), "--image", str(root / "small.png"), "--out", str(tmp_path / "x.png")],
         "12x12 px, smaller than cyclegan takes: at least 16 px"),
        (["translate", str(run), "--input", str(root / "maps"), str(root / "ink" / "i0.png"), "--out",
          str(tmp_path / "x.png")], "differ in size: pass a folder"),
        (["translate", str(run), "--input", str(root / "maps"), "--out", f"{tmp_path}/x/", "--direction", "up"],
         "--direction must be a_to_b or b_to_a"),
        (["train", "pix2pix", "--data", str(write_pairs(tmp_path / "unmatched", lonely=True)), "--out",
          str(tmp_path / "r1")], "unmatched pairs .* 1 file\\(s\\) of A/ have no pair in B/ \\(first: lonely.png\\)"),
        (["train", "pix2pix", "--data", str(write_pairs(tmp_path / "one_side", empty_b=True)), "--out",
          str(tmp_path / "r2")], "has no images in B/"),
        (["train", "pix2pix", "--data", "digits_ink", "--out", str(tmp_path / "r3")], "holds two unpaired domains"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("keras-gen: error:"), err
        import re

        assert re.search(message, err), (message, err)


@pytest.fixture
def write_pairs():
    def write(folder, lonely=False, empty_b=False):
        rng = np.random.default_rng(0)
        for i in range(6):
            image = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
            save_image(image, folder / "A" / f"x{i}.png")
            if not empty_b:
                save_image(255 - image, folder / "B" / f"x{i}.png")
        (folder / "B").mkdir(exist_ok=True)
        if lonely:
            save_image(np.zeros((16, 16, 3), np.uint8), folder / "A" / "lonely.png")
        return folder

    return write


def test_a_model_without_translation_endpoints_is_named(tmp_path, capsys, write_pairs):
    from tests.models import toy_translator  # noqa: F401  (registers the test-only paired model)

    data = write_pairs(tmp_path / "pairs")
    assert main(["train", "toy_translator", "--data", str(data), "--out", str(tmp_path / "toy"), "--image-size", "16",
                 "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2"]) == 0
    capsys.readouterr()
    assert main(["translate", str(tmp_path / "toy"), "--input", str(data / "A" / "x0.png"), "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "translate works with translation models (pix2pix, cyclegan); toy_translator has no a_to_b" in \
        capsys.readouterr().err
