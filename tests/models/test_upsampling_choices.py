"""`--set upsample=transpose|resize|subpixel` on the generators that enlarge (srresnet's sub-pixel
stages, pix2pix's U-Net decoder, CycleGAN's ResNet generator): each choice builds the network
the option names, keeps the default's layer names (old checkpoints load), and converts to ONNX
with parity at two sizes, square and not, by the exporter's own converter (the defaults' whole
exports are the harness's). Tiny networks."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import registry
from keras_gen.errors import KerasGenError

METHODS = ("transpose", "resize", "subpixel")
DEFAULTS = {"srresnet": "subpixel", "pix2pix": "transpose", "cyclegan": "transpose"}  # the papers'


def tiny_generators(method):
    """{name: (generator, input channels, scale)} of the three models built with `method`."""
    import keras

    keras.utils.set_random_seed(0)
    srresnet = registry.build("srresnet", image_size=16, channels=1, scale=2, blocks=1, filters=4, upsample=method)
    pix2pix = registry.build("pix2pix", image_size=16, channels=1, filters=4, depth=2, upsample=method)
    cyclegan = registry.build("cyclegan", image_size=16, channels=1, filters=4, blocks=1, downsamplings=2,
                              upsample=method)
    return {"srresnet": (srresnet.generator, 2), "pix2pix": (pix2pix.generator, 1),
            "cyclegan": (cyclegan.generator_ab, 1)}


def up_layer_types(generator):
    import keras

    kinds = {keras.layers.Conv2DTranspose: "transpose", keras.layers.UpSampling2D: "resize"}
    found = {kinds[type(layer)] for layer in generator.layers if type(layer) in kinds}
    if any(type(layer).__name__ == "DepthToSpace" for layer in generator.layers):
        found.add("subpixel")
    return found


def test_each_choice_builds_its_layer_and_exports_with_parity(tmp_path):
    import onnxruntime as ort
    import tensorflow as tf

    from export.onnx_export import convert_endpoint

    networks = {}  # {"srresnet_resize": (generator, scale), ...}
    for method in METHODS:
        for name, (generator, scale) in tiny_generators(method).items():
            assert up_layer_types(generator) == {method}, (name, method)
            if method != DEFAULTS[name]:  # the defaults' exports are the harness's (tests/test_model_harness.py)
                networks[f"{name}_{method}"] = (generator, scale)
    keys = sorted(networks)
    assert len(keys) == 6

    @tf.function
    def all_six(image):  # one ONNX graph for all: one conversion (tf2onnx's cost is per call)
        return {key: networks[key][0](image, training=False) for key in keys}

    path = tmp_path / "upsampling.onnx"
    convert_endpoint(all_six, [tf.TensorSpec((None, None, None, 1), tf.float32, name="image")], keys, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for height, width in ((16, 16), (12, 20)):  # a multiple of the U-Net's 2^depth, and not square
        image = rng.uniform(-1, 1, (2, height, width, 1)).astype(np.float32)
        onnx_outputs = dict(zip(keys, session.run(None, {"image": image})))
        for key, (generator, scale) in networks.items():
            keras_output = np.asarray(generator(image, training=False))
            assert keras_output.shape == (2, scale * height, scale * width, 1), key
            assert np.ptp(keras_output) > 1e-3, key  # a real output, not a constant that agrees trivially
            np.testing.assert_allclose(onnx_outputs[key], keras_output, atol=1e-5, err_msg=key)


def test_transpose_default_keeps_the_papers_layers_and_names():
    """The translation generators' default is the papers' transposed convolution under its old
    names (up1, ..., out): checkpoints written before the option load unchanged."""
    import keras

    for name, build in (("pix2pix", dict(depth=2)), ("cyclegan", dict(blocks=1, downsamplings=2))):
        model = registry.build(name, image_size=16, channels=1, filters=4, **build)
        assert model.options.upsample == "transpose"
        generator = model.generator if name == "pix2pix" else model.generator_ab
        transposed = {layer.name: layer.kernel_size for layer in generator.layers
                      if isinstance(layer, keras.layers.Conv2DTranspose)}
        kernel = (4, 4) if name == "pix2pix" else (3, 3)  # the U-Net's 4x4, the ResNet generator's 3x3
        expected = {"up1": kernel, "out": kernel} if name == "pix2pix" else {"up1": kernel, "up2": kernel}
        assert transposed == expected, name
    with pytest.raises(KerasGenError, match="upsample"):
        registry.build("pix2pix", image_size=16, channels=1, filters=4, depth=2, upsample="bilinear")
