"""Layers with the equalised learning rate, and the two normalisations that come with them
(Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs", sections 3 and 4), shared
by ProGAN and StyleGAN.

- Equalised learning rate (4.1): a weight is stored as w ~ N(0, 1) / lr_mul and used as
  w_hat = w * gain * lr_mul / sqrt(fan_in) (He's constant at run time), so that Adam's per-weight
  step means the same relative change in every layer; lr_mul < 1 slows a whole layer (StyleGAN's
  mapping network: 0.01). The bias is stored / lr_mul and used * lr_mul likewise.
- `activation=True` applies leaky ReLU (0.2) times sqrt(2), which keeps unit variance through
  the layers (StyleGAN's code); ProGAN's networks instead put the sqrt(2) in `gain` and apply
  their activation outside.
- Pixel norm (4.2): b = a / sqrt(mean_j a_j^2 + eps) over the last axis, at every pixel.
- Minibatch standard deviation (3): the standard deviation of each feature at each position
  over the batch, averaged to one number and appended as a constant channel, so D can see a
  batch's lack of variety (the paper's whole-batch form; the official code groups 4 samples).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from keras_gen.distribute import replica_sum

HE_GAIN = math.sqrt(2.0)
LRELU_GAIN = math.sqrt(2.0)


def scaled_leaky_relu(x):
    """leaky ReLU (slope 0.2) times sqrt(2)."""
    return tf.nn.leaky_relu(x, 0.2) * LRELU_GAIN


@keras.saving.register_keras_serializable(package="keras_gen")
class EqualizedDense(keras.layers.Layer):
    """Dense with the equalised learning rate: y = x (w gain lr_mul / sqrt(fan_in)) + b lr_mul."""

    def __init__(self, units: int, gain: float = HE_GAIN, lr_multiplier: float = 1.0, bias_init: float = 0.0,
                 activation: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.gain, self.lr_multiplier = int(units), float(gain), float(lr_multiplier)
        self.bias_init, self.activation = float(bias_init), bool(activation)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.scale = self.gain * self.lr_multiplier / math.sqrt(fan_in)
        self.kernel = self.add_weight(shape=(fan_in, self.units), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier))
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier))

    def call(self, x):
        y = ops.matmul(x, ops.cast(self.kernel, x.dtype) * self.scale) + ops.cast(self.bias, x.dtype) * self.lr_multiplier
        return scaled_leaky_relu(y) if self.activation else y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gain": self.gain, "lr_multiplier": self.lr_multiplier,
                "bias_init": self.bias_init, "activation": self.activation}


@keras.saving.register_keras_serializable(package="keras_gen")
class EqualizedConv2D(keras.layers.Layer):
    """A stride-1 'same' convolution with the equalised learning rate, w_hat = w gain / sqrt(k k C_in);
    optional bias and activation. It has a `kernel`, so keras.layers.SpectralNormalization can wrap it."""

    def __init__(self, filters: int, kernel_size: int, gain: float = HE_GAIN, use_bias: bool = True,
                 activation: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.gain = int(filters), int(kernel_size), float(gain)
        self.use_bias, self.activation = bool(use_bias), bool(activation)

    def build(self, input_shape):
        fan_in = self.kernel_size * self.kernel_size * int(input_shape[-1])
        self.scale = self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters),
                                      initializer=keras.initializers.RandomNormal(stddev=1.0), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias") if self.use_bias else None

    def call(self, x):
        y = ops.conv(x, ops.cast(self.kernel, x.dtype) * self.scale, padding="same")
        if self.use_bias:
            y = y + ops.cast(self.bias, x.dtype)
        return scaled_leaky_relu(y) if self.activation else y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "gain": self.gain,
                "use_bias": self.use_bias, "activation": self.activation}


@keras.saving.register_keras_serializable(package="keras_gen")
class PixelNorm(keras.layers.Layer):
    """a / sqrt(mean over the last axis of a^2 + epsilon), at every pixel (or every vector)."""

    def __init__(self, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_gen")
class MinibatchStdDev(keras.layers.Layer):
    """(B, H, W, C) -> (B, H, W, C + 1): sigma = mean over (H, W, C) of sqrt(Var_batch[x] + 1e-8)
    (biased variance, as the paper's code), appended as a constant channel."""

    def call(self, x):
        # The variance over the global batch under tf.distribute (as batch norm synchronised),
        # so D sees the same statistic however the batch is split over replicas.
        count = ops.cast(replica_sum(ops.shape(x)[0]), x.dtype)
        mean = replica_sum(ops.sum(x, axis=0)) / count
        std = ops.sqrt(replica_sum(ops.sum(ops.square(x - mean), axis=0)) / count + 1e-8)  # (H, W, C)
        return ops.concatenate([x, ops.ones_like(x[..., :1]) * ops.mean(std)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)
