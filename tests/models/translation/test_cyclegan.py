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
