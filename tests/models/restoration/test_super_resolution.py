"""Super-resolution models (vdsr, srresnet, srgan, espcn) beyond the shared harness: tiles that
give the untiled image, one VDSR for several scales, a loss that falls on degraded patches, SRGAN
started from a trained SRResNet, the three up-sampling layers, and `keras-gen upscale` on a run
and an export with its one-line errors. Tiny networks at 16 px; the quality figures are
benchmarks/restoration.py's."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import registry
from keras_gen.cli import main
from keras_gen.core.images import from_uint8, to_uint8
from keras_gen.core.upscaling import upscale_image
from keras_gen.errors import KerasGenError

TINY = {"vdsr": {"scales": "2,4", "depth": 3, "filters": 4},
        "srresnet": {"scale": 2, "blocks": 1, "filters": 4},
        "espcn": {"scale": 2, "filters": 4}}
TINY["srgan"] = {**TINY["srresnet"], "d_filters": 2, "d_dense": 4, "content_layer": "conv1_2", "vgg_weights": "hed"}


def tiny(name, channels=1, **options):
    import keras

    keras.utils.set_random_seed(0)
    return registry.build(name, image_size=16, channels=channels, **{**TINY.get(name, {}), **options})


def smooth_image(height, width, channels, seed=0):
    """A float [-1, 1] picture with structure at several scales (random walks, blurred)."""
    rng = np.random.default_rng(seed)
    image = np.cumsum(np.cumsum(rng.normal(size=(height, width, channels)), axis=0), axis=1)
    image -= image.min()
    return (image / image.max() * 2.0 - 1.0).astype(np.float32)


@pytest.mark.parametrize("name", ["vdsr", "srresnet"])
def test_tiled_upscale_equals_the_untiled_one(name):
    model = tiny(name)
    image = smooth_image(37, 29, 1)  # odd, non-square: tiles of every shape at the borders
    margin = model.receptive_radius()
    whole = upscale_image(lambda x: model.upscale(x, 2), image, 2, 1, "auto", tile=64, margin=margin)
    tiled = upscale_image(lambda x: model.upscale(x, 2), image, 2, 1, "auto", tile=2 * margin + 5, margin=margin)
    assert whole.shape == tiled.shape == (74, 58, 1)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    from keras_gen.core.upscaling import tile_boxes

    for (_, _, _, _), (top, left, bottom, right) in tile_boxes(37, 29, 2 * margin + 5, margin):
        assert bottom - top == min(2 * margin + 5, 37) and right - left == min(2 * margin + 5, 29)  # full tiles
    # without the margin the seams differ: the test can see a wrong tiling
    seams = upscale_image(lambda x: model.upscale(x, 2), image, 2, 1, "auto", tile=2 * margin + 5, margin=0)
    assert np.abs(seams - whole).max() > 1e-4


def test_colour_images_go_through_a_grey_network_on_luma_with_bicubic_chroma():
    from keras_gen.core.resize import bicubic_upscale
    from keras_gen.core.upscaling import rgb_to_ycbcr

    model = tiny("srresnet")
    image = smooth_image(12, 20, 3, seed=1)
    y = upscale_image(lambda x: model.upscale(x, 2), image, 2, 1, "y", margin=model.receptive_radius())
    per_channel = upscale_image(lambda x: model.upscale(x, 2), image, 2, 1, "rgb")
    assert y.shape == per_channel.shape == (24, 40, 3)
    ycc = rgb_to_ycbcr(y)
    chroma = bicubic_upscale(rgb_to_ycbcr(image)[None, ..., 1:], 2)[0]
    luma = model.upscale(rgb_to_ycbcr(image)[None, ..., :1])[0]
    unclipped = np.all(np.abs(y) < 0.999, axis=-1)  # where RGB was not clipped to [-1, 1]
    assert unclipped.mean() > 0.5
    np.testing.assert_allclose(ycc[unclipped][:, 1:], chroma[unclipped], atol=2e-3)
    np.testing.assert_allclose(ycc[unclipped][:, :1], luma[unclipped], atol=2e-3)


def test_vdsr_is_one_network_for_its_scales_and_refuses_others():
    model = tiny("vdsr")
    low = smooth_image(9, 12, 1)[None]
    assert model.scales() == (2, 4)
    assert model.upscale(low, 2).shape == (1, 18, 24, 1)
    assert model.upscale(low, 4).shape == (1, 36, 48, 1)
    with pytest.raises(KerasGenError, match="trained for x2, x4; it cannot upscale x3"):
        model.upscale(low, 3)
    with pytest.raises(KerasGenError, match="at least 8 px a side"):
        model.upscale(low[:, :5], 2)
    # residual learning: a network whose last layer is zero returns the bicubic interpolation
    from keras_gen.core.resize import bicubic_upscale

    last = model.vdsr.layers[-1]
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    np.testing.assert_allclose(model.upscale(low, 4), np.clip(bicubic_upscale(low, 4), -1, 1), atol=1e-5)
    with pytest.raises(KerasGenError, match="some of 2, 3, 4"):
        tiny("vdsr", scales="2,5")
    with pytest.raises(KerasGenError, match="multiple of 12"):
        registry.build("vdsr", image_size=16, channels=1, scales="3,4", depth=2, filters=2)


@pytest.mark.parametrize("method", ["subpixel", "transpose", "resize"])
def test_the_three_upsampling_layers_give_the_scale(method):
    model = tiny("srresnet", scale=4, upsample=method)
    assert model.upscale(smooth_image(10, 14, 1)[None]).shape == (1, 40, 56, 1)


def test_subpixel_starts_without_a_checkerboard_and_transpose_does_not():
    """ICNR: the r^2 sub-kernels start equal, so a flat input gives a flat output at init;
    a stride-2 3x3 transposed convolution gives its period-2 checkerboard."""
    import keras

    from keras_gen.layers.upsampling import upsample

    flat = np.ones((1, 6, 6, 3), np.float32)
    spreads = {}
    for method in ("subpixel", "transpose"):
        keras.utils.set_random_seed(1)
        inputs = keras.Input((None, None, 3))
        layer_model = keras.Model(inputs, upsample(inputs, 4, 2, method, name=method))
        out = np.asarray(layer_model(flat))[0, 2:-2, 2:-2]  # away from the zero padding
        spreads[method] = float(np.ptp(out, axis=(0, 1)).max())
    assert spreads["subpixel"] < 1e-5 < spreads["transpose"]


def test_srresnet_mse_falls_on_degraded_patches():
    import keras

    from keras_gen.data.training_data import training_dataset

    model = tiny("srresnet", filters=8)
    model.compile()
    data = training_dataset("degraded", "digits", shapes=model.data_shapes(), batch_size=8, seed=0,
                            degradation=model.degradation())
    low, high = next(iter(data))
    assert low.shape == (8, 8, 8, 1) and high.shape == (8, 16, 16, 1)
    keras.utils.set_random_seed(0)
    history = model.fit(data, epochs=3, steps_per_epoch=15, verbose=0).history
    assert history["mse"][-1] < 0.7 * history["mse"][0], history["mse"]


def test_srgan_starts_from_a_trained_srresnet(tmp_path):
    srresnet = tiny("srresnet")
    srresnet.compile()
    path = tmp_path / "srresnet.keras"
    srresnet.save(path)
    srgan = tiny("srgan", init_from=str(path))
    assert srgan.discriminator is not None and srgan.game is not None  # the game gives it its D
    srgan.initialise_generator(path)
    low = smooth_image(10, 10, 1)[None]
    np.testing.assert_allclose(srgan.upscale(low), srresnet.upscale(low), atol=1e-6)
    other = tiny("srgan", blocks=2)
    with pytest.raises(KerasGenError, match="is not this model's"):
        other.initialise_generator(path)
    with pytest.raises(KerasGenError, match="cannot load a trained srresnet"):
        other.initialise_generator(tmp_path / "missing.keras")
    # an srresnet fine-tunes a trained one (other data, another rate) the same way
    tuned = tiny("srresnet", init_from=str(path), learning_rate=1e-5)
    tuned.initialise_generator(path)
    np.testing.assert_allclose(tuned.upscale(low), srresnet.upscale(low), atol=1e-6)


def test_a_folder_of_photos_trains_srresnet_from_the_cli(tmp_path):
    """`--data DIR` of photos (benchmarks/sr_photos.py makes one): patches are drawn from each
    file at its own size (not the folder loader's square thumbnails), the train split only."""
    from keras_gen.data.degradations import full_size_images
    from keras_gen.data.folders import scan_folder
    from keras_gen.images import save_image

    folder = tmp_path / "photos"
    folder.mkdir()
    sizes = [(40, 56), (48, 36), (44, 44), (52, 40)]
    for i, (height, width) in enumerate(sizes):
        save_image(to_uint8(smooth_image(height, width, 3, seed=i)), folder / f"photo{i}.png")
    index = scan_folder(folder)
    train = full_size_images(folder, "train", 3)
    assert sorted(image.shape for image in train) == sorted(
        (*sizes[int(index.files[i].split(".")[0][5:])], 3) for i in index.splits["train"])
    assert 0 < len(train) < len(sizes)  # the folder's test split is not trained on
    run = tmp_path / "run"
    flags = sum((["--set", f"{k}={v}"] for k, v in TINY["srresnet"].items()), [])
    assert main(["train", "srresnet", "--data", str(folder), "--image-size", "16", "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "2", "--out", str(run), *flags]) == 0
    assert (run / "checkpoints" / "last.keras").is_file()


def test_srgan_content_loss_over_several_layers_and_its_own_d_rate():
    import keras

    srgan = tiny("srgan", content_layer="conv1_2, conv2_2", d_learning_rate=1e-5)
    assert srgan.content_layers == ("block1_conv2", "block2_conv2")
    rates = {name: float(keras.ops.convert_to_numpy(opt.learning_rate)) for name, opt in srgan.default_optimizers().items()}
    assert rates == pytest.approx({"generator": 1e-4, "discriminator": 1e-5})
    high = smooth_image(16, 16, 1)[None]
    single = [float(tiny("srgan", content_layer=layer).content_loss(np.zeros_like(high), high))
              for layer in ("conv1_2", "conv2_2")]
    assert float(srgan.content_loss(np.zeros_like(high), high)) == pytest.approx(np.mean(single), rel=1e-5)
    # content_normalize: the loss is the benchmark's perceptual distance on those layers
    from keras_gen.metrics import perceptual_distance

    normalised = tiny("srgan", content_layer="conv1_2, conv2_2", content_normalize=True)
    other = np.clip(high + 0.3 * smooth_image(16, 16, 1, seed=3)[None], -1, 1)
    assert float(normalised.content_loss(other, high)) == pytest.approx(
        perceptual_distance(other, high, layers=("conv1_2", "conv2_2"), weights="hed"), rel=1e-4)
    with pytest.raises(KerasGenError, match="content_layer names no VGG16 layer"):
        tiny("srgan", content_layer=" , ")


@pytest.fixture(scope="module")
def srresnet_run(tmp_path_factory):
    """A tiny srresnet trained two steps by the CLI on degraded digits, and its export."""
    root = tmp_path_factory.mktemp("sr")
    run, exports = root / "run", root / "exports"
    flags = [f"{k}={v}" for k, v in TINY["srresnet"].items()]
    assert main(["train", "srresnet", "--data", "digits", "--image-size", "16", "--epochs", "1", "--steps-per-epoch",
                 "2", "--batch-size", "4", "--out", str(run), *sum((["--set", f] for f in flags), [])]) == 0
    assert main(["export", str(run), "--out", str(exports), "--name", "sr"]) == 0
    return run, exports / "sr"


def test_upscale_cli_on_a_run_and_an_export_agree_and_tile(srresnet_run, tmp_path, capsys):
    from keras_gen.images import load_image_file, save_image

    run, export = srresnet_run
    picture = save_image(to_uint8(smooth_image(30, 44, 3, seed=2)), tmp_path / "in.png")
    outs = {}
    for label, source, tile in (("run", run, 192), ("export", export, 192), ("tiled", run, 30)):
        outs[label] = tmp_path / f"{label}.png"
        assert main(["upscale", str(source), "--input", str(picture), "--out", str(outs[label]), "--tile",
                     str(tile)]) == 0
    printed = capsys.readouterr().out
    assert "x2 (44x30 -> 88x60 px, Keras)" in printed and "onnxruntime" in printed
    images = {k: load_image_file(v, (None, None, 3))[0].astype(int) for k, v in outs.items()}
    assert images["run"].shape == (60, 88, 3)
    assert np.abs(images["run"] - images["export"]).max() <= 1
    assert np.abs(images["run"] - images["tiled"]).max() <= 1
    # a folder in, a folder out
    assert main(["upscale", str(export), "--input", str(tmp_path / "in.png"), str(picture), "--out",
                 str(tmp_path / "many") + "/"]) == 0
    assert (tmp_path / "many" / "in.png").is_file()
    grey = from_uint8(load_image_file(picture, (None, None, 1)))
    assert grey.shape == (1, 30, 44, 1)


@pytest.mark.parametrize("flags, message", [
    (["--scale", "3"], "trained for x2, not x3"),
    (["--tile", "10"], "below the smallest tile"),
    (["--out", "x.jpg"], "writes an image (out.png) or a folder"),
])
def test_upscale_cli_refuses_in_one_line(srresnet_run, tmp_path, capsys, flags, message):
    from keras_gen.images import save_image

    run, _ = srresnet_run
    picture = save_image(to_uint8(smooth_image(16, 16, 1)), tmp_path / "in.png")
    args = ["upscale", str(run), "--input", str(picture), "--out", str(tmp_path / "out.png")]
    if flags[0] == "--out":
        args = args[:-2] + [flags[0], str(tmp_path / flags[1])]
    else:
        args += flags
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_upscale_cli_refuses_an_image_below_the_smallest_tile(srresnet_run, tmp_path, capsys):
    from keras_gen.images import save_image

    run, _ = srresnet_run
    small = save_image(np.full((6, 40, 1), 120, np.uint8), tmp_path / "small.png")
    assert main(["upscale", str(run), "--input", str(small), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert "is 40x6 px" in err and "at least 8 px a side" in err and len(err.strip().splitlines()) == 1


def test_perceptual_distance_is_zero_for_the_same_image_and_grows_with_noise():
    from keras_gen.metrics import perceptual_distance

    image = smooth_image(24, 24, 3)[None]
    noise = np.random.default_rng(0).normal(0, 1, image.shape).astype(np.float32)
    distances = [perceptual_distance(np.clip(image + s * noise, -1, 1), image, weights="hed") for s in (0, 0.05, 0.3)]
    assert distances[0] < 1e-6 < distances[1] < distances[2], distances
    # per_layer: each layer's term, from the same features; the distance is their mean
    terms = perceptual_distance(np.clip(image + 0.3 * noise, -1, 1), image, weights="hed", per_layer=True)
    assert list(terms) == ["conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"] and min(terms.values()) > 0
    assert np.mean(list(terms.values())) == pytest.approx(distances[2], rel=1e-6)


def test_evaluate_scores_a_run_and_its_export_as_the_benchmark_does(srresnet_run, tmp_path, capsys):
    """keras-gen evaluate on an SR model: Y-PSNR/SSIM, RGB PSNR and the VGG distance per trained
    scale beside bicubic, computed by the module benchmarks/restoration.py scores with."""
    import json

    from keras_gen.evaluation.super_resolution import (FIDELITY, bicubic_upscaler, network_upscaler, score_upscaler,
                                                       sr_pictures)
    from keras_gen.restorers import Upscaler

    run, export = srresnet_run
    reports = {}
    for label, source in (("run", run), ("export", export)):
        path = tmp_path / f"{label}.json"
        assert main(["evaluate", str(source), "--n", "10", "--json", str(path)]) == 0
        reports[label] = json.loads(path.read_text())["metrics"]
    printed = capsys.readouterr().out
    assert "| y_psnr_x2" in printed and "floor: bicubic (MATLAB imresize)" in printed
    assert set(reports["run"]) == {"y_psnr_x2", "y_ssim_x2", "rgb_psnr_x2", "vgg_distance_x2"}
    assert all(row["n"] == 10 for row in reports["run"].values())
    # the same figures from the shared module directly: bicubic's are the floor, the network's the model's
    pictures = sr_pictures("digits", channels=3, min_side=16, limit=10)
    bicubic = score_upscaler(bicubic_upscaler(2), pictures, 2)
    upscaler = Upscaler.from_path(run)
    network = score_upscaler(network_upscaler(lambda x: upscaler.upscale(x, 2), 2, 1, upscaler.margin), pictures, 2,
                             vgg=False)
    for key in (*FIDELITY, "vgg_distance"):
        assert reports["run"][f"{key}_x2"]["floor"] == pytest.approx(bicubic[key], rel=1e-6)
    for key in FIDELITY:
        assert reports["run"][f"{key}_x2"]["generated"] == pytest.approx(network[key], rel=1e-6)
    assert bicubic["y_psnr"] > 25 and bicubic["vgg_distance"] < reports["run"]["vgg_distance_x2"]["generated"]
    # the distance's terms per VGG layer (the benchmark's breakdown): per picture, and means whose mean it is
    assert all(len(p["vgg_layers"]) == 5 for p in bicubic["per_image"])
    assert np.mean(list(bicubic["vgg_layers"].values())) == pytest.approx(bicubic["vgg_distance"], rel=1e-9)
    # the export (onnxruntime) scores what the run scores, to uint8 rounding
    for key, row in reports["run"].items():
        assert reports["export"][key]["generated"] == pytest.approx(row["generated"], rel=0.02, abs=0.005), key
    # a sample metric is refused in one line that says what it can feed
    assert main(["evaluate", str(run), "--metrics", "fid", "--n", "10"]) == 2
    err = capsys.readouterr().err
    assert "It can feed: sr, vgg" in err and len(err.strip().splitlines()) == 1
