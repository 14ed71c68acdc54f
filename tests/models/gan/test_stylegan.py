"""StyleGAN: demodulation, the modulated convolution against a per-sample reference, truncation in W,
style mixing, the noise inputs, and one training step reaching every network."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.layers.stylegan_blocks import ModulatedConv2D
from keras_gen.registry import build

TINY = {"latent_dim": 8, "w_dim": 8, "mapping_layers": 2, "base_filters": 4, "max_filters": 8}


def _stylegan(**options):
    return build("stylegan", image_size=8, channels=1, **{**TINY, **options})


@pytest.fixture(scope="module")
def model():
    m = _stylegan()
    rng = np.random.default_rng(0)
    m.w_average.w_avg.assign(rng.normal(size=8).astype("float32"))  # away from 0: truncation must use it
    for layer in m.synthesis.layers:  # noise on, so the stored noise maps matter
        if hasattr(layer, "strength"):
            layer.strength.assign(np.full(layer.strength.shape, 0.5, np.float32))
    return m


def _z(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 8)).astype("float32")


def _modconv(demodulate):
    layer = ModulatedConv2D(3, 3, style_index=1, demodulate=demodulate)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 5, 4)).astype("float32")
    ws = rng.normal(size=(2, 3, 6)).astype("float32")
    layer([x, ws])  # builds the layer
    layer.affine.bias.assign(rng.normal(size=4).astype("float32"))  # styles far from 1
    return layer, x, ws, np.asarray(layer([x, ws]))


def test_demodulation_gives_unit_norm_weights_per_output_channel():
    layer, x, ws, _ = _modconv(demodulate=True)
    weights = np.asarray(layer.modulated_weights(layer.styles(ws)), np.float64)  # (B, k, k, C_in, C_out)
    np.testing.assert_allclose(np.sqrt((weights ** 2).sum(axis=(1, 2, 3))), 1.0, rtol=1e-5)
    raw, _, _, _ = _modconv(demodulate=False)
    raw_norms = np.sqrt((np.asarray(raw.modulated_weights(raw.styles(ws))) ** 2).sum(axis=(1, 2, 3)))
    assert np.abs(raw_norms - 1).max() > 0.1  # without demodulation the norms follow the styles


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_convolution_equals_a_per_sample_reference(demodulate):
    layer, x, ws, y = _modconv(demodulate)
    styles = np.asarray(layer.affine(ws[:, 1]), np.float64)
    kernel = np.asarray(layer.kernel, np.float64) * layer.scale
    modulated = kernel[None] * styles[:, None, None, :, None]  # w'_ijk = s_i w_ijk
    if demodulate:
        modulated /= np.sqrt((modulated ** 2).sum(axis=(1, 2, 3), keepdims=True) + 1e-8)
    np.testing.assert_allclose(np.asarray(layer.modulated_weights(layer.styles(ws))), modulated, rtol=1e-5, atol=1e-6)
    padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = np.zeros(y.shape)
    for b in range(2):  # each sample convolved with its own weights ('same', cross-correlation as in TF)
        for i in range(5):
            for j in range(5):
                expected[b, i, j] = np.einsum("hwc,hwco->o", padded[b, i:i + 3, j:j + 3], modulated[b])
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_truncation_one_is_none_and_zero_is_the_average_image(model):
    z = _z(3, 2)
    ws = np.repeat(np.asarray(model.mapping(z))[:, None], model.num_ws, axis=1)
    np.testing.assert_allclose(model.generate(z, 1.0), model.synthesize(ws), atol=1e-6)
    average = np.repeat(np.asarray(model.w_average.w_avg)[None, None], model.num_ws, axis=1)
    average_image = np.asarray(model.synthesize(average))[0]
    zero = np.asarray(model.generate(z, 0.0))
    for image in zero:
        np.testing.assert_allclose(image, average_image, atol=1e-6)
    assert not np.allclose(model.generate(z, 0.7), zero, atol=1e-3)
    with pytest.raises(KerasGenError, match="truncation=1.5 is out of range: pass a value from 0.0 to 1.0"):
        model.sample(2, seed=0, truncation=1.5)
    with pytest.raises(KerasGenError, match="truncation=-0.1 is out of range"):
        model.sample(2, seed=0, truncation=-0.1)
    sample = model.export_endpoints()["sample"]  # the SavedModel's request refuses it too
    assert [s.name for s in sample.inputs] == ["n", "seed", "truncation"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="truncation must be <= 1.0"):
        sample.fn(tf.constant(2), tf.constant(0, tf.int64), tf.constant(1.5))


def test_style_mixing_takes_the_coarse_layers_from_z_and_the_rest_from_z_mix(model):
    z, z_mix = _z(2, 3), _z(2, 4)
    np.testing.assert_allclose(model.mix(z, z_mix, 0), model.generate(z_mix), atol=1e-6)  # crossover 0: z_mix's
    np.testing.assert_allclose(model.mix(z, z_mix, model.num_ws), model.generate(z), atol=1e-6)
    middle = np.asarray(model.mix(z, z_mix, 2, 0.5))
    assert not np.allclose(middle, model.generate(z, 0.5), atol=1e-4)
    assert not np.allclose(middle, model.generate(z_mix, 0.5), atol=1e-4)
    mix = model.export_endpoints()["mix"]
    assert [(s.name, s.kind) for s in mix.inputs] == [("z", "latent"), ("z_mix", "latent"), ("crossover", "option"),
                                                      ("truncation", "option")]
    out = mix.fn(tf.constant(z), tf.constant(z_mix), tf.constant(2), tf.constant(0.5))["images"]
    np.testing.assert_allclose(out, middle, atol=1e-6)


def test_noise_is_fresh_in_training_and_the_stored_map_at_inference(model):
    inputs = [_z(2, 5), _z(2, 6), np.full((2,), model.num_ws, np.int32)]
    a, b = model.generator(inputs, training=True), model.generator(inputs, training=True)
    assert not np.allclose(a, b, atol=1e-4)
    np.testing.assert_array_equal(model.generator(inputs), model.generator(inputs))
    np.testing.assert_array_equal(model.sample(3, seed=7), model.sample(3, seed=7))


def test_style_mixing_draws_a_crossover_with_its_probability():
    m = _stylegan()
    drawn = {}
    for probability in (1.0, 0.0, 0.5):
        m.options.style_mixing = probability  # read at each draw
        _, _, crossover = m.draw_styles(256)
        drawn[probability] = np.asarray(crossover)
    assert (1 <= drawn[1.0]).all() and (drawn[1.0] < m.num_ws).all() and len(set(drawn[1.0])) == m.num_ws - 1
    assert (drawn[0.0] == m.num_ws).all()
    assert 0.3 < (drawn[0.5] < m.num_ws).mean() < 0.7


def test_train_step_changes_mapping_synthesis_discriminator_and_w_avg():
    m = _stylegan(ema=0.0)
    m.compile()
    networks = {"mapping": m.mapping, "synthesis": m.synthesis, "discriminator": m.discriminator}
    before = {k: [np.asarray(w).copy() for w in n.trainable_weights] for k, n in networks.items()}
    w_avg = np.asarray(m.w_average.w_avg).copy()
    assert m.options.r1_gamma > 0 and m.options.loss == "non_saturating"  # the defaults: NS loss + R1
    x = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    logs = m.train_step(tf.constant(x))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    for name, network in networks.items():
        assert any(not np.allclose(a, np.asarray(b)) for a, b in zip(before[name], network.trainable_weights)), name
    assert not np.allclose(w_avg, m.w_average.w_avg)  # tracked in both the D and the G step


def test_image_size_must_be_a_power_of_two():
    with pytest.raises(KerasGenError, match="power of two from 8 to 256"):
        build("stylegan", image_size=24, channels=1, **TINY)
