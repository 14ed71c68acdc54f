import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.features.vgg import vgg16_feature_extractor
from keras_gen.losses.perceptual import PERCEPTUAL_LAYERS, feature_reconstruction_loss
from keras_gen.models.latent.autoencoder import Autoencoder

TINY = {"code_dim": 16, "filters": 8, "downsamplings": 2}


def _blobs(n=64, size=16, seed=0):
    """One bright 6x6 square per image at a random place, on a -1 background."""
    rng = np.random.default_rng(seed)
    x = -np.ones((n, size, size, 1), np.float32)
    for i in range(n):
        r, c = rng.integers(0, size - 6, 2)
        x[i, r:r + 6, c:c + 6] = 1.0
    return x


def _fit(model, images, epochs, batch=16):
    model.compile()
    data = tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)
    return model.fit(data, epochs=epochs, verbose=0, shuffle=False).history


def test_reconstruction_loss_falls_and_beats_the_mean_image_on_held_out_data():
    train, test = _blobs(64, seed=0), _blobs(32, seed=1)
    model = Autoencoder(image_size=16, channels=1, **TINY, learning_rate=3e-3)
    history = _fit(model, train, epochs=25)
    assert history["mse"][-1] < 0.25 * history["mse"][0]
    held_out = float(np.mean((np.asarray(model.reconstruct(test)) - test) ** 2))
    mean_image = float(np.mean((train.mean(0, keepdims=True) - test) ** 2))  # the best code-free guess
    assert held_out < 0.5 * mean_image
    assert model.encode(test).shape == (32, 16)
    np.testing.assert_allclose(model.sample(4, image=test[:4]), model.reconstruct(test[:4]), atol=1e-6)


def test_mae_trains_on_the_mean_absolute_error():
    images = _blobs(16)
    model = Autoencoder(image_size=16, channels=1, loss="mae", **TINY)
    x_hat = model.decoder(model.encoder(images))
    terms = model.reconstruction_loss(x_hat, images)
    np.testing.assert_allclose(float(terms["loss"]), np.mean(np.abs(np.asarray(x_hat) - images)), rtol=1e-5)
    np.testing.assert_allclose(float(terms["mse"]), np.mean((np.asarray(x_hat) - images) ** 2), rtol=1e-5)


def test_perceptual_loss_is_pixel_mse_plus_the_vgg_feature_term():
    images = _blobs(8)
    model = Autoencoder(image_size=16, channels=1, loss="perceptual", vgg_weights="hed", **TINY)
    x_hat = np.asarray(model.decoder(model.encoder(images)))
    terms = model.reconstruction_loss(x_hat, images)
    vgg = vgg16_feature_extractor(PERCEPTUAL_LAYERS, weights="hed", channels=1)  # built independently
    got, want = vgg(x_hat), vgg(images)
    feature = np.mean([np.mean((np.asarray(got[k]) - np.asarray(want[k])) ** 2) for k in PERCEPTUAL_LAYERS])
    assert feature > 1.0  # VGG sees the difference
    np.testing.assert_allclose(float(terms["feature"]), feature, rtol=1e-4)
    np.testing.assert_allclose(float(terms["loss"]), float(terms["mse"]) + 1e-4 * feature, rtol=1e-4)
    assert float(feature_reconstruction_loss(model.feature_extractor(), images, images)) == 0.0
    # VGG is frozen and not part of the model: its weights are not trained and not checkpointed
    plain = Autoencoder(image_size=16, channels=1, **TINY)
    assert len(model.weights) == len(plain.weights)


def test_perceptual_training_lowers_the_feature_term():
    model = Autoencoder(image_size=16, channels=1, loss="perceptual", vgg_weights="hed", **TINY, learning_rate=3e-3)
    vgg_before = [np.asarray(w) for w in model.feature_extractor().weights]
    history = _fit(model, _blobs(32), epochs=30)
    assert history["feature"][-1] < 0.3 * history["feature"][0]
    for before, after in zip(vgg_before, model.feature_extractor().weights):
        np.testing.assert_array_equal(before, np.asarray(after))


@pytest.mark.parametrize("kwargs, match", [({"image_size": 18}, "multiple of 4"),
                                           ({"loss": "ssim"}, "loss must be one of"),
                                           ({"code_dim": 0}, "code_dim"),
                                           ({"vgg_weights": "resnet"}, "vgg_weights")])
def test_bad_settings_are_clear_errors(kwargs, match):
    settings = {"image_size": 16, "channels": 1, **TINY, **kwargs}
    with pytest.raises(KerasGenError, match=match):
        Autoencoder(**settings)


def test_bad_requests_are_clear_errors():
    model = Autoencoder(image_size=16, channels=1, **TINY)
    with pytest.raises(KerasGenError, match="needs an input image"):
        model.sample(2)
    with pytest.raises(KerasGenError, match=r"shape \(N, 16, 16, 1\)"):
        model.sample(2, image=np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(KerasGenError, match=r"must be in \[-1, 1\]"):
        model.sample(2, image=np.full((2, 16, 16, 1), 255.0, np.float32))
