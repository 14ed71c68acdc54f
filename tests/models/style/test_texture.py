"""Texture synthesis: Efros-Leung copies source pixels; Gram matching lowers the Gram loss."""

import numpy as np
import pytest
from PIL import Image

from keras_gen.cli import main
from keras_gen.errors import KerasGenError
from keras_gen.models.style import io, texture


def test_efros_leung_output_shape_and_values_come_from_the_source():
    source = io.load_float("textures:brick", 20)[0]
    out = texture.efros_leung(source, (18, 22), window=5, seed=1)
    assert out.shape == (18, 22, 3)
    pixels = {tuple(p) for p in source.reshape(-1, 3)}
    assert all(tuple(p) in pixels for p in out.reshape(-1, 3))
    assert len({tuple(p) for p in out.reshape(-1, 3)}) > 10  # not one pixel repeated
    np.testing.assert_array_equal(out, texture.efros_leung(source, (18, 22), window=5, seed=1))  # seeded
    with pytest.raises(KerasGenError, match="odd"):
        texture.efros_leung(source, 8, window=4)
    with pytest.raises(KerasGenError, match="smaller than the"):
        texture.efros_leung(source[:4, :4], 8, window=5)


def test_gram_texture_lowers_the_gram_loss_from_noise():
    assert texture.texture_layers("pool2") == ("conv1_1", "pool1", "pool2")
    with pytest.raises(KerasGenError, match="choose one of"):
        texture.texture_layers("conv9_9")
    source = io.load_float("photos:immunohistochemistry", 32)[0]
    out, history = texture.gram_texture(source, 16, depth="pool1", steps=12, arch="vgg16", weights="hed",
                                          compile=False)
    assert out.shape == (16, 16, 3)
    assert history[-1]["style"] < 0.1 * history[0]["style"]
    with pytest.raises(KerasGenError, match="too small for layer pool4"):
        texture.gram_texture(source, 8, depth="pool4", steps=1, arch="vgg16", weights="hed")


def test_cli_texture_nn_and_channel_policy(tmp_path, capsys):
    rgba = np.zeros((24, 24, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = np.arange(24, dtype=np.uint8)[:, None] * 10, 255
    rgba[:6, :6, 3] = 0  # transparent corner -> white
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    pixels, notes = io.read_image(tmp_path / "rgba.png")
    assert pixels.shape == (24, 24, 3) and (pixels[:6, :6] == 255).all() and "alpha" in notes[0]
    out = tmp_path / "t.png"
    assert main(["texture", "--source", str(tmp_path / "rgba.png"), "--method", "nn", "--size", "12",
                 "--window", "5", "--source-size", "24", "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape == (12, 12, 3)
    assert "composited over white" in capsys.readouterr().err
    assert main(["texture", "--source", str(tmp_path / "none.png"), "--out", str(out)]) == 2
    assert main(["texture", "--source", "textures:brick", "--out", str(tmp_path / "t.txt")]) == 2
