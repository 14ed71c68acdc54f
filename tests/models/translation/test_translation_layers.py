"""The translation blocks (keras_gen/layers): paired jitter, PatchGAN receptive fields, the
any-size U-Net and ResNet generators, and the pool of past fakes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.layers.image_pool import ImagePool
from keras_gen.layers.paired_jitter import random_jitter
from keras_gen.layers.patch_discriminator import build_patch_discriminator, patch_layers_for, receptive_field
from keras_gen.layers.resnet_generator import build_resnet_generator, min_side
from keras_gen.layers.translation_unet import build_unet_generator


def test_jitter_moves_both_images_of_a_pair_alike():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (16, 12, 20, 3)).astype("float32")
    b = np.tanh(2.0 * a[..., :1]) - 0.5  # B is a pixelwise function of A: a transform that moves both keeps it
    ja, jb = random_jitter(a, b, seed=tf.constant([3, 4]), scale=1.3, flip=True)
    assert ja.shape == a.shape and jb.shape == b.shape
    assert np.abs(np.asarray(ja) - a).max() > 0.5  # it did move them
    # bilinear interpolation commutes with an affine map only: compare the affine part exactly
    affine = 3.0 * a[..., 1:2] + 1.0
    jc, jd = random_jitter(a, affine, seed=tf.constant([3, 4]), scale=1.3, flip=True)
    np.testing.assert_allclose(np.asarray(jd), 3.0 * np.asarray(jc)[..., 1:2] + 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(jc), np.asarray(ja))  # the same seed, the same draw
    # mirroring alone: each example is itself or its mirror image, and its pair does the same
    fa, fb = random_jitter(a, -a, seed=tf.constant([5, 6]), scale=1.0, flip=True)
    mirrored = [bool(np.allclose(fa[i], a[i, :, ::-1])) for i in range(len(a))]
    assert all(m or np.allclose(fa[i], a[i]) for i, m in enumerate(mirrored)) and 0 < sum(mirrored) < len(a)
    np.testing.assert_allclose(np.asarray(fb), -np.asarray(fa), atol=1e-6)
    # an input and a target of twice its size (super-resolution pairs) get the same window
    low = rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    high = np.repeat(np.repeat(low, 2, axis=1), 2, axis=2)
    jl, jh = random_jitter(low, high, seed=tf.constant([1, 1]), scale=1.0, flip=True)
    np.testing.assert_allclose(np.asarray(jh)[:, ::2, ::2], np.asarray(jl), atol=1e-6)
    np.testing.assert_array_equal(random_jitter(a, seed=tf.constant([1, 2]), scale=1.0, flip=False), a)


@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
def test_patchgan_sees_patches_of_its_receptive_field(n_layers):
    d = build_patch_discriminator(2, n_layers, filters=4, norm="none")
    x = tf.Variable(tf.random.normal((1, 160, 160, 2), seed=1))
    with tf.GradientTape() as tape:
        logits = d(x)
        centre = logits[0, logits.shape[1] // 2, logits.shape[2] // 2, 0]
    seen = np.abs(tape.gradient(centre, x).numpy()[0]).sum(-1) > 0
    rows, cols = np.flatnonzero(seen.any(1)), np.flatnonzero(seen.any(0))
    assert rows[-1] - rows[0] + 1 == cols[-1] - cols[0] + 1 == receptive_field(n_layers)
    assert logits.shape == (1, 160 // 2**n_layers, 160 // 2**n_layers, 1)


def test_patch_is_scaled_to_the_image_as_the_paper_at_256_px():
    assert [receptive_field(n) for n in range(5)] == [7, 16, 34, 70, 142]
    assert patch_layers_for(256) == 3  # the paper's 70 x 70
    for side in (32, 64, 128, 512):  # a patch spans about 27% of the side at every size
        assert abs(receptive_field(patch_layers_for(side)) / side - 70 / 256) < 0.1


def test_generators_take_any_size_and_the_unet_carries_skips():
    unet = build_unet_generator(3, 1, depth=4, filters=4)
    resnet = build_resnet_generator(1, filters=4, blocks=1, downsamplings=2)
    for height, width in ((16, 16), (17, 30), (40, 23)):
        x = np.random.default_rng(height).uniform(-1, 1, (2, height, width, 3)).astype("float32")
        assert unet(x).shape == (2, height, width, 1)
        assert resnet(x[..., :1]).shape == (2, height, width, 1)
    # another size is the reflection-padded image through the network, cropped back
    x = np.random.default_rng(0).uniform(-1, 1, (1, 17, 30, 3)).astype("float32")
    padded = np.pad(x, [(0, 0), (0, 15), (0, 2), (0, 0)], mode="reflect")  # to 32 x 32, multiples of 2^4
    np.testing.assert_allclose(np.asarray(unet(x)), np.asarray(unet(padded))[:, :17, :30], atol=1e-5)
    padded = np.pad(x[..., :1], [(0, 0), (0, 3), (0, 2), (0, 0)], mode="reflect")  # to 20 x 32, multiples of 4
    np.testing.assert_allclose(np.asarray(resnet(x[..., :1])), np.asarray(resnet(padded))[:, :17, :30], atol=1e-5)
    assert min_side(2) == 8
    # the U-Net's skips: each decoder level but the last concatenates the encoder level of its size
    skips = [layer for layer in unet.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(skips) == 3 and all(s.output.shape[-1] == 2 * s.input[0].shape[-1] for s in skips)


def test_pool_hands_back_past_fakes_and_is_checkpointed(tmp_path):
    pool = ImagePool(4, (2, 2, 1))
    shown = []
    for k in range(6):
        shown.append(np.asarray(pool.query(tf.fill((3, 2, 2, 1), float(k)), tf.constant([k, 11])))[:, 0, 0, 0])
    assert int(pool.count.numpy()) == 4
    assert list(shown[0]) == [0, 0, 0] and list(shown[1]) == [1, 1, 1]  # filling: the new images pass
    later = np.concatenate(shown[2:])
    assert (later < np.repeat(np.arange(2, 6), 3)).any()  # some are older fakes from the pool
    assert set(np.asarray(pool.images)[:, 0, 0, 0]) <= set(range(6))
    # the pool is weights: saved and loaded with the model that holds it
    inputs = keras.Input((2, 2, 1))
    model = keras.Model(inputs, pool(inputs))
    model.save_weights(tmp_path / "pool.weights.h5")
    other_pool = ImagePool(4, (2, 2, 1))
    other = keras.Model(inputs, other_pool(inputs))
    other.load_weights(tmp_path / "pool.weights.h5")
    np.testing.assert_array_equal(np.asarray(other_pool.images), np.asarray(pool.images))
    assert int(other_pool.count.numpy()) == 4
    # the same seed makes the same choices
    again = ImagePool(4, (2, 2, 1))
    replay = [np.asarray(again.query(tf.fill((3, 2, 2, 1), float(k)), tf.constant([k, 11])))[:, 0, 0, 0]
              for k in range(6)]
    np.testing.assert_array_equal(np.concatenate(replay), np.concatenate(shown))
    assert np.asarray(ImagePool(0, (2, 2, 1)).query(tf.ones((2, 2, 2, 1)), tf.constant([0, 0]))).sum() == 8
