"""Instance norm, conditional instance norm and AdaIN (keras_gen/layers/normalization.py), and the
reflection blocks of the stylizers (keras_gen/layers/style_blocks.py)."""

import keras
import numpy as np
import tensorflow as tf

from keras_gen.layers.normalization import AdaIN, ConditionalInstanceNormalization, InstanceNormalization
from keras_gen.layers.style_blocks import CropToReference, ReflectionPadding2D, ReflectToMultiple


def _features(seed, shape=(3, 6, 5, 4), scale=3.0, shift=2.0):
    rng = np.random.default_rng(seed)
    return (rng.normal(shift, scale, shape) * rng.uniform(0.5, 2.0, shape[-1])).astype("float32")


def test_instance_norm_normalises_each_image_and_channel_over_positions():
    x = _features(0)
    y = np.asarray(InstanceNormalization(center=False, scale=False)(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)
    reference = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, reference, atol=1e-4)
    again = InstanceNormalization.from_config(InstanceNormalization().get_config())
    assert again.groups == -1


def test_conditional_instance_norm_with_one_hot_weights_is_instance_norm_with_that_style():
    x = _features(1)
    cin = ConditionalInstanceNormalization(3)
    cin([x, np.eye(3, dtype="float32")[[0, 1, 2]]])
    rng = np.random.default_rng(2)
    cin.gamma.assign(rng.uniform(0.5, 2.0, (3, 4)).astype("float32"))
    cin.beta.assign(rng.normal(0.0, 1.0, (3, 4)).astype("float32"))
    for style in range(3):
        inorm = InstanceNormalization()
        inorm.build(x.shape)
        inorm.gamma.assign(cin.gamma[style])
        inorm.beta.assign(cin.beta[style])
        got = np.asarray(cin([x, np.tile(np.eye(3, dtype="float32")[style], (3, 1))]))
        np.testing.assert_allclose(got, np.asarray(inorm(x)), atol=1e-4)
    # a convex mix uses the mixed parameters: halfway between styles 0 and 2 is the mean of the
    # two outputs (CIN is affine in (gamma, beta))
    mix = np.asarray(cin([x, np.tile([[0.5, 0.0, 0.5]], (3, 1)).astype("float32")]))
    ends = [np.asarray(cin([x, np.tile(np.eye(3, dtype="float32")[s], (3, 1))])) for s in (0, 2)]
    np.testing.assert_allclose(mix, 0.5 * (ends[0] + ends[1]), atol=1e-4)


def test_adain_gives_the_content_the_styles_per_channel_mean_and_std():
    content, style = _features(3, (2, 7, 9, 5)), _features(4, (2, 4, 6, 5), scale=0.5, shift=-1.0)
    out = np.asarray(AdaIN()([content, style]))
    assert out.shape == content.shape
    np.testing.assert_allclose(out.mean(axis=(1, 2)), style.mean(axis=(1, 2)), atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2)), style.std(axis=(1, 2)), rtol=1e-3)
    # the content's normalised pattern is kept: same per-channel correlation with the content
    for b in range(2):
        for c in range(5):
            assert np.corrcoef(out[b, ..., c].ravel(), content[b, ..., c].ravel())[0, 1] > 0.9999


def test_reflection_blocks_keep_dynamic_sizes():
    spec = tf.TensorSpec([None, None, None, 2])
    pad = tf.function(lambda x: ReflectionPadding2D(2)(x), input_signature=[spec])
    x = np.arange(2 * 5 * 6 * 2, dtype="float32").reshape(2, 5, 6, 2)
    np.testing.assert_array_equal(np.asarray(pad(x)), np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect"))
    multiple = tf.function(lambda x: ReflectToMultiple(4)(x), input_signature=[spec])
    grown = np.asarray(multiple(x))
    assert grown.shape == (2, 8, 8, 2)
    np.testing.assert_array_equal(grown[:, :5, :6], x)
    np.testing.assert_array_equal(np.asarray(CropToReference()([grown, x])), x)
    assert keras.layers.deserialize(keras.layers.serialize(ReflectToMultiple(4))).multiple == 4
