import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.losses import discriminator_loss, generator_loss
from keras_gen.models.gan.dcgan import DCGAN
from keras_gen.registry import build
from tests.model_checks import run_model_saving_test, run_serialization_test


def _blobs(n=64, size=16, channels=1, seed=0):
    """A tiny, easy data set: one bright square per image at a random place, on -1 background."""
    rng = np.random.default_rng(seed)
    x = -np.ones((n, size, size, channels), np.float32)
    for i in range(n):
        r, c = rng.integers(0, size - 6, 2)
        x[i, r : r + 6, c : c + 6] = 1.0
    return x


@pytest.mark.parametrize("size,channels", [(16, 1), (32, 3), (64, 4), (128, 2)])
def test_any_power_of_two_size_and_channel_count(size, channels):
    model = DCGAN(image_size=size, channels=channels, latent_dim=8, base_filters=4)
    images = model.generate(np.zeros((2, 8), np.float32))
    assert images.shape == (2, size, size, channels)
    assert model.discriminator(images).shape == (2, 1)
    images = np.asarray(model.sample(3, seed=1))
    assert images.min() >= -1.0 and images.max() <= 1.0


@pytest.mark.parametrize("option, match", [({"latent_dim": 0}, "latent_dim"), ({"base_filters": -1}, "base_filters"),
                                           ({"label_smoothing": 2.0}, "label_smoothing"),
                                           ({"learning_rate": 0.0}, "learning_rate"), ({"latent_dim": 2.5}, "latent_dim"),
                                           ({"generator_loss": "hinge?"}, "generator_loss")])
def test_bad_options_are_clear_errors(option, match):
    with pytest.raises(KerasGenError, match=match):
        DCGAN(image_size=16, **option)


@pytest.mark.parametrize("size", [8, 24, 256])
def test_bad_image_size_is_a_clear_error(size):
    with pytest.raises(KerasGenError, match="power of two from 16 to 128"):
        DCGAN(image_size=size)


def test_architecture_follows_radford_guidelines():
    model = DCGAN(image_size=32, channels=1, latent_dim=8, base_filters=8)
    g_types = [type(layer).__name__ for layer in model.generator.layers]
    d_types = [type(layer).__name__ for layer in model.discriminator.layers]
    for types in (g_types, d_types):
        assert "Dense" not in types and "MaxPooling2D" not in types  # no FC hidden layers, no pooling
    assert "Conv2DTranspose" in g_types and "ReLU" in g_types and "BatchNormalization" in g_types
    assert model.generator.layers[-1].activation.__name__ == "tanh"
    assert "LeakyReLU" in d_types and "Conv2D" in d_types
    # no batch norm right after D's input convolution
    assert type(model.discriminator.layers[2]).__name__ == "LeakyReLU"


def test_losses_match_their_definitions():
    logits = tf.constant([[-3.0], [0.0], [2.5]])
    d = tf.sigmoid(logits)
    np.testing.assert_allclose(generator_loss(logits, "non_saturating"), -np.mean(np.log(d)), rtol=1e-5)
    np.testing.assert_allclose(generator_loss(logits, "minimax"), np.mean(np.log(1 - d)), rtol=1e-5)
    expected = -np.mean(np.log(d)) - np.mean(np.log(1 - d))
    np.testing.assert_allclose(discriminator_loss(logits, logits), expected, rtol=1e-5)
    with pytest.raises(ValueError):
        generator_loss(logits, "hinge?")


@pytest.mark.parametrize("loss", ["non_saturating", "minimax"])
def test_fit_trains_both_networks_and_tracks_losses(loss):
    model = build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=8, generator_loss=loss)
    model.compile()
    g_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    ds = tf.data.Dataset.from_tensor_slices(_blobs()).batch(16)
    history = model.fit(ds, epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(g_before, model.generator.trainable_weights))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(d_before, model.discriminator.trainable_weights))
    assert [int(o.iterations) for o in model.optimizers.values()] == [8, 8]


def test_discriminator_learns_to_separate_real_from_fake():
    """With G's learning rate at zero, D faces a fixed fake distribution and its loss must fall."""
    model = DCGAN(image_size=16, channels=1, latent_dim=8, base_filters=8)
    model.compile(optimizers={"generator": keras.optimizers.Adam(0.0),
                              "discriminator": keras.optimizers.Adam(2e-3, beta_1=0.5)})
    ds = tf.data.Dataset.from_tensor_slices(_blobs(128)).batch(32)
    history = model.fit(ds, epochs=8, verbose=0).history
    assert history["d_loss"][-1] < 0.5 * history["d_loss"][0]
    assert history["d_real"][-1] > history["d_fake"][-1]


def test_config_round_trip_and_checkpoint_reload(tmp_path):
    model = DCGAN(image_size=16, channels=3, latent_dim=8, base_filters=8, generator_loss="minimax",
                  label_smoothing=0.1, seed=3)
    run_serialization_test(model)
    model.compile()
    model.fit(tf.data.Dataset.from_tensor_slices(_blobs(32, channels=3)).batch(16), epochs=1, verbose=0)
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    loaded = run_model_saving_test(model, tmp_path, z)
    assert loaded.get_config() == model.get_config()


def test_sampling_is_seeded():
    model = DCGAN(image_size=16, channels=1, latent_dim=8, base_filters=4)
    a, b, c = model.sample(5, seed=7), model.sample(5, seed=7), model.sample(5, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(model.sample(2, seed=7), a[:2])  # prefix-stable


def test_export_endpoints_agree():
    model = DCGAN(image_size=16, channels=1, latent_dim=8, base_filters=4)
    endpoints = model.export_endpoints()
    assert {"serving_default", "sample", "generate"} <= set(endpoints)
    assert [e.onnx for e in endpoints.values()].count(True) == 1
    z = model.parity_inputs(4, seed=0)["z"]
    off = tf.constant(1.0)  # the truncation option, at its default
    floats = endpoints["generate"].fn(tf.constant(z), off)["images"].numpy()
    uint8 = endpoints["serving_default"].fn(tf.constant(z), off)["images"].numpy()
    assert uint8.dtype == np.uint8 and uint8.shape == (4, 16, 16, 1)
    np.testing.assert_array_equal(uint8, np.clip(np.round((floats + 1) * 127.5), 0, 255).astype(np.uint8))
    sampled = endpoints["sample"].fn(tf.constant(4), tf.constant(0, tf.int64), off)["images"].numpy()
    assert np.abs(sampled.astype(int) - uint8.astype(int)).max() <= 1  # same latents for the same seed
