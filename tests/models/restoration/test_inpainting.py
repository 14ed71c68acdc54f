"""Inpainting beyond the shared harness: the random holes it trains on, a completion that keeps
every known pixel exactly, RePaint with a trained diffusion model in the numpy and the
tf.while_loop samplers alike, and `keras-gen inpaint` on runs and exports with its one-line
errors (a mask of another size, an empty mask, an image below the smallest tile)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import registry
from keras_gen.cli import main
from keras_gen.core.images import to_uint8
from keras_gen.errors import KerasGenError

TINY_INPAINT = {"filters": 4, "downsamplings": 1, "dilations": "2", "d_filters": 2, "d_downsamplings": 2}


def tiny_inpaint(**options):
    import keras

    keras.utils.set_random_seed(0)
    return registry.build("inpaint", image_size=16, channels=1, **{**TINY_INPAINT, **options})


@pytest.mark.parametrize("kind", ["rectangles", "strokes", "halves"])
def test_random_holes_are_binary_seeded_and_cover_part_of_the_image(kind):
    import tensorflow as tf

    from keras_gen.layers.masks import random_masks

    seed = tf.constant([3, 4], tf.int64)
    masks = np.asarray(random_masks(16, 24, 20, seed, (kind,)))
    assert masks.shape == (16, 24, 20, 1) and set(np.unique(masks)) <= {0.0, 1.0}
    np.testing.assert_array_equal(masks, np.asarray(random_masks(16, 24, 20, seed, (kind,))))
    share = masks.mean(axis=(1, 2, 3))
    assert share.min() > 0.0 and share.max() < 1.0  # every image has a hole and some context
    if kind == "halves":
        assert np.allclose(share, 0.5)
    other = np.asarray(random_masks(16, 24, 20, tf.constant([3, 5], tf.int64), (kind,)))
    assert not np.array_equal(masks, other)


def test_the_completion_keeps_every_known_pixel_and_takes_any_size():
    model = tiny_inpaint()
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2, 20, 28, 1)).astype(np.float32)  # not the training size, not square
    holes = np.zeros((2, 20, 28, 1), np.float32)
    holes[:, 4:12, 10:25] = 1.0
    completed = model.complete(images, holes)
    assert completed.shape == images.shape
    np.testing.assert_array_equal(completed[holes == 0], images[holes == 0])
    assert np.abs(completed[holes == 1] - images[holes == 1]).max() > 0  # the hole is the network's
    # the hole's content does not reach the network: what was under it changes nothing
    scrambled = np.where(holes > 0, -images, images)
    np.testing.assert_allclose(model.complete(scrambled, holes)[holes == 1], completed[holes == 1], atol=1e-6)
    with pytest.raises(KerasGenError, match="at least 2 px"):
        model.complete(images[:, :1], holes[:, :1])


def test_the_hole_reconstruction_falls_with_training():
    import keras
    import tensorflow as tf

    from keras_gen.data import load_arrays

    digits, _, _ = load_arrays("digits", "train", image_size=16, channels=1, limit=64)
    model = tiny_inpaint(filters=8, adversarial_weight=0.0, masks="halves")
    model.compile()
    keras.utils.set_random_seed(0)
    data = tf.data.Dataset.from_tensor_slices(digits).repeat().batch(16, drop_remainder=True)
    history = model.fit(data, epochs=3, steps_per_epoch=15, verbose=0).history
    losses = history["hole_l1"]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.92 * losses[0], losses


def test_inpainting_rules_masks_canvases_and_outpainting(tmp_path):
    from keras_gen.core import inpainting
    from keras_gen.images import save_image

    mask = np.zeros((10, 12, 1), np.uint8)
    mask[2:5, 3:9] = 255
    path = save_image(mask, tmp_path / "m.png")
    hole = inpainting.read_mask(path, 10, 12)
    assert hole.dtype == bool and hole.sum() == 18
    with pytest.raises(KerasGenError, match="is 10x12 px and the image 10x14 px"):
        inpainting.read_mask(path, 10, 14)
    with pytest.raises(KerasGenError, match="marks no pixel to generate"):
        inpainting.read_mask(save_image(np.zeros((10, 12, 1), np.uint8), tmp_path / "empty.png"), 10, 12)
    assert inpainting.parse_outpaint("1,0,3,2") == (1, 0, 3, 2)
    for bad in ("1,2,3", "0,0,0,0", "-1,0,0,0", "a,b,c,d"):
        with pytest.raises(KerasGenError, match="LEFT,TOP,RIGHT,BOTTOM"):
            inpainting.parse_outpaint(bad)
    image = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    known, holes = inpainting.canvas(image, hole, (1, 0, 3, 2))
    assert known.shape == (12, 16, 3) and holes.shape == (12, 16)
    np.testing.assert_array_equal(known[:10, 1:13], image)
    assert holes[:, 0].all() and holes[:, 13:].all() and holes[10:].all() and holes[:10, 1:13].sum() == 18
    filled = np.zeros((2, 12, 16, 3), np.uint8)
    out = inpainting.composite(known, filled, holes)
    np.testing.assert_array_equal(out[:, ~holes], np.broadcast_to(known[~holes], out[:, ~holes].shape))


@pytest.fixture(scope="module")
def tiny_ddpm():
    import keras

    spec = registry.get("ddpm")
    keras.utils.set_random_seed(0)
    model = registry.build("ddpm", image_size=8, channels=1, **spec.model_class.harness_options)
    rng = np.random.default_rng(0)  # an untrained U-Net's last layer is zero: it would predict nothing
    for weight in model.denoiser.weights:
        weight.assign(rng.normal(0, 0.2, weight.shape).astype("float32"))
    return model


def test_repaint_numpy_and_tf_samplers_agree_and_keep_the_known_pixels(tiny_ddpm):
    from keras_gen.core import inputs as kinds
    from keras_gen.core.samplers.repaint import RePaintSampler
    from keras_gen.core_tf.repaint import complete_keras

    model = tiny_ddpm
    rng = np.random.default_rng(1)
    image = rng.uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
    hole = np.zeros((3, 8, 8, 1), np.float32)
    hole[:, :, 4:] = 1.0  # the right half, as the benchmark
    resample = 2  # RePaint's resampling: each step also goes back once (resample 1 skips that branch)
    keras_out = complete_keras(model, image, hole, 3, 7, {"sampler": "ddpm"}, resample)
    sampler = RePaintSampler.from_diffusion(model.sampler().get_config(), resample)
    values = kinds.resolve_inputs([*model.input_specs(), *sampler.option_specs()], 3, 7, {"sampler": "ddpm"})
    values.update(image=image, mask=hole)

    def network(feeds):
        return {k: np.asarray(v) for k, v in model.network(**feeds).items()}

    numpy_out = sampler.run_numpy(network, values, 3, 7)
    np.testing.assert_allclose(numpy_out, keras_out, atol=2e-4)
    np.testing.assert_array_equal(keras_out[hole == 0], image[hole == 0])
    assert np.abs(keras_out[hole == 1]).max() <= 1.0
    other_seed = kinds.resolve_inputs([*model.input_specs(), *sampler.option_specs()], 3, 8, {"sampler": "ddpm"})
    other_seed.update(image=image, mask=hole)
    assert np.abs(sampler.run_numpy(network, other_seed, 3, 8) - numpy_out)[hole == 1].max() > 1e-3  # own draws


@pytest.fixture(scope="module")
def inpaint_runs(tmp_path_factory):
    """A tiny inpaint run trained two steps by the CLI, and its export."""
    root = tmp_path_factory.mktemp("inpaint")
    flags = sum((["--set", f"{k}={v}"] for k, v in TINY_INPAINT.items()), [])
    assert main(["train", "inpaint", "--data", "digits", "--image-size", "16", "--epochs", "1", "--steps-per-epoch",
                 "2", "--batch-size", "4", "--out", str(root / "run"), *flags]) == 0
    assert main(["export", str(root / "run"), "--out", str(root / "exports"), "--name", "inpaint"]) == 0
    return root / "run", root / "exports" / "inpaint"


def _picture_and_mask(folder, height=18, width=22):
    from keras_gen.images import save_image

    rng = np.random.default_rng(2)
    image = to_uint8(rng.uniform(-1, 1, (height, width, 1)).astype(np.float32))
    mask = np.zeros((height, width, 1), np.uint8)
    mask[3:10, 8:20] = 255
    return save_image(image, folder / "in.png"), save_image(mask, folder / "mask.png"), image, mask[..., 0] > 127


def test_inpaint_cli_on_a_run_and_an_export_returns_the_known_pixels_exactly(inpaint_runs, tmp_path, capsys):
    from keras_gen.images import load_image_file

    run, export = inpaint_runs
    picture, mask, image, hole = _picture_and_mask(tmp_path)
    outs = []
    for source in (run, export):
        outs.append(tmp_path / f"{source.name}.png")
        assert main(["inpaint", str(source), "--input", str(picture), "--mask", str(mask), "--out", str(outs[-1])]) == 0
    assert "onnxruntime" in capsys.readouterr().out
    keras_image, edge_image = (load_image_file(p, (None, None, 1))[0] for p in outs)
    assert keras_image.shape == image.shape
    np.testing.assert_array_equal(keras_image[~hole], image[~hole])
    np.testing.assert_array_equal(edge_image[~hole], image[~hole])
    assert np.abs(keras_image.astype(int) - edge_image.astype(int)).max() <= 1
    # outpainting grows the canvas and keeps the picture in place
    assert main(["inpaint", str(export), "--input", str(picture), "--outpaint", "2,0,6,3", "--out",
                 str(tmp_path / "grown.png")]) == 0
    grown = load_image_file(tmp_path / "grown.png", (None, None, 1))[0]
    assert grown.shape == (21, 30, 1)
    np.testing.assert_array_equal(grown[:18, 2:24], image)


def test_inpaint_cli_completes_with_a_diffusion_run(tmp_path, capsys):
    from keras_gen.images import load_image_file

    run = tmp_path / "ddpm"
    flags = sum((["--set", f"{k}={v}"] for k, v in registry.get("ddpm").model_class.harness_options.items()), [])
    assert main(["train", "ddpm", "--data", "digits", "--image-size", "8", "--epochs", "1", "--steps-per-epoch", "1",
                 "--batch-size", "4", "--out", str(run), *flags]) == 0
    picture, mask, image, hole = _picture_and_mask(tmp_path)
    assert main(["inpaint", str(run), "--input", str(picture), "--mask", str(mask), "--out", str(tmp_path / "out") + "/",
                 "--steps", "2", "--resample", "2", "--n", "2"]) == 0
    assert "completed at 8x8 px" in capsys.readouterr().out
    completions = [load_image_file(tmp_path / "out" / f"in-{i}.png", (None, None, 1))[0] for i in range(2)]
    for one in completions:  # resized to the model's 8x8 and back, and the known pixels kept exactly
        assert one.shape == image.shape
        np.testing.assert_array_equal(one[~hole], image[~hole])
    assert not np.array_equal(completions[0], completions[1])  # each its own noise


@pytest.mark.parametrize("case, message", [
    ("wrong_size", "pass a mask of the image's size"),
    ("empty", "marks no pixel to generate"),
    ("no_mask", "nothing to generate"),
    ("diffusion_flag", "options of diffusion models"),
])
def test_inpaint_cli_refuses_in_one_line(inpaint_runs, tmp_path, capsys, case, message):
    from keras_gen.images import save_image

    run, _ = inpaint_runs
    picture, mask, _, _ = _picture_and_mask(tmp_path)
    args = ["inpaint", str(run), "--input", str(picture), "--out", str(tmp_path / "o.png")]
    if case == "wrong_size":
        args += ["--mask", str(save_image(np.full((18, 20, 1), 255, np.uint8), tmp_path / "m2.png"))]
    elif case == "empty":
        args += ["--mask", str(save_image(np.zeros((18, 22, 1), np.uint8), tmp_path / "m0.png"))]
    elif case == "diffusion_flag":
        args += ["--mask", str(mask), "--steps", "3"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
