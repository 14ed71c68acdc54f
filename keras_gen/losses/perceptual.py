"""Perceptual (feature reconstruction) loss: Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses
for Real-Time Style Transfer and Super-Resolution", on VGG16 features (keras_gen/features/vgg.py).

For feature maps phi_j of shape (C_j, H_j, W_j), the feature reconstruction loss of an output
y_hat against a target y is

    l_feat^j(y_hat, y) = 1 / (C_j H_j W_j) * || phi_j(y_hat) - phi_j(y) ||_2^2,

averaged here over the chosen layers j. Pixel losses (MSE, MAE) are minimised by the mean of
the plausible images, which is blurred; matching VGG activations instead rewards edges and
texture where they are, which is why perceptual losses give sharper reconstructions.

The target's features carry no gradient; the extractor's weights are frozen.

Style (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using Convolutional Neural Networks"):
the Gram matrix of layer l's maps F (M_l = H_l W_l positions, N_l = C_l channels) keeps which
channels fire together and drops where they fire:

    G^l_ij = 1/M_l * sum_k F^l_ik F^l_jk                    (gram_matrix; normalised by H*W)
    E_l    = 1/N_l^2 * sum_ij (G^l_ij - A^l_ij)^2           (mean over the C x C entries)
    L_style = sum_l w_l E_l                                  (style_loss)

Gatys et al. write E_l = 1/(4 N_l^2 M_l^2) sum (G_unnorm - A_unnorm)^2; with G normalised by M_l
that is our E_l / 4, so the weights differ by a constant 4 only. The normalisation by H*W makes
a Gram matrix comparable across image sizes (a 512 px style image drives a 256 px result).

content_loss is l_feat above: 1/(C H W) ||phi(y_hat) - phi(y)||^2 (Johnson et al.), per image,
averaged over the batch. total_variation is the TV^beta regulariser of Mahendran & Vedaldi
(2015), mean over positions of ((dx)^2 + (dy)^2)^(beta/2); alpha_norm is their mean |x|^alpha.
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


def gram_matrix(features):
    """(B, H, W, C) feature maps -> (B, C, C) Gram matrices F^T F / (H * W), in float32."""
    import keras

    x = keras.ops.cast(features, "float32")
    shape = keras.ops.shape(x)
    positions = keras.ops.cast(shape[1] * shape[2], "float32")
    return keras.ops.einsum("bhwi,bhwj->bij", x, x) / positions


def content_loss(generated_feats, target_feats):
    """1/(C H W) ||generated - target||^2 per image, averaged over the batch: a scalar.

    Tensors, or dicts {layer: tensor} (the terms are summed over the target's layers). The
    target carries no gradient."""
    import keras

    if isinstance(target_feats, dict):
        return sum(content_loss(generated_feats[k], target_feats[k]) for k in target_feats)
    target = keras.ops.stop_gradient(keras.ops.cast(target_feats, "float32"))
    return keras.ops.mean(keras.ops.square(keras.ops.cast(generated_feats, "float32") - target))


def style_loss(generated_feats: dict, target_grams: dict, layer_weights: dict | None = None):
    """sum_l w_l * mean_ij (G^l_ij(generated) - A^l_ij)^2, a scalar (mean over the batch too).

    generated_feats: {layer: (B, H, W, C)}; target_grams: {layer: (C, C) or (B, C, C)} (a
    (1, C, C) or (C, C) target broadcasts over the batch); layer_weights: {layer: w_l}, default
    1 / (number of layers) each. Only the layers of target_grams count."""
    import keras

    layers = list(target_grams)
    weights = layer_weights if layer_weights is not None else {k: 1.0 / len(layers) for k in layers}
    missing = [k for k in layers if k not in generated_feats or k not in weights]
    if missing:
        raise ValueError(f"style_loss: layer(s) {missing} lack generated features or a weight")
    total = 0.0
    for k in layers:
        target = keras.ops.stop_gradient(keras.ops.cast(target_grams[k], "float32"))
        total = total + weights[k] * keras.ops.mean(keras.ops.square(gram_matrix(generated_feats[k]) - target))
    return total


def total_variation(images, beta: float = 1.0):
    """Mean over positions (and the batch) of ((x[i+1,j] - x[i,j])^2 + (x[i,j+1] - x[i,j])^2)^(beta/2),
    summed over channels: beta 1 is isotropic TV, beta 2 the squared-gradient smoothness term."""
    import keras

    x = keras.ops.cast(images, "float32")
    dy = x[:, 1:, :-1, :] - x[:, :-1, :-1, :]
    dx = x[:, :-1, 1:, :] - x[:, :-1, :-1, :]
    sq = keras.ops.sum(keras.ops.square(dx) + keras.ops.square(dy), axis=-1)
    if beta == 2.0:
        return keras.ops.mean(sq)
    return keras.ops.mean(keras.ops.power(sq + 1e-8, beta / 2.0))


def alpha_norm(images, alpha: float = 6.0):
    """mean |x|^alpha (Mahendran & Vedaldi): keeps an inversion's pixels within range."""
    import keras

    return keras.ops.mean(keras.ops.power(keras.ops.abs(keras.ops.cast(images, "float32")) + 1e-12, alpha))


__all__ = ["PERCEPTUAL_LAYERS", "alpha_norm", "content_loss", "feature_reconstruction_loss", "gram_matrix",
           "perceptual_extractor", "style_loss", "total_variation"]
