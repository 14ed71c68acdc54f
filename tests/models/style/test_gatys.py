"""Gatys style transfer: the losses move as the paper says, mixing, colour, coarse-to-fine, CLI."""

import numpy as np
import pytest

from keras_gen.cli import main
from keras_gen.errors import KerasGenError
from keras_gen.features import vgg
from keras_gen.losses import perceptual as P
from keras_gen.models.style import gatys, io

STYLE = ("conv1_1", "conv2_1", "conv3_1")
CONTENT = ("conv3_1",)


@pytest.fixture(scope="module")
def extractor():
    return vgg.vgg_extractor("vgg16", STYLE, weights="hed", pooling="avg")


@pytest.fixture(scope="module")
def pair():
    content = io.load_float("photos:chelsea", 64)[0][:48, :64]
    style = io.load_float("photos:immunohistochemistry", 64)[0]
    return content, style


def _settings(**kw):
    return gatys.StyleSettings(style_layers=STYLE, content_layers=CONTENT, arch="vgg16", weights="hed",
                               compile=False, **kw)


def test_style_loss_falls_tenfold_while_content_stays_bounded(extractor, pair):
    content, style = pair
    out, history = gatys.stylize(content, [style], settings=_settings(steps=11), extractor=extractor)
    assert out.shape == content.shape and out.min() >= -1.0 and out.max() <= 1.0
    assert history[0]["style"] == pytest.approx(1.0, rel=0.3)  # normalised to 1 at the content start
    assert history[-1]["style"] < 0.1 * history[0]["style"]
    # Content stays far closer than the style image itself would be.
    feats = lambda x: extractor(x[None])  # noqa: E731
    style_as_output = gatys._resize(style, content.shape[:2])
    bound = float(P.content_loss({k: feats(style_as_output)[k] for k in CONTENT}, {k: feats(content)[k] for k in CONTENT}))
    assert history[-1]["content"] < 0.5 * bound


def test_adam_from_noise_lowers_the_loss_and_mix_weights_select_a_style(extractor, pair):
    content, style = pair
    s = _settings(steps=4, optimizer="adam", init="noise", learning_rate=0.05)
    _, history = gatys.stylize(content, [style], settings=s, extractor=extractor)
    assert [h["step"] for h in history] == [1, 2, 3, 4] and history[-1]["loss"] < history[0]["loss"]
    one = gatys.StyleObjective(extractor, content, [style], [1.0], s)
    mixed = gatys.StyleObjective(extractor, content, [style, -style], [1.0, 0.0], s)
    for k in STYLE:
        np.testing.assert_allclose(np.asarray(one.target_grams[k]), np.asarray(mixed.target_grams[k]), rtol=1e-6)
    assert gatys.parse_style_weights("3,1", 2) == [0.75, 0.25] and gatys.parse_style_weights(None, 2) == [0.5, 0.5]
    with pytest.raises(KerasGenError, match="one weight per style"):
        gatys.parse_style_weights("0.7,0.2,0.1", 2)


def test_preserve_colour_keeps_the_content_chroma(extractor, pair):
    content, style = pair
    rgb = np.random.default_rng(0).uniform(-1, 1, (4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(gatys.yiq_to_rgb(gatys.rgb_to_yiq(rgb)), rgb, atol=1e-5)
    out, _ = gatys.stylize(content, [style], settings=_settings(steps=2, preserve_colour=True), extractor=extractor)
    inside = (np.abs(gatys.yiq_to_rgb(gatys.rgb_to_yiq(out))) < 0.99).all(-1)  # away from clipped pixels
    np.testing.assert_allclose(gatys.rgb_to_yiq(out)[..., 1:][inside], gatys.rgb_to_yiq(content)[..., 1:][inside], atol=0.02)


def test_coarse_to_fine_sizes_and_small_images(extractor, pair):
    assert gatys.scale_sizes((512, 384), 0, 16) == [(256, 192), (512, 384)]
    assert gatys.scale_sizes((64, 64), 3, 16) == [(16, 16), (32, 32), (64, 64)]
    content, style = pair
    _, history = gatys.stylize(content, [style], settings=_settings(steps=2, scales=2), extractor=extractor)
    assert {h["scale"] for h in history} == {1, 2}
    with pytest.raises(KerasGenError, match="too small for layer conv3_1"):
        gatys.stylize(content[:3, :3], [style], settings=_settings(steps=1), extractor=extractor)


def test_cli_stylize_on_bundled_pictures_and_bad_inputs(tmp_path, capsys):
    out = tmp_path / "o.png"
    args = ["stylize", "--content", "photos:chelsea", "--style", "textures:brick", "--out", str(out), "--size", "24",
            "--steps", "2", "--arch", "vgg16", "--save-every", "1", "--quiet", "--style-layers", "conv1_1,conv2_1",
            "--content-layers", "conv2_1"]
    assert main(args) == 0
    assert out.is_file() and (tmp_path / "o_s1_0001.png").is_file()
    assert "textures:brick is grayscale: repeated to RGB" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    for extra, message in [
        (["--content", str(tmp_path / "missing.png"), "--style", "textures:brick"], "no such file"),
        (["--content", str(bad), "--style", "textures:brick"], "cannot read it as an image"),
        (["--content", "photos:nope", "--style", "textures:brick"], "no bundled picture"),
        (["--content", "photos:chelsea", "--style", "textures:brick", "--style-weights", "0.5,0.5"], "one weight per"),
        (["--content", "photos:chelsea", "--style", "textures:brick", "--size", "8"], "too small for layer conv5_1"),
        (["--content", "photos:chelsea", "--style", "textures:brick", "--style-layers", ","], "at least one VGG layer"),
    ]:
        assert main(["stylize", "--out", str(out), "--steps", "1", "--arch", "vgg16", *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and err[-1].startswith("keras-gen: error:")
