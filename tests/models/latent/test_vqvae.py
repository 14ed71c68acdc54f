"""VQ-VAE (keras_gen/models/latent/vqvae.py) and its quantiser (keras_gen/layers/vector_quantizer.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.layers.vector_quantizer import VectorQuantizer, check_codes
from keras_gen.models.latent.vqvae import VQVAE
from tests.model_checks import run_serialization_test


def _quantizer(**kwargs):
    q = VectorQuantizer(4, 2, **kwargs)
    q.codebook.assign(np.array([[0, 0], [1, 0], [0, 1], [5, 5]], np.float32))
    q.ema_sum.assign(q.codebook)
    return q


Z = np.array([[[0.1, 0.0], [0.9, 0.2], [0.2, 1.1]], [[0.0, -0.1], [1.2, 0.1], [0.1, 0.8]]], np.float32)  # (2, 3, 2)
NEAREST = np.array([[0, 1, 2], [0, 1, 2]])  # code 3 is never used


def test_nearest_code_and_straight_through_gradient():
    q = _quantizer()
    z = tf.constant(Z)
    weights = tf.constant(np.arange(12, dtype=np.float32).reshape(Z.shape))
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = q.straight_through(z)
        y = tf.reduce_sum(weights * out["z_q"])
    np.testing.assert_array_equal(out["codes"], NEAREST)
    np.testing.assert_allclose(out["z_q"], np.asarray(q.codebook)[NEAREST], atol=1e-7)  # forward: the codes
    np.testing.assert_array_equal(tape.gradient(y, z), weights)  # backward: identity, bit for bit
    np.testing.assert_allclose(q(z), out["z_q"])  # call() is the same quantisation


def test_codebook_loss_moves_used_codes_towards_the_encoder_outputs_and_commitment_does_not():
    q = _quantizer()
    z = tf.constant(Z)
    before = np.asarray(q.codebook).copy()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        out = q.straight_through(z)
    assert tape.gradient(out["commitment_loss"], q.codebook) is None  # sg[e] in the commitment term
    assert tape.gradient(out["codebook_loss"], z) is None  # sg[z_e] in the codebook term
    expected_commitment = 0.25 * np.mean((Z - before[NEAREST]) ** 2)
    np.testing.assert_allclose(out["commitment_loss"], expected_commitment, rtol=1e-6)
    opt = keras.optimizers.SGD(1.0)
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = q.straight_through(z)["codebook_loss"]
        opt.apply_gradients([(tape.gradient(loss, q.codebook), q.codebook)])
    after = np.asarray(q.codebook)
    means = np.stack([Z[NEAREST == j].mean(0) for j in range(3)])
    assert np.all(np.abs(after[:3] - means) < 0.5 * np.abs(before[:3] - means) + 1e-6)  # pulled to their members
    np.testing.assert_array_equal(after[3], before[3])  # an unused code gets no gradient


def test_ema_mode_updates_codes_without_a_codebook_loss():
    q = _quantizer(use_ema=True, decay=0.5)
    assert not q.codebook.trainable and q.trainable_variables == []
    out = q.straight_through(tf.constant(Z))
    assert float(out["codebook_loss"]) == 0.0 and float(out["commitment_loss"]) > 0
    count, total = np.ones(4), np.asarray(q.codebook).copy()
    q.update_codebook(tf.constant(Z), out["codes"])
    n = np.bincount(NEAREST.ravel(), minlength=4)
    sums = np.stack([Z[NEAREST == j].sum(0) if n[j] else np.zeros(2) for j in range(4)])
    count, total = 0.5 * count + 0.5 * n, 0.5 * total + 0.5 * sums  # N_j, m_j
    smoothed = (count + 1e-5) / (count.sum() + 4e-5) * count.sum()
    np.testing.assert_allclose(q.ema_count, count, rtol=1e-6)
    np.testing.assert_allclose(q.codebook, total / smoothed[:, None], rtol=1e-5)
    assert np.abs(np.asarray(q.codebook)[1] - np.array([1.05, 0.15]) / 1.0).max() < 0.1  # towards its members


def test_dead_codes_restart_from_encoder_outputs_deterministically():
    def run():
        q = _quantizer(restart_after=2, seed=7)
        for _ in range(2):
            out = q.straight_through(tf.constant(Z))
            q.update_codebook(tf.constant(Z), out["codes"])
        return q

    q, again = run(), run()
    assert float(q.restarts) == 1.0
    assert any(np.array_equal(np.asarray(q.codebook)[3], v) for v in Z.reshape(-1, 2))  # code 3 is an encoder output
    np.testing.assert_array_equal(q.codebook, again.codebook)  # seeded: the same restart every time
    np.testing.assert_array_equal(q.idle_steps, [0, 0, 0, 0])


def test_perplexity_lies_between_one_and_the_codebook_size():
    q = _quantizer()
    one = q.statistics(tf.zeros((2, 3), tf.int32))
    every = q.statistics(tf.constant([[0, 1, 2, 3]]))
    np.testing.assert_allclose([one["perplexity"], one["usage"]], [1.0, 0.25], rtol=1e-6)
    np.testing.assert_allclose([every["perplexity"], every["usage"]], [4.0, 1.0], rtol=1e-6)
    mixed = q.statistics(tf.constant(NEAREST))
    assert 1.0 < float(mixed["perplexity"]) <= 3.0 + 1e-5


def test_reconstruction_loss_falls_on_tiny_data():
    from keras_gen.data import load_arrays

    images, _, _ = load_arrays("digits", "train", image_size=16, channels=1, limit=32, seed=0)
    model = VQVAE(image_size=16, channels=1, num_codes=16, code_dim=4, filters=16, learning_rate=3e-3,
                  restart_after=5, prior_filters=16, prior_layers=3, prior_learning_rate=1e-2)
    model.compile()
    history = model.fit(tf.data.Dataset.from_tensor_slices(images).batch(32).repeat(), epochs=3,
                        steps_per_epoch=20, verbose=0).history
    assert history["reconstruction"][-1] < 0.5 * history["reconstruction"][0]
    assert 1.0 <= history["perplexity"][-1] <= 16.0 and 0 < history["usage"][-1] <= 1.0
    codes = model.encode(images[:4])
    assert codes.shape == (4, 4, 4) and codes.dtype == np.int32
    np.testing.assert_allclose(model.decode_codes(codes), model.reconstruct(images[:4]), atol=1e-6)
    assert history["prior_bits"][-1] < history["prior_bits"][0] - 0.3  # the prior learns the code maps
    _check_samples_come_from_the_prior(model)


def _check_samples_come_from_the_prior(model):
    """Sampling draws a code map from the PixelCNN prior (numpy loop == TF loop, codes in the
    codebook) and decodes it: model.sample is decode_codes of those codes."""
    from keras_gen import inputs as kinds
    from keras_gen.samplers.pixelcnn import PixelCNNSampler

    values = kinds.resolve_inputs(model.request_specs(), 6, 3)
    code_sampler = PixelCNNSampler(**{**model.sampler().get_config(), "decode": False})

    def network(feeds):
        return {k: np.asarray(v) for k, v in model.network(**{k: tf.constant(v) for k, v in feeds.items()}).items()}

    codes = code_sampler.run_numpy(network, values, 6, 3)
    np.testing.assert_array_equal(codes, code_sampler.run_tf(model._network_fn, values, 6, 3))
    assert codes.shape == (6, 4, 4, 1) and codes.min() >= 0 and codes.max() < model.options.num_codes
    assert len(np.unique(codes)) > 1
    samples = model.sample(6, seed=3)
    np.testing.assert_allclose(samples, model.decode_codes(codes[..., 0]), atol=1e-6)
    assert not np.array_equal(samples, model.sample(6, seed=4))


@pytest.mark.parametrize("codes, match", [(np.full((1, 4, 4), 8), "from 0 to 7"), (np.full((1, 4, 4), -1), "from 0 to 7"),
                                          (np.full((1, 4, 4), 1.5), "whole-number"),
                                          (np.zeros((1, 3, 3), int), r"shape \(N, 4, 4\)"),
                                          (np.zeros((0, 4, 4), int), "empty")])
def test_codes_outside_the_codebook_are_clear_errors(codes, match):
    model = VQVAE(image_size=16, channels=1, num_codes=8, code_dim=4, filters=4)
    with pytest.raises(KerasGenError, match=match):
        model.decode_codes(codes)
    assert check_codes([[0, 7]], 8).dtype == np.int32


def test_bad_images_and_options_are_clear_errors():
    model = VQVAE(image_size=16, channels=1, num_codes=8, code_dim=4, filters=4)
    with pytest.raises(KerasGenError, match=r"shape \(N, 16, 16, 1\)"):
        model.encode(np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(KerasGenError, match="divisible by 4"):
        VQVAE(image_size=18, channels=1)
    with pytest.raises(KerasGenError, match="codebook"):
        VQVAE(image_size=16, codebook="kmeans")
    run_serialization_test(VQVAE(image_size=16, channels=1, codebook="ema", num_codes=8, code_dim=4, filters=4))
