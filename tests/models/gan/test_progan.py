"""ProGAN: its blocks against numpy, the fade-in blend, the growth schedule, and growth across a save."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.layers.equalized import EqualizedConv2D, EqualizedDense, MinibatchStdDev, PixelNorm
from keras_gen.layers.progan_blocks import LodBlend, growth_state, pixelate, reals_at_lod
from keras_gen.registry import build
from tests.model_checks import assert_same_training_state

TINY = {"latent_dim": 8, "filters": 8, "phase_images": 12}


def _progan(image_size=16, **options):
    return build("progan", image_size=image_size, channels=1, **{**TINY, **options})


def test_minibatch_stddev_matches_numpy():
    x = np.random.default_rng(0).normal(size=(5, 4, 4, 3)).astype("float32")
    out = np.asarray(MinibatchStdDev()(x))
    sigma = np.sqrt(x.astype(np.float64).var(axis=0) + 1e-8).mean()
    assert out.shape == (5, 4, 4, 4)
    np.testing.assert_array_equal(out[..., :3], x)
    np.testing.assert_allclose(out[..., 3], sigma, rtol=1e-5)


def test_equalised_learning_rate_scales_unit_weights_by_he_constant():
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 5)).astype("float32")
    conv = EqualizedConv2D(7, 3)
    out = np.asarray(conv(x))
    assert conv.scale == pytest.approx(math.sqrt(2.0 / (3 * 3 * 5)))
    assert abs(float(np.std(conv.kernel)) - 1.0) < 0.15  # stored at unit scale: N(0, 1)
    reference = keras.layers.Conv2D(7, 3, padding="same")
    reference.build(x.shape)
    reference.set_weights([np.asarray(conv.kernel) * conv.scale, np.asarray(conv.bias)])
    np.testing.assert_allclose(out, reference(x), atol=1e-5)
    dense = EqualizedDense(4, gain=1.0)
    v = x.reshape(2, -1)
    np.testing.assert_allclose(dense(v), v @ (np.asarray(dense.kernel) / math.sqrt(v.shape[1])), atol=1e-5)


def test_pixel_norm_gives_unit_rms_per_pixel():
    x = np.random.default_rng(2).normal(scale=7.0, size=(3, 4, 4, 16)).astype("float32")
    rms = np.sqrt(np.mean(np.square(np.asarray(PixelNorm()(x))), axis=-1))
    np.testing.assert_allclose(rms, 1.0, rtol=1e-5)


def test_fade_in_blends_the_new_stage_with_the_upsampled_old_one():
    rng = np.random.default_rng(3)
    model = _progan()
    g = model.generator
    taps = keras.Model(g.inputs, [g.get_layer("to_rgb_0").output, g.get_layer("to_rgb_1").output])
    up = lambda a, f: a.repeat(f, axis=1).repeat(f, axis=2)  # noqa: E731
    finer, coarser = rng.normal(size=(2, 8, 8, 1)).astype("float32"), rng.normal(size=(2, 8, 8, 1)).astype("float32")
    z = rng.normal(size=(2, 8)).astype("float32")
    x = rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    for alpha in (0.0, 0.5, 1.0):
        # Stages 4, 8, 16 px: the 8 px stage (its lod is 1) fading in at alpha is lod = 3 - 1 - alpha.
        lod = np.full((2, 1), 2.0 - alpha, np.float32)
        np.testing.assert_allclose(LodBlend(1)([finer, coarser, lod]), alpha * finer + (1 - alpha) * coarser,
                                   atol=1e-6)
        # G's 16 px output: alpha * up2(toRGB_1) + (1 - alpha) * up4(toRGB_0).
        rgb_0, rgb_1 = (np.asarray(t) for t in taps([z, lod]))
        np.testing.assert_allclose(g([z, lod]), alpha * up(rgb_1, 2) + (1 - alpha) * up(rgb_0, 4), atol=1e-5)
        # Reals fade the same way, between the 8 px and the 4 px pixelations.
        np.testing.assert_allclose(reals_at_lod(x, 2.0 - alpha, 3),
                                   alpha * pixelate(x, 1) + (1 - alpha) * pixelate(x, 2), atol=1e-6)


def test_growth_schedule_phases():
    # P = 10, 3 stages: 4x4 for 10 images, 8x8 fades in over 10-19, is stable 20-29, 16x16 fades in 30-39, stays.
    table = {0: (0, 1.0), 9: (0, 1.0), 10: (1, 0.0), 15: (1, 0.5), 20: (1, 1.0), 29: (1, 1.0), 30: (2, 0.0),
             38: (2, 0.8), 40: (2, 1.0), 10**6: (2, 1.0)}
    for seen, (stage, alpha) in table.items():
        assert growth_state(seen, 10, 3) == pytest.approx((stage, alpha)), seen
        got = growth_state(tf.constant(seen, tf.int64), 10, 3)
        assert (int(got[0]), float(got[1])) == pytest.approx((stage, alpha)), seen


def test_growth_advances_trains_only_grown_blocks_and_resumes_exactly_inside_a_fade_in(tmp_path):
    model = _progan(image_size=8, ema=0.9)  # stages 4 and 8 px
    model.compile()
    g = model.generator
    rgb_1 = np.asarray(g.get_layer("to_rgb_1").kernel)
    images = np.random.default_rng(4).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    model.train_on_batch(images)  # 4x4 only
    assert (int(model.images_seen), int(model.stage), float(model.alpha)) == (8, 0, 1.0)
    np.testing.assert_array_equal(g.get_layer("to_rgb_1").kernel, rgb_1)  # not grown yet: no gradient
    model.train_on_batch(images)  # still 4x4; now 16 seen: the 8x8 stage is fading in
    assert (int(model.images_seen), int(model.stage)) == (16, 1)
    assert float(model.alpha) == pytest.approx(4 / 12) and float(model.lod()) == pytest.approx(2 - 1 - 4 / 12)
    path = tmp_path / "progan.keras"
    model.save(path)  # mid-fade-in
    loaded = keras.saving.load_model(path, safe_mode=True)
    for m in (model, loaded):  # a step inside the fade-in, where toRGB_1 trains
        m.train_on_batch(images)
    assert_same_training_state(model, loaded)
    assert not np.array_equal(np.asarray(g.get_layer("to_rgb_1").kernel), rgb_1)
    assert (int(loaded.images_seen), int(loaded.stage), float(loaded.alpha)) == (24, 1, 1.0)
    np.testing.assert_array_equal(loaded.sample(3, seed=2), model.sample(3, seed=2))


def test_bad_sizes_and_options_are_user_errors():
    with pytest.raises(KerasGenError, match="power-of-two"):
        build("progan", image_size=24, channels=1, **TINY)
    with pytest.raises(KerasGenError, match="no option 'spectral_norm'"):  # the equalised lr keeps the scale
        build("progan", image_size=8, channels=1, spectral_norm=True, **TINY)
