"""adain (keras_gen/models/style/adain.py): the AdaIN target carries the style's statistics,
alpha = 0 decodes the content's own features, style interpolation mixes targets, any content
size works, bad input is a clear error, ONNX matches at two more sizes. The shared harness
trains, resumes and exports it."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import registry
from keras_gen.errors import KerasGenError
from keras_gen.layers.normalization import channel_moments
from keras_gen.models.style.adain import adain_target
from tests.models.style.onnx_parity import onnx_generate


def _images(n, h, w, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, h, w, channels)).astype("float32")


@pytest.fixture(scope="module")
def model():
    m = registry.build("adain", image_size=16, channels=3, encoder_layer="conv2_1", filters=4, vgg_weights="hed")
    assert m.encoder.trainable_variables == [] and m.decoder.trainable_variables  # only the decoder learns
    return m


def test_the_adain_target_has_the_style_features_statistics(model):
    content, style = _images(2, 16, 16, seed=1), _images(2, 24, 12, seed=2) * 0.3
    fc, fs = model.encode(content)["conv2_1"], model.encode(style)["conv2_1"]
    (mt, st), (ms, ss), (mc, _) = channel_moments(adain_target(fc, fs)), channel_moments(fs), channel_moments(fc)
    live = np.asarray(channel_moments(fc)[1]) > 1e-2  # a channel constant over the content has no std to scale
    assert live.mean() > 0.5
    np.testing.assert_allclose(np.asarray(mt), np.asarray(ms), atol=1e-3)
    np.testing.assert_allclose(np.asarray(st)[live], np.asarray(ss)[live], rtol=1e-2, atol=2e-3)  # eps in both
    assert np.abs(np.asarray(mc) - np.asarray(ms)).max() > 1e-1  # the content's own statistics were different


def test_alpha_zero_decodes_the_content_features_and_alpha_mixes_targets(model):
    content, style = _images(2, 16, 16, seed=3), _images(2, 16, 16, seed=4)
    decoded = np.clip(np.asarray(model.decoder(model.encode(content)["conv2_1"])), -1, 1)
    np.testing.assert_allclose(np.asarray(model.generate(content, style, 0.0)), decoded, atol=1e-5)
    full = np.asarray(model.generate(content, style, 1.0))
    assert np.abs(full - decoded).max() > 1e-3
    # style interpolation: weights (1, 0) are the first style alone; (0.5, 0.5) neither
    other = _images(2, 20, 20, seed=5) * 0.2
    np.testing.assert_allclose(np.asarray(model.stylize(content, [style, other], [1.0, 0.0])), full, atol=1e-5)
    half = np.asarray(model.stylize(content, [style, other], [0.5, 0.5]))
    assert np.abs(half - full).max() > 1e-3
    with pytest.raises(KerasGenError, match="needs 2 weight"):
        model.stylize(content, [style, other], [1.0])


def test_any_content_size_and_clear_errors_for_tiny_images(model):
    out = np.asarray(model.generate(_images(1, 9, 14, seed=6), _images(1, 5, 30, seed=7), 0.7))
    assert out.shape == (1, 9, 14, 3) and np.abs(out).max() <= 1.0
    with pytest.raises(KerasGenError, match="content image of 3x16 pixels is too small"):
        model.generate(_images(1, 3, 16), _images(1, 16, 16), 1.0)
    with pytest.raises(KerasGenError, match="style image of 16x2 pixels is too small"):
        model.generate(_images(1, 16, 16), _images(1, 16, 2), 1.0)
    with pytest.raises(KerasGenError, match="alpha=1.5 is out of range"):
        model.sample(1, 0, content=_images(1, 16, 16), style=_images(1, 16, 16), alpha=1.5)


def test_one_training_step_moves_only_the_decoder_and_sums_its_terms(model):
    import keras

    m = registry.build("adain", image_size=16, channels=3, encoder_layer="conv2_1", filters=4, vgg_weights="hed",
                       identity_weight=3.0, style_weight=0.5)
    m.compile()
    encoder_before = [np.asarray(v) for v in m.encoder.weights]
    decoder_before = [np.asarray(v) for v in m.decoder.weights]
    batch = (_images(4, 16, 16, seed=8), _images(4, 16, 16, seed=9))
    # the identity term: the alpha-0 decoding of the content against the content, before the step
    identity = np.mean(np.square(np.asarray(m.decoder(m.encode(batch[0])["conv2_1"])) - batch[0]))
    logs = {k: v[0] for k, v in m.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history.items()}
    assert all(np.isfinite(logs[k]) and logs[k] > 0 for k in ("loss", "content", "style", "identity"))
    np.testing.assert_allclose(logs["identity"], identity, rtol=1e-4)
    np.testing.assert_allclose(logs["loss"], logs["content"] + 0.5 * logs["style"] + 3.0 * logs["identity"], rtol=1e-4)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(encoder_before, m.encoder.weights))
    assert any(not np.array_equal(a, np.asarray(b)) for a, b in zip(decoder_before, m.decoder.weights))
    assert isinstance(m.optimizers["decoder"], keras.optimizers.Adam)
    # the paper's decay: learning_rate / (1 + lr_decay n) after n steps
    rate = m.optimizers["decoder"].learning_rate
    np.testing.assert_allclose(float(rate), 1e-4 / (1 + 5e-5 * 1), rtol=1e-5)


def test_onnx_matches_keras_at_two_more_sizes(model, tmp_path):
    feeds = [{"content": _images(2, 12, 20, seed=10), "style": _images(2, 16, 16, seed=11),
              "alpha": np.asarray(1.0, "float32")},
             {"content": _images(1, 27, 33, seed=12), "style": _images(1, 40, 8, seed=13),
              "alpha": np.asarray(0.4, "float32")}]
    for feed, got in zip(feeds, onnx_generate(model, tmp_path, feeds)):
        want = np.asarray(model.generate(**feed))
        assert got.shape == want.shape == feed["content"].shape
        np.testing.assert_allclose(got, want, atol=1e-4)
