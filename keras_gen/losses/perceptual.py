"""Perceptual (feature reconstruction) loss: Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses
for Real-Time Style Transfer and Super-Resolution", on VGG16 features (keras_gen/features/vgg.py).

For feature maps phi_j of shape (C_j, H_j, W_j), the feature reconstruction loss of an output
y_hat against a target y is

    l_feat^j(y_hat, y) = 1 / (C_j H_j W_j) * || phi_j(y_hat) - phi_j(y) ||_2^2,

averaged here over the chosen layers j. Pixel losses (MSE, MAE) are minimised by the mean of
the plausible images, which is blurred; matching VGG activations instead rewards edges and
texture where they are, which is why perceptual losses give sharper reconstructions.

The target's features carry no gradient; the extractor's weights are frozen.
"""

from __future__ import annotations

import functools

PERCEPTUAL_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3")  # shallow: defined down to 4 px images


@functools.lru_cache(maxsize=4)
def perceptual_extractor(channels: int, weights: str = "auto", layers: tuple = PERCEPTUAL_LAYERS):
    """A frozen VGG16 model: (B, H, W, channels) [-1, 1] -> {layer: activation}. Built once per
    process and settings, eagerly (call it outside a tf.function first), and never tracked by the
    model that uses it, so checkpoints do not carry VGG's weights."""
    from keras_gen.features.vgg import vgg16_feature_extractor

    model = vgg16_feature_extractor(tuple(layers), weights=weights, channels=int(channels))
    model.trainable = False
    return model


def feature_reconstruction_loss(extractor, generated, target):
    """Mean over layers of mean((phi_j(generated) - phi_j(target))^2): a scalar tensor."""
    import tensorflow as tf

    got, want = extractor(generated, training=False), extractor(target, training=False)
    terms = [tf.reduce_mean(tf.square(got[k] - tf.stop_gradient(want[k]))) for k in want]
    return tf.add_n(terms) / float(len(terms))


__all__ = ["PERCEPTUAL_LAYERS", "feature_reconstruction_loss", "perceptual_extractor"]
