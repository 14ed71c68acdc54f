"""CycleGAN: the cycle is learned, the pool of past fakes fills and is part of the model, the
learning rate falls linearly over the second half of the planned run (exact resume, pools and
schedule included, is the harness's check with cyclegan's harness_options)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import registry

TINY = {"filters": 4, "blocks": 1}


def _digits_ink(size, limit, tmp_path_factory):
    from keras_gen.data import load_unpaired

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_GEN_CACHE", str(tmp_path_factory.mktemp("cache")))
        return load_unpaired("digits_ink", "train", image_size=size, limit=limit)


def test_cycle_is_learned_and_the_pools_fill(tmp_path_factory):
    a, b = _digits_ink(16, 64, tmp_path_factory)
    model = registry.build("cyclegan", image_size=16, channels=1, pool_size=10, learning_rate=2e-3, **TINY)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices((a, b)).repeat().batch(4)
    history = model.fit(data, epochs=3, steps_per_epoch=8, verbose=0).history
    assert history["cycle_loss"][-1] < 0.8 * history["cycle_loss"][0]
    assert {"a_critic_real", "b_critic_fake", "d_a_loss", "d_b_loss", "identity_loss", "lr"} <= set(history)
    for pool in (model.pool_a, model.pool_b):  # 24 steps of 4 fakes: full, and holding generated images
        assert int(pool.count.numpy()) == 10 and np.abs(np.asarray(pool.images)).min(axis=(1, 2, 3)).max() > 0
    assert any(v is model.pool_a.images for v in model.variables)  # saved with the model
    x = a[:3]
    ab, ba = model.translate_images(x, "a_to_b"), model.translate_images(x, "b_to_a")
    np.testing.assert_allclose(model.generate(x, 0), ab, atol=1e-6)
    np.testing.assert_allclose(model.generate(x, 1), ba, atol=1e-6)
    images, columns = model.preview(4, 0, (a[:4], b[:4]))
    assert columns == 6 and images.shape == (24, 16, 16, 1)  # a | G(a) | F(G(a)) | b | F(b) | G(F(b))


def test_learning_rate_decays_over_the_second_half_of_the_planned_run(tmp_path, monkeypatch):
    from keras_gen.runs import load_run
    from keras_gen.training import RunConfig, train

    monkeypatch.setenv("KERAS_GEN_CACHE", str(tmp_path / "cache"))
    config = RunConfig("cyclegan", data="digits_ink", image_size=8, epochs=2, steps_per_epoch=3, batch_size=2,
                       seed=1, options={**TINY, "pool_size": 4, "identity_weight": 0.0})
    straight = train(tmp_path / "straight", config, verbose=0)
    assert straight["history"]["identity_loss"] == [0.0, 0.0]  # switched off: logged as 0, not warned as stuck
    assert not any("identity_loss" in warning for warning in straight["warnings"])
    # 6 planned steps: rate x1 for steps 0-2, then x (1 - k / 4) for k = 1, 2, 3
    lr = 2e-4
    np.testing.assert_allclose(straight["history"]["lr"], [lr, lr * (0.75 + 0.5 + 0.25) / 3], rtol=1e-5)
    model, _ = load_run(tmp_path / "straight")
    assert int(model.planned_steps.numpy()) == 6
    for optimizer in model.optimizers.values():  # the rate set for the last step, in the checkpoint
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(lr * 0.25)
    # A run stopped and resumed ends where this one does, pools and schedule included: the harness
    # (test_one_plus_one_epochs_resumed_equal_two_straight) checks it with cyclegan's harness_options,
    # whose pool (3 fakes) fills and whose schedule (decay_start=1, decay_steps=4) falls in its run.


def test_an_explicit_schedule_does_not_follow_the_run_length():
    model = registry.build("cyclegan", image_size=8, channels=1, decay_start=10, decay_steps=10, **TINY)
    model.compile()
    model.plan_training(1000)
    factors = []
    for step in (0, 9, 10, 14, 19, 25):
        model.optimizers["generators"].iterations.assign(step)
        factors.append(float(model.learning_rate_factor()))
    np.testing.assert_allclose(factors, [1, 1, 10 / 11, 6 / 11, 1 / 11, 0], atol=1e-6)
    bare = registry.build("cyclegan", image_size=8, channels=1, **TINY)
    bare.compile()
    bare.optimizers["generators"].iterations.assign(50)
    assert float(bare.learning_rate_factor()) == 1.0  # no plan, no decay_start: a constant rate
