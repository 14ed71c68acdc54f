"""VGG16 features with the HED-bundled weights (offline), preprocessing layer, errors."""

import keras
import numpy as np
import pytest

from keras_gen.errors import KerasGenError
from keras_gen.features import _common, vgg


@pytest.fixture(scope="module")
def hed_vgg():
    return vgg.vgg16_feature_extractor(weights="hed")


@pytest.fixture(autouse=True)
def _no_cached_imagenet(tmp_path, monkeypatch):
    """No ImageNet file in the Keras cache and no network, whatever this machine has."""
    monkeypatch.setattr(_common, "keras_model_dirs", lambda: [tmp_path / "keras_models"])
    monkeypatch.setattr(_common, "host_reachable", lambda *a, **k: False)


def _edge_image(size=64):
    """Left half dark, right half bright; mean 0 like the flat image it is compared with."""
    x = np.full((1, size, size, 3), -0.8, np.float32)
    x[:, :, size // 2 :] = 0.8
    return x


def test_hed_kernels_are_loaded_exactly(hed_vgg):
    convs = vgg.read_hed_convolutions()
    assert len(convs) == 13
    for name in ("block1_conv1", "block3_conv2", "block5_conv3"):
        kernel, bias = hed_vgg.get_layer(name).get_weights()
        np.testing.assert_array_equal(kernel, convs[name][0])
        np.testing.assert_array_equal(bias, convs[name][1])
    assert convs["block1_conv1"][0].shape == (3, 3, 3, 64)


def test_features_respond_to_edges_and_are_deterministic(hed_vgg):
    flat = np.zeros((1, 64, 64, 3), np.float32)
    edge = _edge_image()
    out = hed_vgg(np.concatenate([flat, edge]))
    assert list(out) == list(vgg.DEFAULT_LAYERS)
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes["block1_conv2"] == (2, 64, 64, 64) and shapes["block5_conv3"] == (2, 4, 4, 512)
    b1 = np.asarray(out["block1_conv2"])
    # Flat image: the same response everywhere away from the zero-padded border.
    assert b1[0, 4:-4, 4:-4].std(axis=(0, 1)).max() < 1e-4 * b1[0].max()  # float noise only
    # Edge image: the columns at the edge respond much more than the flat regions either side.
    at_edge = b1[1, 8:-8, 31:33].mean()
    away = max(b1[1, 8:-8, 8:16].mean(), b1[1, 8:-8, 48:56].mean())
    assert at_edge > 3 * away
    again = hed_vgg(np.concatenate([flat, edge]))
    for k in out:
        np.testing.assert_array_equal(np.asarray(out[k]), np.asarray(again[k]))


def test_preprocess_layer_is_caffe_style_and_serialisable():
    layer = vgg.VGGPreprocess(mean=vgg.IMAGENET_BGR_MEAN)
    rgb = np.array([[[[-1.0, 0.0, 1.0]]]], np.float32)  # R=0, G=127.5, B=255 in [0, 255]
    out = np.asarray(layer(rgb))[0, 0, 0]
    np.testing.assert_allclose(out, np.array([255.0, 127.5, 0.0]) - np.array(vgg.IMAGENET_BGR_MEAN), rtol=1e-6)
    grey = np.asarray(layer(np.zeros((1, 1, 1, 1), np.float32)))
    assert grey.shape == (1, 1, 1, 3)
    clone = vgg.VGGPreprocess.from_config(layer.get_config())
    assert clone.mean == layer.mean


def test_extractor_saves_and_loads_in_safe_mode(tmp_path):
    model = vgg.vgg16_feature_extractor(("block1_conv2", "block2_conv1"), weights="hed", channels=1)
    assert [layer.name for layer in model.layers][-1] == "block2_conv1"  # built only as deep as needed
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    path = tmp_path / "vgg.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    a, b = model(x), loaded(x)
    for k in a:
        np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), rtol=1e-5, atol=1e-4)


def test_vgg_features_vectors_for_diversity():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (5, 16, 16, 1)).astype(np.float32)  # small grey: upsampled to 32 px
    feats = vgg.vgg_features(x, layer="block5_conv3", pooling="avg", weights="hed", batch_size=2)
    assert feats.shape == (5, 512) and feats.dtype == np.float32
    assert np.all(np.isfinite(feats)) and feats.std(axis=0).mean() > 0
    maxed = vgg.vgg_features(x, layer="block3_conv3", pooling="max", weights="hed", image_size=40)
    assert maxed.shape == (5, 256)
    maps = vgg.vgg_features(x, layer="block3_conv3", pooling=None, weights="hed", image_size=40)
    assert maps.shape == (5, 10, 10, 256)
    assert np.all(maxed >= maps.mean(axis=(1, 2)) - 1e-4)
    # The same image twice in a batch gives the same vector; different images differ.
    twice = vgg.vgg_features(np.concatenate([x[:1], x[:1], x[1:2]]), weights="hed")
    np.testing.assert_allclose(twice[0], twice[1], rtol=1e-5)
    assert np.abs(twice[0] - twice[2]).max() > 1e-3


def test_auto_weights_fall_back_to_hed_offline():
    assert vgg.resolve_weights("auto") == "hed"
    assert vgg.VGGFeatures(weights="auto").weights == "hed"


def test_imagenet_offline_and_bad_names_raise_kerasgenerror():
    with pytest.raises(KerasGenError, match="weights='hed'"):
        vgg.vgg16_feature_extractor(weights="imagenet")
    with pytest.raises(KerasGenError, match="unknown VGG16 layer"):
        vgg.vgg16_feature_extractor(("block9_conv1",), weights=None)
    with pytest.raises(KerasGenError, match="unknown VGG weights"):
        vgg.vgg16_feature_extractor(weights="caffe")
    with pytest.raises(KerasGenError, match="pooling"):
        vgg.vgg_features(np.zeros((1, 32, 32, 3), np.float32), pooling="sum")
