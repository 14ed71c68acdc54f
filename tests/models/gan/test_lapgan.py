"""LAPGAN: its pyramid, its coarse-to-fine sampler, and a train step that moves every level."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.layers.laplacian_pyramid import PyramidUpsample, gaussian_pyramid, laplacian_bands, reconstruct
from keras_gen.losses.laplacian import downsample, upsample
from keras_gen.registry import build

TINY = {"latent_dim": 8, "base_filters": 4, "residual_filters": 4}


def _lapgan(**options):
    return build("lapgan", image_size=32, channels=1, **{**TINY, "levels": 3, **options})


def test_pyramid_bands_sum_back_to_the_image():
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32"))
    pyramid = gaussian_pyramid(images, 3)
    assert [p.shape[1] for p in pyramid] == [8, 16, 32] and pyramid[-1] is images
    np.testing.assert_allclose(pyramid[0], downsample(downsample(images)), atol=1e-6)
    bands = laplacian_bands(images, 3)
    assert [b.shape[1:] for b in bands] == [(8, 8, 3), (16, 16, 3), (32, 32, 3)]
    np.testing.assert_allclose(reconstruct(bands), images, atol=2e-6)
    # The band-pass levels carry detail only: a constant image has zero residuals.
    flat = laplacian_bands(tf.fill((1, 16, 16, 1), 0.3), 2)
    np.testing.assert_allclose(flat[1], 0.0, atol=1e-6)
    np.testing.assert_allclose(PyramidUpsample()(pyramid[0]), upsample(pyramid[0]), atol=0)


def test_sampling_runs_coarse_to_fine_in_one_graph():
    model = _lapgan()
    assert model.sides() == [8, 16, 32] and model.noise_sizes() == [8, 256, 1024]
    assert [(s.name, s.kind, s.shape) for s in model.request_specs()] == [
        ("z", "latent", (8 + 256 + 1024,)), ("truncation", "option", ())]
    z = tf.constant(np.random.default_rng(1).normal(size=(3, 1288)).astype("float32"))
    # By hand, level by level: I_0 = G_0(z_0), I_k = u(I_{k-1}) + G_k(z_k, u(I_{k-1})).
    z_0, z_1, z_2 = tf.split(z, [8, 256, 1024], axis=-1)
    image = model.level_generator(0)(z_0)
    assert image.shape == (3, 8, 8, 1)
    for k, z_k in ((1, z_1), (2, z_2)):
        condition = upsample(image)
        residual = model.level_generator(k)([condition, z_k])
        assert residual.shape == (3, 8 * 2 ** k, 8 * 2 ** k, 1)
        image = condition + residual
    np.testing.assert_allclose(model.generator(z), image, atol=1e-5)
    images = model.generate(z)
    assert images.shape == (3, 32, 32, 1) and float(tf.reduce_max(tf.abs(images))) <= 1.0
    assert model.export_metadata()["latent_dim"] == 1288


def test_train_step_changes_every_levels_generator_and_discriminator():
    # The default path is the harness's; here every per-level extra of the loop runs as well.
    model = build("lapgan", image_size=16, channels=1, **TINY, levels=2, gradient_penalty=10.0, r1_gamma=1.0,
                  augment="translation,cutout")
    model.compile()
    networks = [model.level_generator(k) for k in range(2)] + [model.level_discriminator(k) for k in range(2)]
    before = [[np.array(v) for v in n.trainable_variables] for n in networks]
    images = np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    logs = model.train_on_batch(images, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    for network, old in zip(networks, before):
        moved = [not np.array_equal(a, np.asarray(b)) for a, b in zip(old, network.trainable_variables)]
        assert all(moved), f"{network.name}: {moved}"
    assert [int(o.iterations) for o in model.optimizers.values()] == [1, 1]
    # A penalised critic normalises per sample.
    assert not any("batch_normalization" in layer.name for layer in model.level_discriminator(1).layers)


def test_image_size_and_levels_must_leave_a_coarse_level_of_8_px():
    with pytest.raises(KerasGenError, match="coarsest level"):
        build("lapgan", image_size=16, channels=1, **{**TINY, "levels": 3})
    with pytest.raises(KerasGenError, match="power-of-two"):
        build("lapgan", image_size=24, channels=1, **TINY)
