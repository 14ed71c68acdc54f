"""Feature inversion: the relative feature error falls; bad layers and sizes are refused."""

import pytest

from keras_gen.errors import KerasGenError
from keras_gen.models.style import inversion, io


def test_inversion_feature_loss_falls():
    image = io.load_float("photos:chelsea", 24)[0]
    out, history = inversion.invert(image, "conv1_2", steps=10, arch="vgg16", weights="hed", compile=False)
    assert out.shape == image.shape and out.min() >= -1.0 and out.max() <= 1.0
    assert history[0]["feature"] > 0.3  # from noise: far from the target
    assert history[-1]["feature"] < 0.2 * history[0]["feature"]
    assert inversion.default_tv_weight("block4_conv2") == pytest.approx(8 * inversion.default_tv_weight("conv1_1"))


def test_inversion_bad_inputs():
    image = io.load_float("photos:chelsea", 12)[0]
    with pytest.raises(KerasGenError, match="too small for layer conv5_1"):
        inversion.invert(image, "conv5_1", steps=1, arch="vgg16", weights="hed")
    with pytest.raises(KerasGenError, match="unknown VGG19 layer"):
        inversion.invert(image, "conv9_1", steps=1)
