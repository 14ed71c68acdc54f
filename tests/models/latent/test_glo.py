import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError, registry
from keras_gen.losses.laplacian import BINOMIAL_5, laplacian_l1, laplacian_pyramid, max_levels
from keras_gen.training import RunConfig, train

TINY = {"latent_dim": 6, "filters": 8, "upsamplings": 2}


# -- the Laplacian L1 loss, against a direct numpy computation ------------------------------------
def _blur_np(x):
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    h, w = x.shape[1:3]
    rows = sum(BINOMIAL_5[k] * padded[:, :, k:k + w] for k in range(5))
    return sum(BINOMIAL_5[k] * rows[:, k:k + h] for k in range(5))


def _pyramid_np(x, levels):
    out = []
    for _ in range(levels - 1):
        smaller = _blur_np(x)[:, ::2, ::2]
        out.append(x - _blur_np(smaller.repeat(2, axis=1).repeat(2, axis=2)))
        x = smaller
    return out + [x]


def _lap1_np(a, b, levels):
    pixels = np.prod(a.shape[1:])
    per_image = sum(2.0 ** (-2 * j) * np.abs(la - lb).sum(axis=(1, 2, 3)) / pixels
                    for j, (la, lb) in enumerate(zip(_pyramid_np(a, levels), _pyramid_np(b, levels))))
    return per_image.mean()


def test_laplacian_l1_is_zero_for_identical_images_and_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (3, 16, 16, 2)).astype(np.float32) for _ in range(2))
    assert max_levels(16) == 3 and max_levels(32) == 4 and max_levels(12) == 2
    assert float(laplacian_l1(a, a)) == 0.0
    for levels in (1, 2, 3):
        np.testing.assert_allclose(float(laplacian_l1(a, b, levels)), _lap1_np(a, b, levels), rtol=1e-5)
    assert float(laplacian_l1(a, b, 1)) == pytest.approx(np.abs(a - b).mean(), rel=1e-6)  # one level: plain L1


def test_laplacian_pyramid_levels_have_halving_sizes_and_sum_back_to_the_image():
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    pyramid = laplacian_pyramid(tf.constant(x), 3)
    assert [tuple(p.shape[1:3]) for p in pyramid] == [(16, 16), (8, 8), (4, 4)]
    for got, want in zip(pyramid, _pyramid_np(x, 3)):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
    # Collapsing the pyramid (upsample and add, coarse to fine) gives the image back exactly.
    from keras_gen.losses.laplacian import upsample

    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = band + upsample(image)
    np.testing.assert_allclose(np.asarray(image), x, atol=1e-5)
    # A constant image has no band-pass content: everything sits in the last level.
    flat = laplacian_pyramid(tf.fill((1, 16, 16, 1), 0.5), 3)
    assert all(float(tf.reduce_max(tf.abs(level))) < 1e-6 for level in flat[:-1])


# -- the model -----------------------------------------------------------------------------------
def _digits(n=32, size=16):
    from keras_gen.data import load_arrays

    return load_arrays("digits", "train", image_size=size, channels=1, limit=n)[0]


@pytest.fixture(scope="module")
def trained():
    tf.keras.utils.set_random_seed(0)
    images = _digits()
    model = registry.build("glo", image_size=16, channels=1, num_images=len(images), **TINY)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(len(images), dtype=np.int64))).batch(16)
    history = model.fit(data.repeat(), epochs=3, steps_per_epoch=100, verbose=0).history
    return model, images, history


def test_training_lowers_the_loss_and_keeps_latents_on_the_unit_sphere(trained):
    model, _, history = trained
    assert history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(np.linalg.norm(model.latents(), axis=1), 1.0, atol=1e-5)


def test_fitted_gaussian_matches_the_latents_mean_and_covariance(trained):
    model, _, _ = trained
    z = model.latents()
    mean, cholesky = np.asarray(model.latent_mean), np.asarray(model.latent_cholesky)
    np.testing.assert_allclose(mean, z.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(cholesky @ cholesky.T, np.cov(z, rowvar=False), atol=1e-4)
    assert np.allclose(np.triu(cholesky, 1), 0.0)
    # Samples are the generator's images of (mu + L eps) projected to the sphere.
    eps = np.random.default_rng(2).standard_normal((4, TINY["latent_dim"])).astype(np.float32)
    shaped = mean + eps @ cholesky.T
    np.testing.assert_allclose(np.asarray(model.generate(eps)),
                               np.asarray(model.decode(shaped / np.linalg.norm(shaped, axis=1, keepdims=True))),
                               atol=1e-5)


def test_project_reduces_the_reconstruction_error_of_a_training_image(trained):
    model, images, _ = trained
    start = model.project(images[:2], steps=0, seed=3)
    found = model.project(images[:2], steps=60, seed=3)
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    before, after = model.reconstruction_error(images[:2], start), model.reconstruction_error(images[:2], found)
    assert after < 0.5 * before
    with pytest.raises(KerasGenError, match="project takes images"):
        model.project(images[:2, :8], steps=1)


def test_glo_needs_its_table_size_and_a_run_refuses_data_of_another_size(tmp_path):
    with pytest.raises(KerasGenError, match="num_images"):
        registry.build("glo", image_size=16, channels=1, **TINY)
    config = RunConfig("glo", data="digits", image_size=16, epochs=1, steps_per_epoch=1, batch_size=8,
                       options={**TINY, "num_images": 5})
    with pytest.raises(KerasGenError, match="1437 train images"):
        train(tmp_path / "run", config, verbose=0)
