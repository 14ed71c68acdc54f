"""Invertible layers of normalising flows: RealNVP (Dinh, Sohl-Dickstein & Bengio 2017, "Density
estimation using Real NVP") and Glow (Kingma & Dhariwal 2018, "Glow: Generative Flow with
Invertible 1x1 Convolutions").

A flow maps an image x to a latent z = f(x) = f_K(...f_1(x)) through bijections, and the change
of variables gives the exact density
    log p(x) = log p_Z(f(x)) + sum_k log |det d f_k(h_{k-1}) / d h_{k-1}|          (RealNVP eq. 3)
Every layer here is called as `layer(x)` -> (y, log|det J|) per example (B,), and as
`layer(y, reverse=True)` -> x = f^-1(y). Shapes are (B, H, W, C).

    Squeeze            (H, W, C) -> (H/2, W/2, 4C): each 2x2 block of pixels becomes one pixel
                       of 4C channels (RealNVP sec. 3.6); log det 0.
    AffineCoupling     with a binary mask b, x_a = b x and x_b = (1 - b) x:
                           y = x_a + (1 - b) (x exp(s(x_a)) + t(x_a))              (RealNVP eq. 9)
                       log det = sum over (1 - b) of s. b is a checkerboard (parity 0 or 1) or a
                       channel half; s and t come from one network of x_a (CouplingNetwork), so
                       the inverse x = y_a + (1 - b) (y - t(y_a)) exp(-s(y_a)) needs no inverse
                       of the network. s = scale * tanh(.) (RealNVP) or log sigmoid(. + 2) (Glow,
                       whose y_b = (x_b + t) sigmoid(.)).
    ActNorm            y = (x + bias) exp(log_scale) per channel; log det = H W sum log_scale
                       (Glow sec. 3.1). Data-dependent initialisation: the first training batch
                       sets bias and log_scale so that y has zero mean and unit variance per
                       channel. `initialized` is a weight, so a checkpoint carries it and a
                       resumed or reloaded model is not initialised again.
    InvertibleConv1x1  y = x W at every pixel, LU-decomposed (Glow sec. 3.2):
                           W = P L (U + diag(sign * exp(log_s)))
                       P a fixed permutation, L unit lower and U strictly upper triangular, so
                       log det = H W sum log_s costs O(C), not the O(C^3) of a determinant. The
                       inverse uses matrix products only: L = I + N with N strictly lower, hence
                       nilpotent, and (I + N)^-1 = sum_{k<C} (-N)^k = prod_j (I + (-N)^(2^j)),
                       exactly, in ceil(log2 C) products (the same for U); so the sampling
                       direction exports to ONNX, which has no matrix inverse.
    FactorOut          the multi-scale split (RealNVP sec. 3.6, Glow's split): half the channels
                       leave the flow as a latent, standardised by a prior on the half that stays:
                       eps = (z_out - mu(z_kept)) exp(-log_sigma(z_kept)), log det = -sum
                       log_sigma. RealNVP's prior is N(0, I) (mu = 0, log_sigma = 0); Glow's is a
                       zero-initialised convolution of z_kept.
    LearnedPrior       the last latent standardised by a learned per-position mean and scale
                       (Glow's "learntop"); identity at initialisation.

Writing every prior as a standardisation makes the whole flow one bijection from x to eps ~
N(0, I): log p(x) = log N(eps; 0, I) + total log det, and sampling at temperature T is
x = f^-1(T eps) (Glow sec. 5: z = mu + T sigma eps for every factored-out latent).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from keras_gen.errors import KerasGenError

SCALE_FUNCTIONS = ("tanh", "sigmoid")
MASKS = ("checkerboard", "channel")


def _sum_per_example(x):
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def checkerboard(height: int, width: int, parity: int) -> np.ndarray:
    """(1, H, W, 1) float mask: 1 where (row + column + parity) is even (RealNVP fig. 3)."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return ((rows + cols + parity) % 2 == 0).astype(np.float32)[None, :, :, None]


@keras.saving.register_keras_serializable(package="keras_gen")
class FlowLayer(layers.Layer):
    """A bijection's layer: it computes in float32 under any precision policy (a mixed_float16
    run included), because a flow's log-likelihood sums a log-determinant over every pixel and its
    inverse must undo it to 1e-5, which float16's 3 significant digits cannot keep."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)


@keras.saving.register_keras_serializable(package="keras_gen")
class Squeeze(FlowLayer):
    """(B, H, W, C) <-> (B, H/2, W/2, 4C), each 2x2 block to channels (space-to-depth)."""

    def call(self, x, reverse=False, training=False):
        height, width, channels = x.shape[1], x.shape[2], x.shape[3]
        if reverse:  # (B, H, W, 4C) -> (B, 2H, 2W, C)
            c = channels // 4
            x = ops.reshape(x, (-1, height, width, 2, 2, c))
            x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
            return ops.reshape(x, (-1, 2 * height, 2 * width, c))
        x = ops.reshape(x, (-1, height // 2, 2, width // 2, 2, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, H/2, W/2, 2, 2, C)
        y = ops.reshape(x, (-1, height // 2, width // 2, 4 * channels))
        return y, ops.zeros((ops.shape(y)[0],))


@keras.saving.register_keras_serializable(package="keras_gen")
class CouplingNetwork(FlowLayer):
    """The s, t network of a coupling: conv 3x3 -> ReLU -> `blocks` residual blocks (RealNVP's
    ResNet) -> conv 1x1 -> ReLU -> conv 3x3 to 2 x `out_channels`, zero-initialised so that every
    coupling starts as the identity (Glow sec. 3.3). blocks=0 is Glow's network."""

    def __init__(self, width: int, blocks: int, out_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.width, self.blocks, self.out_channels = int(width), int(blocks), int(out_channels)
        self.conv_in = layers.Conv2D(self.width, 3, padding="same", name="conv_in", dtype=self.dtype_policy)
        self.residual = [(layers.Conv2D(self.width, 3, padding="same", name=f"block_{i}_a", dtype=self.dtype_policy),
                          layers.Conv2D(self.width, 3, padding="same", name=f"block_{i}_b", dtype=self.dtype_policy))
                         for i in range(self.blocks)]
        self.hidden = layers.Conv2D(self.width, 1, name="hidden", dtype=self.dtype_policy)
        self.conv_out = layers.Conv2D(2 * self.out_channels, 3, padding="same", kernel_initializer="zeros",
                                      name="conv_out", dtype=self.dtype_policy)

    def build(self, input_shape):
        spatial = tuple(input_shape[:-1])
        self.conv_in.build(input_shape)
        for first, second in self.residual:
            first.build((*spatial, self.width))
            second.build((*spatial, self.width))
        self.hidden.build((*spatial, self.width))
        self.conv_out.build((*spatial, self.width))

    def call(self, x):
        h = ops.relu(self.conv_in(x))
        for first, second in self.residual:
            h = ops.relu(h + second(ops.relu(first(h))))
        out = self.conv_out(ops.relu(self.hidden(h)))  # (B, H, W, 2 C_out)
        return out[..., :self.out_channels], out[..., self.out_channels:]

    def get_config(self):
        return {**super().get_config(), "width": self.width, "blocks": self.blocks,
                "out_channels": self.out_channels}


@keras.saving.register_keras_serializable(package="keras_gen")
class AffineCoupling(FlowLayer):
    """y = x_a + (1 - b)(x exp(s(x_a)) + t(x_a)); see the module docstring."""

    def __init__(self, mask: str, parity: int = 0, width: int = 64, blocks: int = 0, scale: str = "tanh", **kwargs):
        super().__init__(**kwargs)
        if mask not in MASKS or scale not in SCALE_FUNCTIONS:
            raise KerasGenError(f"AffineCoupling: mask must be one of {MASKS} and scale one of {SCALE_FUNCTIONS}, "
                                f"got {mask!r} and {scale!r}.")
        self.mask, self.parity, self.width, self.blocks, self.scale = mask, int(parity) % 2, int(width), int(blocks), scale

    def build(self, input_shape):
        height, width, channels = input_shape[1:]
        if self.mask == "channel":
            if channels < 2:
                raise KerasGenError(f"A channel coupling needs 2 or more channels, got {channels}: squeeze first.")
            self.kept = channels // 2
            changed = channels - self.kept
            net_in = (*input_shape[:-1], self.kept)
        else:
            self.b = checkerboard(height, width, self.parity)
            changed, net_in = channels, input_shape
        self.net = CouplingNetwork(self.width, self.blocks, changed, name="net")
        self.net.build(net_in)
        # RealNVP's s = scale * tanh(raw): bounded at the start, its range learned per channel.
        self.tanh_scale = (self.add_weight(shape=(changed,), initializer="ones", name="tanh_scale")
                           if self.scale == "tanh" else None)

    def _log_scale_and_shift(self, conditioner):
        raw, shift = self.net(conditioner)
        if self.scale == "tanh":
            return self.tanh_scale * ops.tanh(raw), shift
        return ops.log_sigmoid(raw + 2.0), shift  # Glow: scale = sigmoid(raw + 2), near 0.88 at the start

    def _split(self, x):
        if self.mask == "channel":  # parity 1 conditions on the second half
            first, second = x[..., :self.kept], x[..., self.kept:]
            return (second, first) if self.parity else (first, second)
        b = ops.convert_to_tensor(self.b)
        return x * b, x

    def _join(self, kept, changed):
        if self.mask == "channel":
            return ops.concatenate([changed, kept] if self.parity else [kept, changed], axis=-1)
        b = ops.convert_to_tensor(self.b)
        return kept + (1.0 - b) * changed

    def call(self, x, reverse=False, training=False):
        kept, rest = self._split(x)
        log_s, t = self._log_scale_and_shift(kept)
        if self.mask == "checkerboard":
            log_s = log_s * (1.0 - ops.convert_to_tensor(self.b))  # no change where b = 1
        if reverse:
            rest = (rest * ops.exp(-log_s) - t) if self.scale == "sigmoid" else (rest - t) * ops.exp(-log_s)
            return self._join(kept, rest)
        rest = (rest + t) * ops.exp(log_s) if self.scale == "sigmoid" else rest * ops.exp(log_s) + t
        return self._join(kept, rest), _sum_per_example(log_s)

    def get_config(self):
        return {**super().get_config(), "mask": self.mask, "parity": self.parity, "width": self.width,
                "blocks": self.blocks, "scale": self.scale}


@keras.saving.register_keras_serializable(package="keras_gen")
class ActNorm(FlowLayer):
    """y = (x + bias) exp(log_scale) per channel, initialised from the first training batch."""

    def build(self, input_shape):
        channels = input_shape[-1]
        # aggregation "mean": the initialisation may assign them from each replica's batch
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias", aggregation="mean")
        self.log_scale = self.add_weight(shape=(channels,), initializer="zeros", name="log_scale",
                                         aggregation="mean")
        self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False, name="initialized",
                                           aggregation="mean")

    def _initialize_from(self, x):
        """Set bias and log_scale from this batch's per-channel statistics, once (a graph cond)."""
        import tensorflow as tf

        def initialize():
            mean = ops.mean(x, axis=(0, 1, 2))
            std = ops.sqrt(ops.mean(ops.square(x - mean), axis=(0, 1, 2)))
            self.bias.assign(-ops.stop_gradient(mean))
            self.log_scale.assign(-ops.log(ops.stop_gradient(std) + 1e-6))
            self.initialized.assign(1.0)
            return tf.constant(True)

        tf.cond(self.initialized > 0.5, lambda: tf.constant(False), initialize)

    def call(self, x, reverse=False, training=False):
        if reverse:
            return x * ops.exp(-self.log_scale) - self.bias
        if training:
            self._initialize_from(x)
        y = (x + self.bias) * ops.exp(self.log_scale)
        pixels = float(x.shape[1] * x.shape[2])
        return y, ops.ones((ops.shape(x)[0],)) * (pixels * ops.sum(self.log_scale))


def _unipotent_inverse(n, size: int):
    """(I + n)^-1 for a strictly triangular (so nilpotent) n: prod_j (I + (-n)^(2^j)), exact."""
    eye = ops.eye(size)
    power, inverse = -n, eye + (-n)
    for _ in range(max(0, math.ceil(math.log2(max(size, 1))) - 1)):
        power = ops.matmul(power, power)
        inverse = ops.matmul(inverse, eye + power)
    return inverse


@keras.saving.register_keras_serializable(package="keras_gen")
class InvertibleConv1x1(FlowLayer):
    """y = x W at every pixel, W = P L (U + diag(sign exp(log_s))): Glow's LU parametrisation,
    started from a random rotation drawn with `seed`."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)

    def build(self, input_shape):
        import scipy.linalg

        c = int(input_shape[-1])
        self.channels = c
        rotation = np.linalg.qr(np.random.default_rng(self.seed).standard_normal((c, c)))[0].astype(np.float64)
        p, lower, upper = scipy.linalg.lu(rotation)
        diagonal = np.diag(upper)

        def constant(value):
            return lambda shape, dtype=None: ops.convert_to_tensor(np.asarray(value, np.float32))

        self.permutation = self.add_weight(shape=(c, c), initializer=constant(p), trainable=False, name="permutation")
        self.sign = self.add_weight(shape=(c,), initializer=constant(np.sign(diagonal)), trainable=False, name="sign")
        self.lower = self.add_weight(shape=(c, c), initializer=constant(lower), name="lower")
        self.upper = self.add_weight(shape=(c, c), initializer=constant(np.triu(upper, 1)), name="upper")
        self.log_s = self.add_weight(shape=(c,), initializer=constant(np.log(np.abs(diagonal))), name="log_s")
        self.lower_mask = np.tril(np.ones((c, c), np.float32), -1)

    def _factors(self):
        mask = ops.convert_to_tensor(self.lower_mask)
        strictly_lower = self.lower * mask  # L = I + strictly_lower
        strictly_upper = self.upper * ops.transpose(mask)
        diagonal = self.sign * ops.exp(self.log_s)
        return strictly_lower, strictly_upper, diagonal

    def weight(self):
        """W (C, C), acting on row vectors: y = x W."""
        n_lower, n_upper, diagonal = self._factors()
        eye = ops.eye(self.channels)
        return ops.matmul(self.permutation, ops.matmul(eye + n_lower, n_upper + ops.diag(diagonal)))

    def inverse_weight(self):
        """W^-1 = (U + D)^-1 L^-1 P^T by matrix products (module docstring)."""
        n_lower, n_upper, diagonal = self._factors()
        # U + D = D (I + D^-1 U): its inverse is (I + D^-1 U)^-1 D^-1
        upper_inverse = ops.matmul(_unipotent_inverse(n_upper / diagonal[:, None], self.channels),
                                   ops.diag(1.0 / diagonal))
        lower_inverse = _unipotent_inverse(n_lower, self.channels)
        return ops.matmul(upper_inverse, ops.matmul(lower_inverse, ops.transpose(self.permutation)))

    def call(self, x, reverse=False, training=False):
        kernel = self.inverse_weight() if reverse else self.weight()
        y = ops.conv(x, ops.reshape(kernel, (1, 1, self.channels, self.channels)), padding="same")
        if reverse:
            return y
        pixels = float(x.shape[1] * x.shape[2])
        return y, ops.ones((ops.shape(x)[0],)) * (pixels * ops.sum(self.log_s))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_gen")
class FactorOut(FlowLayer):
    """Split off half the channels as a standardised latent (module docstring). Forward:
    x -> (kept, eps, log det); reverse: (kept, eps) -> x. `learned` gives Glow's conditional
    prior (a zero-initialised 3x3 convolution of the kept half); otherwise N(0, I)."""

    def __init__(self, learned: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.learned = bool(learned)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.kept = channels // 2
        self.prior = (layers.Conv2D(2 * (channels - self.kept), 3, padding="same", kernel_initializer="zeros",
                                    name="prior", dtype=self.dtype_policy) if self.learned else None)
        if self.prior is not None:
            self.prior.build((*input_shape[:-1], self.kept))

    def _mean_and_log_sigma(self, kept):
        out = self.prior(kept)
        half = out.shape[-1] // 2
        return out[..., :half], out[..., half:]

    def call(self, x, reverse=False, training=False):
        if reverse:
            kept, eps = x
            if self.prior is not None:
                mean, log_sigma = self._mean_and_log_sigma(kept)
                eps = mean + ops.exp(log_sigma) * eps
            return ops.concatenate([kept, eps], axis=-1)
        kept, out = x[..., :self.kept], x[..., self.kept:]
        if self.prior is None:
            return kept, out, ops.zeros((ops.shape(x)[0],))
        mean, log_sigma = self._mean_and_log_sigma(kept)
        return kept, (out - mean) * ops.exp(-log_sigma), -_sum_per_example(log_sigma)

    def get_config(self):
        return {**super().get_config(), "learned": self.learned}


@keras.saving.register_keras_serializable(package="keras_gen")
class LearnedPrior(FlowLayer):
    """eps = (z - mean) exp(-log_sigma) with a learned mean and scale per position (Glow's learned
    top prior); log det = -sum log_sigma. Zero at the start: the identity."""

    def build(self, input_shape):
        self.mean = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros", name="mean")
        self.log_sigma = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros", name="log_sigma")

    def call(self, x, reverse=False, training=False):
        if reverse:
            return self.mean + ops.exp(self.log_sigma) * x
        return (x - self.mean) * ops.exp(-self.log_sigma), ops.ones((ops.shape(x)[0],)) * -ops.sum(self.log_sigma)
