"""StyleGAN's blocks (Karras, Laine & Aila 2019; the convolution of StyleGAN2, Karras et al. 2020).

    mapping        z -> w:  w = MLP(PixelNorm(z)),  PixelNorm(z) = z / sqrt(mean_j z_j^2 + 1e-8)
    style          s = A(w), a learned affine map per layer (bias 1, so s starts at 1)
    modulation     w'_ijk = s_i w_ijk                                   (StyleGAN2 eq. 1)
    demodulation   w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps)    (eq. 3): unit norm per output j
    noise          x + b_j * n,  n ~ N(0, 1) one (B, H, W, 1) map, b_j learned per channel (init 0)
    toRGB          a modulated 1x1 convolution without demodulation, plus a bias

A modulated convolution is per sample (its weights depend on s). Rather than a grouped
convolution (not on TF's CPU kernels, and ONNX needs a static group count), the layer uses the
identity StyleGAN2's code calls `fused_modconv=False`:

    conv(x, w'')_j = d_j * conv(x * s, w)_j,   d_j = (sum_i s_i^2 sum_k w_ijk^2 + eps)^-1/2

which is one shared convolution between two per-sample scalings, exact by linearity, at any batch
size, and plain ONNX. `ModulatedConv2D.modulated_weights` spells out w'' for the tests.

Every weight uses the equalised learning rate (Karras et al. 2018): stored ~ N(0, 1) / lr_mul and
scaled at run time by lr_mul / sqrt(fan_in), so Adam's step is the same relative size for every
layer; the mapping network's lr_mul is 0.01 (StyleGAN's appendix C). Activations are leaky ReLU
(0.2) times sqrt(2), which keeps unit variance through the layers.

Noise: in training a fresh N(0, 1) map per call (the layer's own seed generator); at inference
the layer's stored map (`noise_const`, drawn once from the model's seed and saved with the
weights, StyleGAN2's noise_mode='const'). A sample is then one fixed function of its latent, the
same in Keras, the SavedModel and onnxruntime.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from keras_gen.distribute import replica_rows, replica_sum
from keras_gen.layers.equalized import EqualizedDense, PixelNorm
from keras_gen.layers.equalized import scaled_leaky_relu as _leaky


def build_mapping(latent_dim: int, w_dim: int, layers: int, lr_multiplier: float = 0.01) -> keras.Model:
    """The mapping network f: z (B, latent_dim) -> w (B, w_dim): pixel norm, then `layers` dense
    layers with leaky ReLU (the paper's 8 x 512, lr_mul 0.01)."""
    z = keras.Input((latent_dim,), name="z")
    x = PixelNorm(name="pixel_norm")(z)
    for i in range(layers):
        x = EqualizedDense(w_dim, gain=1.0, lr_multiplier=lr_multiplier, activation=True, name=f"fc{i}")(x)
    return keras.Model(z, x, name="mapping")


@keras.saving.register_keras_serializable(package="keras_gen")
class WAverage(keras.layers.Layer):
    """Tracks w_avg, the moving average of the mapping's output, for the truncation trick
    (StyleGAN eq. 3):  w' = w_avg + psi (w - w_avg).

    In training every call moves w_avg <- beta w_avg + (1 - beta) mean_batch(w) (StyleGAN2's
    w_avg_beta 0.995) and returns w unchanged. w_avg is a non-trainable weight: checkpoints and
    exports carry it."""

    def __init__(self, beta: float = 0.995, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)

    def build(self, input_shape):
        self.w_avg = self.add_weight(shape=(int(input_shape[-1]),), name="w_avg", initializer="zeros",
                                     trainable=False)

    def call(self, w, training=False):
        if training:  # the global batch's mean under tf.distribute, so every replica's copy moves alike
            seen = ops.stop_gradient(w)
            batch_mean = replica_sum(ops.sum(seen, axis=0)) / ops.cast(replica_sum(ops.shape(seen)[0]), seen.dtype)
            self.w_avg.assign(self.beta * self.w_avg + (1.0 - self.beta) * batch_mean)
        return w

    def truncate(self, w, psi):
        """w (B, w_dim) moved toward w_avg: psi 1 is w itself, psi 0 is w_avg for every sample."""
        psi, w_avg = ops.cast(psi, w.dtype), ops.cast(self.w_avg, w.dtype)  # w's dtype: float16 when mixed
        return w_avg + psi * (w - w_avg)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="keras_gen")
class StyleMixing(keras.layers.Layer):
    """[w (B, D), w_mix (B, D), crossover (B,) int] -> ws (B, num_ws, D): layer i takes w where
    i < crossover, w_mix from there on (StyleGAN section 3.1). crossover = num_ws is no mixing;
    crossover = 0 is w_mix everywhere."""

    def __init__(self, num_ws: int, **kwargs):
        super().__init__(**kwargs)
        self.num_ws = int(num_ws)

    def call(self, inputs):
        w, w_mix, crossover = inputs
        layer = ops.arange(self.num_ws, dtype="int32")[None, :]  # (1, num_ws)
        first = ops.cast(layer < ops.cast(ops.reshape(crossover, (-1, 1)), "int32"), w.dtype)[..., None]
        return first * w[:, None, :] + (1.0 - first) * w_mix[:, None, :]

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], self.num_ws, input_shapes[0][-1])

    def get_config(self):
        return {**super().get_config(), "num_ws": self.num_ws}


@keras.saving.register_keras_serializable(package="keras_gen")
class ConstantInput(keras.layers.Layer):
    """The synthesis network's learned constant (size, size, C) ~ N(0, 1), repeated over the batch of ws."""

    def __init__(self, filters: int, size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.size = int(filters), int(size)

    def build(self, input_shape):
        self.const = self.add_weight(shape=(1, self.size, self.size, self.filters), name="const",
                                     initializer=keras.initializers.RandomNormal(stddev=1.0))

    def call(self, ws):
        return ops.tile(self.const, (ops.shape(ws)[0], 1, 1, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "size": self.size}


@keras.saving.register_keras_serializable(package="keras_gen")
class ModulatedConv2D(keras.layers.Layer):
    """[x (B, H, W, C_in), ws (B, num_ws, D)] -> (B, H, W, filters): a 'same' convolution whose
    weights are modulated by the style s = A(ws[:, style_index]) and, with `demodulate`,
    normalised per output channel (StyleGAN2 eqs. 1-3; see the module docstring). No bias: the
    noise and the bias come after it (NoiseInjection, BiasActivation)."""

    def __init__(self, filters: int, kernel_size: int, style_index: int, demodulate: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.style_index, self.demodulate = int(filters), int(kernel_size), \
            int(style_index), bool(demodulate)

    def build(self, input_shapes):
        x_shape, ws_shape = input_shapes
        c_in = int(x_shape[-1])
        self.affine = EqualizedDense(c_in, gain=1.0, bias_init=1.0, name="affine")  # A: w -> s, s starts at 1
        self.affine.build((None, int(ws_shape[-1])))
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, c_in, self.filters), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0))
        # Equalised rate; toRGB (no demodulation) also divides by sqrt(fan_in) as StyleGAN2's weight_gain.
        self.scale = 1.0 / math.sqrt(c_in * self.kernel_size ** 2)

    def styles(self, ws):
        """s = A(w) (B, C_in) for this layer's w."""
        return self.affine(ws[:, self.style_index])

    def modulated_weights(self, styles):
        """The per-sample weights w'' (B, k, k, C_in, filters) the call applies (reference form)."""
        w = self.kernel[None] * self.scale * styles[:, None, None, :, None]  # w'_ijk = s_i w_ijk
        if self.demodulate:
            w = w * ops.rsqrt(ops.sum(ops.square(w), axis=(1, 2, 3), keepdims=True) + 1e-8)
        return w

    def call(self, inputs):
        x, ws = inputs
        styles = self.styles(ws)  # (B, C_in)
        kernel = ops.cast(self.kernel, x.dtype) * self.scale  # x's dtype: float16 under mixed precision
        y = tf.nn.conv2d(x * ops.cast(styles, x.dtype)[:, None, None, :], kernel, 1, "SAME")  # conv(x * s, w)
        if self.demodulate:  # d_j = (sum_i s_i^2 sum_k w_ijk^2 + eps)^-1/2, (B, filters)
            demod = ops.rsqrt(ops.matmul(ops.square(styles), ops.sum(ops.square(kernel), axis=(0, 1))) + 1e-8)
            y = y * demod[:, None, None, :]
        return y

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "style_index": self.style_index, "demodulate": self.demodulate}


@keras.saving.register_keras_serializable(package="keras_gen")
class NoiseInjection(keras.layers.Layer):
    """x + b * n, n one (B, H, W, 1) map of N(0, 1) shared by the channels, b (C,) learned (init 0).
    Training draws n fresh from the layer's seed generator; inference uses the stored `noise_const`
    (drawn from `seed` at build), so sampling is deterministic on every runtime."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise")

    def build(self, input_shape):
        _, height, width, channels = input_shape
        self.strength = self.add_weight(shape=(int(channels),), name="strength", initializer="zeros")
        self.noise_const = self.add_weight(shape=(1, int(height), int(width), 1), name="noise_const", trainable=False,
                                           initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))

    def call(self, x, training=False):
        if training:
            seed = tf.cast(self.seed_generator.next(), tf.int64)
            shape = tf.concat([tf.shape(x)[:3], [1]], axis=0)
            # Each replica its images' rows of the global batch's noise (as GenerativeModel's draws).
            noise = replica_rows(lambda s: tf.random.stateless_normal(s, seed=seed, dtype=x.dtype), shape)
        else:
            noise = self.noise_const
        return x + ops.cast(noise, x.dtype) * ops.cast(self.strength, x.dtype)  # x's dtype: float16 when mixed

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_gen")
class BiasActivation(keras.layers.Layer):
    """x + b (per channel), then leaky ReLU (0.2) times sqrt(2) when `activation`."""

    def __init__(self, activation: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.activation = bool(activation)

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(int(input_shape[-1]),), name="bias", initializer="zeros")

    def call(self, x):
        x = x + self.bias
        return _leaky(x) if self.activation else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


def to_rgb(x, ws, channels: int, style_index: int, name: str):
    """StyleGAN2's tRGB: a modulated 1x1 convolution, not demodulated, plus a bias; no activation."""
    y = ModulatedConv2D(channels, 1, style_index, demodulate=False, name=f"{name}_conv")([x, ws])
    return BiasActivation(activation=False, name=f"{name}_bias")(y)
