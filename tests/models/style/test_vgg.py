"""vgg_extractor: layer names, offline fallback, arbitrary sizes, weight-resolution errors."""

import logging

import numpy as np
import pytest

from keras_gen.errors import KerasGenError
from keras_gen.features import vgg


def test_layer_names_and_min_side():
    assert vgg.keras_layer_name("conv4_2") == "block4_conv2"
    assert vgg.keras_layer_name("relu1_1") == "block1_conv1"
    assert vgg.keras_layer_name("pool4") == "block4_pool"
    assert vgg.keras_layer_name("block3_conv4", "vgg19") == "block3_conv4"
    with pytest.raises(KerasGenError, match="unknown VGG16 layer"):
        vgg.keras_layer_name("conv3_4", "vgg16")
    assert vgg.min_image_side(["conv1_1"]) == 1
    assert vgg.min_image_side(["conv1_1", "conv5_1"]) == 16
    assert vgg.min_image_side(["pool4"]) == 16


def test_vgg19_falls_back_to_offline_vgg16_with_a_log_line(caplog):
    with caplog.at_level(logging.WARNING, logger="keras_gen.features.vgg"):
        model = vgg.vgg_extractor("vgg19", ["conv1_1", "block2_conv1", "pool2"])
    assert "offline fallback" in caplog.text
    assert model.weights_source == "hed" and model.arch == "vgg16"
    kernel, _ = vgg.read_hed_convolutions()["block1_conv1"]
    np.testing.assert_array_equal(model.get_layer("block1_conv1").get_weights()[0], kernel)
    for size in ((8, 8), (12, 20)):  # any height and width
        out = model(np.zeros((1, *size, 3), np.float32))
        assert list(out) == ["conv1_1", "block2_conv1", "pool2"]
        assert tuple(out["conv1_1"].shape) == (1, *size, 64)
        assert tuple(out["pool2"].shape) == (1, size[0] // 4, size[1] // 4, 128)
    with pytest.raises(KerasGenError, match="do not exist in the vgg16"):
        vgg.vgg_extractor("vgg19", ["conv3_4"])


def test_avg_pooling_and_weight_errors(tmp_path):
    model = vgg.vgg_extractor("vgg16", ["conv1_2", "pool1"], weights="hed", pooling="avg")
    x = np.random.default_rng(0).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    out = model(x)
    want = np.asarray(out["conv1_2"]).reshape(1, 4, 2, 4, 2, 64).mean(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(out["pool1"]), want, rtol=1e-4, atol=1e-3)
    with pytest.raises(KerasGenError, match="not found"):
        vgg.vgg_extractor("vgg16", ["conv1_1"], weights=str(tmp_path / "nope.h5"))
    with pytest.raises(KerasGenError, match="ImageNet weights"):
        vgg.vgg_extractor("vgg19", ["conv1_1"], weights="imagenet")
    with pytest.raises(KerasGenError, match="vgg16 or vgg19"):
        vgg.vgg_extractor("vgg11", ["conv1_1"])
