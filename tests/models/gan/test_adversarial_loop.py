"""The adversarial game (keras_gen/models/gan/game.py) in the GANs' steps, and its augmentation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.layers.augment import diff_augment
from keras_gen.registry import build
from tests.model_checks import run_model_saving_test

TINY = {"latent_dim": 8, "base_filters": 4}


def _images(n=24, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 16, 16, 1)).astype("float32")


def _steps(model, n_steps, batch=8, labelled=False):
    x = _images(n_steps * batch)
    data = (x, (np.arange(len(x)) % 10).astype("int64")) if labelled else x
    logs = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None, out=logs: out.append(dict(logs)))
    model.fit(tf.data.Dataset.from_tensor_slices(data).batch(batch), epochs=1, verbose=0, callbacks=[callback])
    return logs


# Recorded on main's DCGAN (commit fa30006, before the shared loop) with the same seeds: 3 steps of
# 8 random images. The loop with its new options off must give the same numbers.
BEFORE_THE_LOOP = {
    "dcgan": ({}, {"d_fake": 0.4993530213832855, "d_loss": 1.3838082551956177, "d_real": 0.5006082057952881,
                   "g_loss": 0.6943871974945068}, 0.3226679563522339),
    "dcgan_minimax": ({"generator_loss": "minimax", "label_smoothing": 0.1},
                      {"d_fake": 0.4992314279079437, "d_loss": 1.3839982748031616, "d_real": 0.5004892349243164,
                       "g_loss": -0.6915028691291809}, 0.31842634081840515),
    "cdcgan": ({"embed_dim": 4}, {"d_fake": 0.49997439980506897, "d_loss": 1.3860102891921997,
                                  "d_real": 0.5001329779624939, "g_loss": 0.6929893493652344}, 0.09791217744350433),
}


@pytest.mark.parametrize("case", sorted(BEFORE_THE_LOOP))
def test_dcgan_and_cdcgan_train_as_before_the_shared_loop(case):
    options, last_logs, sample_sum = BEFORE_THE_LOOP[case]
    name = case.split("_")[0]
    keras.utils.set_random_seed(1)
    labelled = name == "cdcgan"
    model = build(name, image_size=16, channels=1, num_classes=10 if labelled else None, seed=2, **TINY, **options)
    model.compile()
    logs = _steps(model, 3, labelled=labelled)
    for key, value in last_logs.items():
        np.testing.assert_allclose(float(logs[-1][key]), value, rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(np.abs(model.sample(2, seed=3)).sum(), sample_sum, rtol=1e-5)


def test_n_critic_counts_updates():
    model = build("dcgan", image_size=16, channels=1, n_critic=3, **TINY)
    model.compile()
    g_before = [np.asarray(w).copy() for w in model.generator.trainable_weights]
    _steps(model, 2)  # two D updates, no G update yet
    assert [int(model.optimizers[k].iterations) for k in ("discriminator", "generator")] == [2, 0]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(g_before, model.generator.trainable_weights))
    _steps(model, 5)  # D updates 3..7: G after the 3rd and the 6th
    assert [int(model.optimizers[k].iterations) for k in ("discriminator", "generator")] == [7, 2]


@pytest.mark.parametrize("name, options", [
    ("dcgan", {"loss": "hinge", "r1_gamma": 1.0, "spectral_norm": True, "augment": "color,translation,cutout"}),
    ("dcgan", {"loss": "least_squares", "ema": 0.99, "augment": "translation", "ada_target": 0.6}),
    ("cdcgan", {"embed_dim": 4, "augment": "cutout", "gradient_penalty": 1.0}),
    ("wgan", {}),
    ("wgan_gp", {}),
    ("acgan", {"embed_dim": 4}),
    ("infogan", {"categories": 3, "q_units": 8}),
    ("ssgan", {"labels_per_class": 1}),
])
def test_each_model_and_option_trains_both_networks(name, options):
    labelled = name in ("cdcgan", "acgan", "ssgan")
    model = build(name, image_size=16, channels=1, num_classes=10 if labelled else None, **TINY, **options)
    model.compile()
    g_before = [np.asarray(w).copy() for w in model.generator.trainable_weights]
    d_before = [np.asarray(w).copy() for w in model.discriminator.trainable_weights]
    logs = _steps(model, model.options.n_critic, labelled=labelled)  # one full round: n_critic D steps, one G
    assert all(np.isfinite(v) for v in logs[-1].values()), logs[-1]
    for before, network in ((g_before, model.generator), (d_before, model.discriminator)):
        assert any(not np.allclose(a, np.asarray(b)) for a, b in zip(before, network.trainable_weights)), network.name
    if model.options.clip_value:
        assert max(float(np.abs(np.asarray(w)).max()) for w in model.discriminator.trainable_weights) \
            <= model.options.clip_value + 1e-7


def test_wgan_and_wgan_gp_follow_their_papers():
    wgan = build("wgan", image_size=16, channels=1, **TINY)
    wgan_gp = build("wgan_gp", image_size=16, channels=1, **TINY)
    assert (wgan.options.loss, wgan.options.n_critic, wgan.options.clip_value) == ("wasserstein", 5, 0.01)
    assert isinstance(wgan.default_optimizers()["discriminator"], keras.optimizers.RMSprop)
    assert (wgan_gp.options.n_critic, wgan_gp.options.gradient_penalty) == (5, 10.0)
    adam = wgan_gp.default_optimizers()["discriminator"]
    assert (float(adam.learning_rate), adam.beta_1, adam.beta_2) == (pytest.approx(1e-4), 0.0, 0.9)
    layer_types = {type(layer).__name__ for layer in wgan_gp.discriminator.layers}
    assert "BatchNormalization" not in layer_types and "LayerNormalization" in layer_types  # per-sample penalty


def test_spectral_norm_wraps_every_discriminator_convolution():
    model = build("dcgan", image_size=16, channels=1, spectral_norm=True, **TINY)
    wrapped = [layer for layer in model.discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3 and not any(isinstance(layer, keras.layers.Conv2D) for layer in model.discriminator.layers)


@pytest.mark.parametrize("options, match", [({"ada_target": 0.6}, "augment policy"),
                                            ({"augment": "flip"}, "augment must be one of"),
                                            ({"loss": "hinge", "label_smoothing": 0.1}, "label_smoothing"),
                                            ({"loss": "hinge", "generator_loss": "minimax"}, "loss=hinge"),
                                            ({"n_critic": 0}, "n_critic")])
def test_bad_loop_options_are_clear_errors(options, match):
    with pytest.raises(KerasGenError, match=match):
        build("dcgan", image_size=16, channels=1, **TINY, **options)


# -- augmentation ---------------------------------------------------------------------------
POLICY = "color,translation,cutout"


def test_augmentation_is_differentiable():
    x = tf.constant(_images(4))
    for policy in ("color", "translation", "cutout", POLICY):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = diff_augment(x, tf.constant([1, 2]), policy)
            energy = tf.reduce_sum(y * y)
        grad = tape.gradient(energy, x)
        assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0, policy
        assert y.shape == x.shape


@pytest.mark.parametrize("probability", [None, 0.5])
def test_the_same_draw_transforms_real_and_fake_alike(probability):
    """Every policy is affine in the images for a fixed draw, T(x) = L x + c, so one draw applied
    to real and fake gives T(a) - T(b) = T(a - b) - T(0); another draw does not."""
    a, b = tf.constant(_images(6, 1)), tf.constant(_images(6, 2))
    seed = tf.constant([3, 4])
    t = lambda x, s=seed: diff_augment(x, s, POLICY, probability)  # noqa: E731
    np.testing.assert_allclose(t(a) - t(b), t(a - b) - t(tf.zeros_like(a)), atol=1e-5)
    np.testing.assert_array_equal(t(a), t(a))
    assert not np.allclose(t(a), t(a, tf.constant([3, 5])))
    np.testing.assert_array_equal(diff_augment(a, seed, POLICY, 0.0), a)  # ADA at p = 0: untouched


def test_ada_probability_rises_when_d_overfits_and_is_saved(tmp_path):
    model = build("dcgan", image_size=16, channels=1, augment=POLICY, ada_target=0.6, ada_interval=1,
                  ada_images=64, **TINY)
    model.compile()
    confident = tf.fill((8, 1), 5.0)  # D sure that every real image is real: r_t = 1 > 0.6
    for _ in range(3):
        model.optimizers["discriminator"].iterations.assign_add(1)
        model.game.adapt_augmentation(confident)
    assert float(model.game.augment_p) == pytest.approx(3 * 8 / 64)
    for _ in range(2):  # D unsure (r_t = 0 < 0.6): p falls back
        model.optimizers["discriminator"].iterations.assign_add(1)
        model.game.adapt_augmentation(tf.constant([[1.0], [-1.0]] * 4))
    assert float(model.game.augment_p) == pytest.approx(1 * 8 / 64)
    logs = _steps(model, 2)
    assert {"augment_p", "ada_r_t"} <= set(logs[-1])
    loaded = run_model_saving_test(model, tmp_path, np.zeros((2, 8), np.float32))
    assert float(loaded.game.augment_p) == float(model.game.augment_p)


# -- EMA warm-up ----------------------------------------------------------------------------
def test_ema_momentum_warms_up_as_tensorflow_num_updates():
    from keras_gen.models.base import ema_momentum_at

    steps = [0, 1, 2, 9, 100, 8990, 8991, 10**6]
    got = [float(ema_momentum_at(t, 0.999)) for t in steps]
    expected = [0.0, 2 / 11, 3 / 12, 10 / 19, 101 / 110, 8991 / 9000, 0.999, 0.999]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert [float(ema_momentum_at(t, 0.5)) for t in (1, 7, 8, 50)] == pytest.approx([2 / 11, 8 / 17, 0.5, 0.5])


def _ema_run(model, x, batch=8, save_after=None, path=None):
    """Fit on x; the generator's first kernel after each update. With `save_after` N, the model
    is also saved to `path` after its Nth update (mid-epoch, as a checkpoint every N steps is)."""
    kernel = model.generator.trainable_weights[0]
    seen = []

    def on_batch_end(b, logs=None):
        seen.append(np.asarray(kernel))
        if len(seen) == save_after:
            model.save(path)

    callback = keras.callbacks.LambdaCallback(on_train_batch_end=on_batch_end)
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(batch), epochs=1, verbose=0, callbacks=[callback])
    return seen


def test_ema_average_follows_the_warmup_and_resumes_exactly(tmp_path):
    from keras_gen.keras_adapter import weight_average
    from keras_gen.models.base import ema_momentum_at

    x = _images(32)
    keras.utils.set_random_seed(1)
    straight = build("dcgan", image_size=16, channels=1, ema=0.999, seed=1, **TINY)
    straight.compile()
    # saved after 2 of its 4 updates: the checkpoint a run that stopped there would resume from
    kernels = _ema_run(straight, x, save_after=2, path=tmp_path / "half.keras")
    average = kernels[0]  # step 0: the weights after the first update
    for t, kernel in enumerate(kernels[1:], start=1):
        m = float(ema_momentum_at(t, 0.999))
        average = m * average + (1 - m) * kernel
    optimizer = straight.optimizers["generator"]
    np.testing.assert_allclose(np.asarray(weight_average(optimizer).averages[0]), average, rtol=1e-5, atol=1e-7)
    # Without the warm-up the average would still be almost all the first step's weights.
    assert not np.allclose(average, kernels[0], atol=1e-4)

    reloaded = keras.saving.load_model(tmp_path / "half.keras")
    _ema_run(reloaded, x[16:])
    for name in ("generator", "discriminator"):
        for a, b in zip(straight.optimizers[name].variables, reloaded.optimizers[name].variables, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"{name}: {a.path}")
