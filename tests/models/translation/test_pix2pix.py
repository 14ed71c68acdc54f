"""pix2pix: it learns a paired mapping, its test-time behaviour is deterministic (dropout off,
instance norm or batch norm's moving averages) and exported with parity either way, and the
paper's Table 1 rows are its options."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import registry
from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8


@pytest.fixture(scope="module")
def maps_pairs(tmp_path_factory):
    from keras_gen.data import translation_sets as ts

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_GEN_CACHE", str(tmp_path_factory.mktemp("cache")))
        a, b = ts.load_translation_set("shapes_maps", "test", image_size=16, limit=64)
    return from_uint8(a), from_uint8(b)


def _fit(model, pairs, steps, batch=8, epochs=2):
    data = tf.data.Dataset.from_tensor_slices(pairs).repeat().batch(batch)
    return model.fit(data, epochs=epochs, steps_per_epoch=steps // epochs, verbose=0).history


def test_pix2pix_learns_the_pairs_and_translates_deterministically(maps_pairs):
    model = registry.build("pix2pix", image_size=16, channels=3, filters=8)
    model.compile()
    history = _fit(model, maps_pairs, steps=60, epochs=4)
    assert history["l1"][-1] < 0.75 * history["l1"][0]  # the L1 term falls
    assert set(history) >= {"d_loss", "g_loss", "l1", "d_real", "d_fake"}
    x = maps_pairs[0][:4]
    np.testing.assert_array_equal(model.generate(x), model.generate(x))  # test time: a function of x
    noisy = [np.asarray(model.generator(x, training=True)) for _ in range(2)]
    assert np.abs(noisy[0] - noisy[1]).max() > 1e-3  # dropout is training-time noise
    assert model.depth == 4 and model.min_image_side == 16
    out = model.translate_images(np.zeros((1, 20, 27, 3), np.float32))  # any size of at least 2^depth
    assert out.shape == (1, 20, 27, 3)
    with pytest.raises(KerasGenError, match=r"12x40 px, smaller than pix2pix takes: at least 16 px"):
        model.translate_images(np.zeros((1, 12, 40, 3), np.float32))
    with pytest.raises(KerasGenError, match="pix2pix has no direction 'b_to_a'.*A -> B only"):
        model.translate_images(x, "b_to_a")


def test_table_1_rows_are_options(maps_pairs):
    l1_only = registry.build("pix2pix", image_size=16, channels=3, filters=4, adversarial_weight=0.0)
    l1_only.compile()
    _fit(l1_only, maps_pairs, steps=4)
    assert int(l1_only.optimizers["discriminator"].iterations) == 0  # no game: D is not trained
    assert int(l1_only.optimizers["generator"].iterations) == 4
    gan_only = registry.build("pix2pix", image_size=16, channels=3, filters=4, l1_weight=0.0, loss="least_squares")
    gan_only.compile()
    history = _fit(gan_only, maps_pairs, steps=4)
    assert "critic_real" in history and history["l1"][-1] > 0  # L1 measured, not trained on
    with pytest.raises(KerasGenError, match="depth 6 .* at least 64 px a side, got 16x16"):
        registry.build("pix2pix", image_size=16, channels=3, depth=6)


def test_batch_norm_generator_exports_with_parity_at_two_sizes(maps_pairs, tmp_path):
    """norm=batch: moving averages at test time, so the export is the same function as Keras."""
    from export import export_model

    model = registry.build("pix2pix", image_size=16, channels=3, filters=4, norm="batch", depth=3)
    model.compile()
    _fit(model, maps_pairs, steps=2)
    version = export_model(model, tmp_path, name="p2p")
    parity = json.loads((version / "manifest.json").read_text())["parity"]
    assert parity["passed"] and parity["second_size"]["input_shapes"]["image"][:2] != [16, 16]
    assert all(v <= parity["atol"] for o in parity["second_size"]["outputs"].values() for v in o.values())
    for record in parity["endpoints"]["a_to_b"].values():  # uint8 output: every runtime within one level
        assert max(record.values()) <= 1
