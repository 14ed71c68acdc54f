"""The semi-supervised GAN: D(x) = Z / (Z + 1), the buffer of labelled few, and D as a classifier."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.registry import build

TINY = {"latent_dim": 8, "base_filters": 4}


def _ssgan(**options):
    return build("ssgan", image_size=16, channels=1, num_classes=10, **{**TINY, **options})


def _two_class_blobs(n, seed=0):
    """Class 0: a bright square in the top-left quarter; class 1: in the bottom-right one."""
    rng = np.random.default_rng(seed)
    x = -np.ones((n, 16, 16, 1), np.float32)
    y = rng.integers(0, 2, n)
    for i in range(n):
        r, c = rng.integers(0, 3, 2) + (8 if y[i] else 0)
        x[i, r:r + 5, c:c + 5] = 1.0
    return x, y


def test_real_probability_is_z_over_z_plus_one():
    model = _ssgan()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 1)).astype("float32")
    source, class_logits = model.discriminate(tf.constant(x))
    z = np.exp(np.asarray(class_logits, np.float64)).sum(-1)
    np.testing.assert_allclose(tf.sigmoid(source)[:, 0], z / (z + 1), rtol=1e-5)


def test_the_buffer_keeps_the_first_images_of_each_class():
    model = _ssgan(labels_per_class=2)
    images = np.arange(7, dtype=np.float32)[:, None, None, None] * np.ones((7, 16, 16, 1), np.float32) / 10
    labels = np.array([3, 3, 5, 3, 5, 5, 0], np.int32)
    model.remember_labelled(tf.constant(images[:4]), tf.constant(labels[:4]))
    model.remember_labelled(tf.constant(images[4:]), tf.constant(labels[4:]))
    assert list(np.asarray(model.labelled_per_class)) == [1, 0, 0, 2, 0, 2, 0, 0, 0, 0]
    kept = np.asarray(model.labelled_images)[:, 0, 0, 0] * 10
    np.testing.assert_allclose(kept[[0, 6, 7, 10, 11]], [6, 0, 1, 2, 4], atol=1e-5)  # class k at slots 2k, 2k+1
    _, slot_labels, weights = model.labelled_batch(tf.constant(images), tf.constant(labels))
    filled = {0: 1, 3: 2, 5: 2}
    assert all(w == 0 or int(label) in filled for label, w in zip(np.asarray(slot_labels), np.asarray(weights)))


def test_d_learns_the_classes_from_a_few_labels():
    keras.utils.set_random_seed(0)
    x, y = _two_class_blobs(256)
    model = build("ssgan", image_size=16, channels=1, num_classes=2, latent_dim=8, base_filters=8,
                  labels_per_class=4, learning_rate=1e-3)
    model.compile()
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=3, verbose=0)
    assert int(np.asarray(model.labelled_per_class).sum()) == 8  # only 8 labels were ever used
    test_x, test_y = _two_class_blobs(200, seed=1)
    assert model.test_accuracy(test_x, test_y) > 0.9


def test_ssgan_needs_labels_and_a_probability_game():
    with pytest.raises(KerasGenError, match="labelled data"):
        build("ssgan", image_size=16, channels=1, **TINY)
    with pytest.raises(KerasGenError, match="non_saturating or minimax"):
        _ssgan(loss="hinge")
