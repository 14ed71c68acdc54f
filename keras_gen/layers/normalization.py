"""Instance normalisation and its two style-carrying variants: the normalisation layers of
feed-forward style transfer.

    InstanceNormalization    Ulyanov, Vedaldi & Lempitsky 2016, "Instance Normalization: The
                             Missing Ingredient for Fast Stylization":
                                 IN(x) = gamma * (x - mu(x)) / sigma(x) + beta,
                             mu, sigma over the H W positions of each image and channel. Keras core
                             GroupNormalization with one channel per group (groups=-1), the
                             tensorflow-addons replacement.
    ConditionalInstanceNormalization
                             Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for Artistic
                             Style": one (gamma_s, beta_s) per style s; a style weight vector w
                             (B, N) selects them, gamma = sum_s w_s gamma_s (likewise beta), so a
                             one-hot w is plain IN with that style's parameters and a convex
                             mix interpolates between styles.
    AdaIN                    Huang & Belongie 2017, "Arbitrary Style Transfer in Real-time with
                             Adaptive Instance Normalization": no learned parameters; the style
                             features y give them,
                                 AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y).

sigma is sqrt(var + epsilon) everywhere; statistics are per image and channel, so a 1-image
request and a training batch normalise alike, at any height and width.
"""

from __future__ import annotations

import keras
from keras import layers, ops

EPSILON = 1e-5


def channel_moments(x, epsilon: float = EPSILON):
    """(B, H, W, C) -> mean (B, 1, 1, C) and std sqrt(var + epsilon) (B, 1, 1, C) over H, W."""
    x = ops.cast(x, "float32")
    mean, var = ops.moments(x, axes=[1, 2], keepdims=True)
    return mean, ops.sqrt(var + epsilon)


def adain(content, style_mean, style_std, epsilon: float = EPSILON):
    """sigma_y * (x - mu(x)) / sigma(x) + mu_y with given style statistics (B or 1, 1, 1, C); in
    float32 (the statistics are), returned in the content's dtype."""
    mean, std = channel_moments(content, epsilon)
    x = ops.cast(content, "float32")
    out = ops.cast(style_std, "float32") * (x - mean) / std + ops.cast(style_mean, "float32")
    return ops.cast(out, content.dtype)


@keras.saving.register_keras_serializable(package="keras_gen")
class InstanceNormalization(layers.GroupNormalization):
    """(B, H, W, C) -> (B, H, W, C): GroupNormalization with one channel per group."""

    def __init__(self, epsilon: float = EPSILON, **kwargs):
        kwargs.pop("groups", None)  # always -1; get_config records it
        super().__init__(groups=-1, epsilon=epsilon, **kwargs)


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalInstanceNormalization(layers.Layer):
    """[x (B, H, W, C), style weights (B, N)] -> (B, H, W, C).

    gamma_s start at one and beta_s at zero (every style starts as plain IN); weights are used as
    given (the stylizer normalises them before)."""

    def __init__(self, num_styles: int, epsilon: float = EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.num_styles, self.epsilon = int(num_styles), float(epsilon)

    def build(self, input_shapes):
        x_shape, w_shape = input_shapes
        channels = x_shape[-1]
        if w_shape[-1] is not None and w_shape[-1] != self.num_styles:
            raise ValueError(f"{self.name}: style weights have {w_shape[-1]} entries, expected {self.num_styles}")
        self.gamma = self.add_weight(shape=(self.num_styles, channels), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(self.num_styles, channels), initializer="zeros", name="beta")

    def call(self, inputs):
        x, weights = inputs
        mean, std = channel_moments(x, self.epsilon)  # float32, as below: returned in x's dtype
        weights = ops.cast(weights, "float32")
        gamma = ops.matmul(weights, ops.cast(self.gamma, "float32"))[:, None, None, :]  # (B, 1, 1, C)
        beta = ops.matmul(weights, ops.cast(self.beta, "float32"))[:, None, None, :]
        return ops.cast(gamma * (ops.cast(x, "float32") - mean) / std + beta, x.dtype)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "num_styles": self.num_styles, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_gen")
class AdaIN(layers.Layer):
    """[content features x (B, H, W, C), style features y (B, h, w, C)] -> (B, H, W, C):
    x re-normalised to y's per-channel mean and standard deviation (any h, w)."""

    def __init__(self, epsilon: float = EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x, y = inputs
        style_mean, style_std = channel_moments(y, self.epsilon)
        return adain(x, style_mean, style_std, self.epsilon)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


__all__ = ["AdaIN", "ConditionalInstanceNormalization", "InstanceNormalization", "adain", "channel_moments"]
