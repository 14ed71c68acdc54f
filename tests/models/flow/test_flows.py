"""Normalising flows (keras_gen/layers/flow.py, keras_gen/models/flow/): every bijection inverts
to 1e-5, its log-det equals log |det J| of a numerical (central-difference) Jacobian on a tiny
input, the whole model's too; bits/dim reported in training equals `log_likelihood`'s through
`bits_per_dim`; the loss falls; sampling at temperature; clear errors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen import registry
from keras_gen.layers.flow import ActNorm, AffineCoupling, FactorOut, InvertibleConv1x1, LearnedPrior, Squeeze
from keras_gen.metrics.likelihood import bits_per_dim


def _randomise(layer, seed, std=0.3):
    """Random trainable weights: zero-initialised couplings and priors start as the identity,
    which would make every check trivial."""
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        w.assign(np.asarray(w) + rng.normal(0.0, std, w.shape).astype("float32"))


def numerical_log_det(fn, x, eps=1e-2):
    """log |det d fn(x) / dx| per example from central differences: (B, H, W, C) -> (B,). Every
    step of every input value goes through `fn` in one batch."""
    x = np.asarray(x, np.float64)
    batch, dims = x.shape[0], int(np.prod(x.shape[1:]))
    steps = eps * np.eye(dims)  # (in d, in d)
    flat = x.reshape(batch, 1, dims)
    moved = np.concatenate([flat + steps, flat - steps], axis=1)  # (B, 2 in d, in d)
    out = np.asarray(fn(moved.reshape(batch * 2 * dims, *x.shape[1:]).astype("float32")), np.float64)
    out = out.reshape(batch, 2, dims, -1)  # (B, up/down, in d, out d)
    jacobian = np.swapaxes((out[:, 0] - out[:, 1]) / (2 * eps), 1, 2)  # (B, out d, in d)
    return np.linalg.slogdet(jacobian)[1]


def _flat_output(layer):
    """The layer's forward output as one tensor (FactorOut: the kept half and eps side by side)."""
    def fn(x):
        out = layer(tf.constant(x))
        if isinstance(layer, FactorOut):
            kept, eps, _ = out
            return tf.concat([kept, eps], axis=-1)
        return out[0]
    return fn


def _actnorm():
    layer = ActNorm()
    layer.build((None, 4, 4, 2))
    layer.initialized.assign(1.0)
    return layer


LAYERS = {
    "checkerboard_tanh": lambda: AffineCoupling("checkerboard", parity=1, width=4, blocks=1, scale="tanh"),
    "channel_sigmoid": lambda: AffineCoupling("channel", parity=0, width=4, blocks=0, scale="sigmoid"),
    "channel_tanh_parity_1": lambda: AffineCoupling("channel", parity=1, width=4, blocks=1, scale="tanh"),
    "actnorm": _actnorm,
    "conv1x1": lambda: InvertibleConv1x1(seed=3),
    "squeeze": Squeeze,
    "factor_out_learned": lambda: FactorOut(learned=True),
    "learned_prior": LearnedPrior,
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_each_bijection_inverts_and_its_log_det_is_the_jacobians(kind):
    layer = LAYERS[kind]()
    x = np.random.default_rng(1).normal(0, 1, (2, 4, 4, 2)).astype("float32")
    layer(tf.constant(x))  # builds it
    _randomise(layer, seed=2)
    if isinstance(layer, FactorOut):
        kept, eps, log_det = layer(tf.constant(x))
        back = layer((kept, eps), reverse=True)
    else:
        y, log_det = layer(tf.constant(x))
        back = layer(y, reverse=True)
    np.testing.assert_allclose(np.asarray(back), x, atol=1e-5)
    np.testing.assert_allclose(np.asarray(log_det), numerical_log_det(_flat_output(layer), x), atol=2e-3)


def test_conv1x1_inverse_weight_is_the_matrix_inverse_by_products_alone():
    layer = InvertibleConv1x1(seed=0)
    layer.build((None, 2, 2, 12))  # 12 channels: more than one squaring in the nilpotent series
    _randomise(layer, seed=1, std=0.2)
    w = np.asarray(layer.weight(), np.float64)
    np.testing.assert_allclose(np.asarray(layer.inverse_weight()) @ w, np.eye(12), atol=1e-5)
    np.testing.assert_allclose(np.linalg.slogdet(w)[1], float(np.sum(np.asarray(layer.log_s))), atol=1e-5)


def _tiny(name, size=4, **options):
    defaults = {"realnvp": {"width": 4, "blocks": 0, "scales": 2}, "glow": {"width": 4, "levels": 2, "steps": 2}}
    return registry.build(name, image_size=size, channels=1, **{**defaults[name], **options})


@pytest.mark.parametrize("name", ["realnvp", "glow"])
def test_whole_flow_inverts_and_its_log_det_is_the_jacobians(name):
    model = _tiny(name)
    for layer in model.flow.steps + model.flow.splits + ([model.flow.top] if model.flow.top else []):
        if isinstance(layer, ActNorm):
            layer.initialized.assign(1.0)
        _randomise(layer, seed=len(layer.name), std=0.1)
    v = np.random.default_rng(0).uniform(0.1, 0.9, (3, 4, 4, 1)).astype("float32")
    eps, log_det = model.encode_dequantised(tf.constant(v))
    np.testing.assert_allclose(np.asarray(model.decode_latent(eps)), v, atol=1e-5)
    assert eps.shape == (3, model.latent_dim) == (3, 16)
    numerical = numerical_log_det(lambda x: model.encode_dequantised(tf.constant(x))[0], v, eps=1e-3)
    np.testing.assert_allclose(np.asarray(log_det), numerical, rtol=1e-3, atol=5e-3)


@pytest.mark.parametrize("name", ["realnvp", "glow"])
def test_loss_falls_and_reported_bits_per_dim_equal_the_likelihood(name):
    from keras_gen.data import load_arrays

    images, _, _ = load_arrays("digits", "train", image_size=8, channels=1, limit=64, seed=0)
    model = _tiny(name, size=8, learning_rate=1e-2)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices(images).batch(32)
    first = model.fit(data, epochs=1, verbose=0).history["bits_per_dim"][0]
    last = model.fit(data.repeat(8), epochs=1, verbose=0).history["bits_per_dim"][0]
    assert last < first - 0.3, (first, last)  # 18 steps from 8.4-9.2 bits/dim
    # what `keras-gen evaluate --metrics bpd` computes, from the model's per-image nats
    bpd = bits_per_dim(model.log_likelihood(images, seed=1), 64, continuous=True)
    np.testing.assert_allclose(model.log_likelihood(images, seed=1), model.log_likelihood(images, seed=1))  # seeded
    # learning-rate 0 steps over the whole set report the same bits/dim, up to the dequantisation draw
    model.optimizers["flow"].learning_rate.assign(0.0)
    step_bpd = model.fit(data, epochs=1, verbose=0).history["bits_per_dim"][0]
    assert abs(step_bpd - float(np.mean(bpd))) < 0.02, (step_bpd, np.mean(bpd))
    assert 0.0 < float(np.mean(bpd)) < first and model.likelihood_kind == "continuous"


def test_sampling_at_temperature_and_latent_of_generate_round_trip():
    from keras_gen.data import load_arrays
    from keras_gen.images import to_uint8

    model = _tiny("glow", size=8)
    _randomise(model.flow, seed=4, std=0.05)
    cold = [model.sample(3, seed=s, temperature=0.0) for s in (0, 1)]
    np.testing.assert_array_equal(cold[0], cold[1])  # T = 0: f^-1(0) whatever the seed
    warm = model.sample(3, seed=0, temperature=1.0)
    assert warm.shape == (3, 8, 8, 1) and -1 <= warm.min() and warm.max() <= 1
    assert np.std(model.sample(16, seed=0, temperature=0.5)) < np.std(model.sample(16, seed=0, temperature=1.5))
    images, _, _ = load_arrays("digits", "test", image_size=8, channels=1, limit=4)
    back = model.generate(model.latent_of(images), temperature=1.0)
    np.testing.assert_array_equal(to_uint8(np.asarray(back)), to_uint8(images))  # every pixel's 8-bit level
    for bad in (-0.5, 3.0):
        with pytest.raises(KerasGenError, match="temperature"):
            model.sample(2, temperature=bad)


def test_actnorm_initialises_from_the_first_batch_only():
    layer = ActNorm()
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4, 4, 2)).astype("float32")
    y, _ = layer(tf.constant(x), training=True)
    np.testing.assert_allclose(np.mean(np.asarray(y), axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.std(np.asarray(y), axis=(0, 1, 2)), 1.0, atol=1e-3)
    before = np.asarray(layer.bias)
    layer(tf.constant(x * 5.0), training=True)  # a second batch does not initialise again
    np.testing.assert_array_equal(np.asarray(layer.bias), before)


def test_bad_sizes_and_options_are_clear_errors():
    with pytest.raises(KerasGenError, match="multiples of 4"):
        registry.build("glow", image_size=6, channels=1, levels=2)
    with pytest.raises(KerasGenError, match="multiples of 2"):
        registry.build("realnvp", image_size=(8, 5), channels=1, scales=2)
    with pytest.raises(KerasGenError, match="mask"):
        AffineCoupling("stripes")
    model = _tiny("realnvp")
    with pytest.raises(KerasGenError, match="samples"):
        model.log_likelihood(np.zeros((2, 4, 4, 1), np.float32), samples=0)
    with pytest.raises(KerasGenError):
        model.log_likelihood(np.zeros((2, 5, 4, 1), np.float32))  # images of another size
