"""What RealNVP and Glow share: a multi-scale flow over dequantised 8-bit images, trained by exact
maximum likelihood and sampled in one call of its inverse.

Data (Dinh et al. 2017 sec. 4.1; Theis, van den Oord & Bethge 2016 sec. 3.1). An image holds
D = H W C values x in {0, ..., 255}. Uniform dequantisation v = (x + u) / 256, u ~ U[0, 1)^D,
gives a continuous variable in [0, 1)^D, and for any density p on it
    -log P(x) <= E_u[-log p((x + u) / 256)] + D log 256          (nats; P the discrete model)
so the flow's bits/dim, NLL_v / (D ln 2) + 8, bounds a discrete model's and compares with
PixelCNN's exact figure. Before the flow, RealNVP maps v through a logit,
y = logit(a + (1 - 2a) v) with a = 0.05 (log det sum log((1 - 2a) / (s (1 - s))), s the
argument of the logit), and Glow centres it, y = v - 1/2 (log det 0).

The flow (keras_gen/layers/flow.py) maps y to eps ~ N(0, I) through the levels a subclass
builds (`flow_levels`): each level is a list of bijections, after each level but the last half the
channels leave as a latent (FactorOut), and the last latent may have a learned prior. So
    log p(v) = log N(eps; 0, I) + log |det d eps / d v|
The request latent `z` is eps flattened, D values: the factored-out latents level by level, then
the last. Sampling at temperature T is v = f^-1(T z) (Kingma & Dhariwal 2018 sec. 5), one
network call, exported to ONNX as `generate`. The image shown is v's bin: (256 v - 1/2) / 127.5 - 1
in the library's [-1, 1], whose uint8 rounding is floor(256 v), the level v was dequantised from.

`log_likelihood(images)` gives per-image -log p in nats of the library's continuous variable
(x + u) / 127.5 - 1 (likelihood_kind "continuous", keras_gen/metrics/likelihood.py), so that
`keras-gen evaluate --metrics bpd` converts it to the same bits/dim as training reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.layers.flow import FactorOut, FlowLayer
from keras_gen.models.base import GenerativeModel, ModelOptions, option

LOGIT_ALPHA = 0.05  # RealNVP's a: keeps the logit's argument in [0.05, 0.95]
TEMPERATURE = "temperature"
TEMPERATURE_RANGE = (0.0, 2.0)  # T = 0 is f^-1(0), the flow's "mode"; beyond 2 is noise


@keras.saving.register_keras_serializable(package="keras_gen")
class MultiScaleFlow(FlowLayer):
    """y (B, H, W, C) -> ([eps_1, ..., eps_L], log det (B,)) and back with `reverse(eps)`.
    `levels` lists each level's bijections, `splits` the L - 1 FactorOut layers between levels,
    `top` an optional prior layer for the last latent."""

    def __init__(self, levels: list, splits: list, top=None, **kwargs):
        super().__init__(**kwargs)
        if len(splits) != len(levels) - 1:
            raise ValueError("a multi-scale flow has one split between each two levels")
        self.level_sizes = [len(level) for level in levels]
        self.steps = [step for level in levels for step in level]  # flat: Keras tracks one list
        self.splits, self.top = list(splits), top

    def _levels(self):
        start = 0
        for size in self.level_sizes:
            yield self.steps[start:start + size]
            start += size

    def call(self, x, training=False):
        latents, log_det = [], ops.zeros((ops.shape(x)[0],))
        for i, level in enumerate(self._levels()):
            for step in level:
                x, step_log_det = step(x, training=training)
                log_det = log_det + step_log_det
            if i < len(self.splits):
                x, eps, split_log_det = self.splits[i](x, training=training)
                latents.append(eps)
                log_det = log_det + split_log_det
        if self.top is not None:
            x, top_log_det = self.top(x, training=training)
            log_det = log_det + top_log_det
        return latents + [x], log_det

    def reverse(self, latents):
        x = latents[-1]
        if self.top is not None:
            x = self.top(x, reverse=True)
        for i, level in reversed(list(enumerate(self._levels()))):
            if i < len(self.splits):
                x = self.splits[i]((x, latents[i]), reverse=True)
            for step in reversed(level):
                x = step(x, reverse=True)
        return x


@dataclass
class FlowOptions(ModelOptions):
    """Options RealNVP and Glow share."""

    width: int = option(64, "channels of each coupling's s, t network (RealNVP's 64 on CIFAR-10; Glow's 512)", min=1)
    temperature: float = option(1.0, "default sampling temperature: z scaled by T (a request may set its own)",
                                min=TEMPERATURE_RANGE[0], max=TEMPERATURE_RANGE[1])
    learning_rate: float = option(1e-3, "Adam", min=0.0, min_exclusive=True)
    clip_norm: float = option(100.0, "global gradient-norm clip of Adam's steps (0 is off): one bad batch's "
                                     "huge log-det gradient must not wreck the flow", min=0.0)


class FlowModel(GenerativeModel):
    """A flow over dequantised images; subclasses give `flow_levels()`, `preprocessing` and the
    image-size rule `size_divisor()`."""

    Options = FlowOptions
    preprocessing = "logit"  # "logit" (RealNVP) or "centre" (Glow)
    likelihood_kind = "continuous"  # a density over (x + u) / 127.5 - 1 (keras_gen/metrics/likelihood.py)
    square_only = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        height, width, _ = self.image_shape
        divisor = self.size_divisor()
        if height % divisor or width % divisor:
            raise KerasGenError(f"{self.registered_name or type(self).__name__} with these options squeezes the image "
                                f"{int(math.log2(divisor))} time(s): its sides must be multiples of {divisor}, got "
                                f"{height}x{width}. Pick another --image-size or fewer levels.")
        self.flow = MultiScaleFlow(*self.flow_levels(), name="flow")
        latents, _ = self.flow(ops.zeros((1, *self.image_shape)))  # builds every layer, eagerly
        self.latent_shapes = [tuple(int(d) for d in eps.shape[1:]) for eps in latents]
        self.latent_dim = int(sum(np.prod(s) for s in self.latent_shapes))  # = H W C
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.built = True

    # -- what subclasses give ------------------------------------------------------------------
    def flow_levels(self) -> tuple[list, list, object]:
        """(levels, splits, top) of the MultiScaleFlow."""
        raise NotImplementedError

    def size_divisor(self) -> int:
        raise NotImplementedError

    def default_optimizers(self):
        clip = self.options.clip_norm or None
        return {"flow": keras.optimizers.Adam(self.options.learning_rate, global_clipnorm=clip)}

    @property
    def metrics(self):
        return [self.bpd_tracker]

    # -- the bijection v -> eps, preprocessing included ---------------------------------------
    def _preprocess(self, v):
        """v in [0, 1) -> the flow's input y, and log |det dy/dv| (B,)."""
        if self.preprocessing == "centre":
            return v - 0.5, ops.zeros((ops.shape(v)[0],))
        s = LOGIT_ALPHA + (1.0 - 2.0 * LOGIT_ALPHA) * v
        log_det = math.log(1.0 - 2.0 * LOGIT_ALPHA) - ops.log(s) - ops.log(1.0 - s)
        return ops.log(s) - ops.log(1.0 - s), ops.sum(ops.reshape(log_det, (ops.shape(v)[0], -1)), axis=1)

    def _postprocess(self, y):
        if self.preprocessing == "centre":
            return y + 0.5
        return (ops.sigmoid(y) - LOGIT_ALPHA) / (1.0 - 2.0 * LOGIT_ALPHA)

    def encode_dequantised(self, v, training=False):
        """v (B, H, W, C) in [0, 1) -> eps (B, D) and log |det d eps / d v| (B,)."""
        y, log_det = self._preprocess(v)
        latents, flow_log_det = self.flow(y, training=training)
        eps = ops.concatenate([ops.reshape(e, (ops.shape(e)[0], -1)) for e in latents], axis=1)
        return eps, log_det + flow_log_det

    def decode_latent(self, eps):
        """eps (B, D) -> v (B, H, W, C): the inverse of `encode_dequantised`."""
        latents, start = [], 0
        for shape in self.latent_shapes:
            size = int(np.prod(shape))
            latents.append(ops.reshape(eps[:, start:start + size], (-1, *shape)))
            start += size
        return self._postprocess(self.flow.reverse(latents))

    def nll_dequantised(self, v, training=False):
        """-log p(v) in nats (B,), v in [0, 1)^D."""
        eps, log_det = self.encode_dequantised(v, training=training)
        log_normal = -0.5 * ops.sum(ops.square(eps), axis=1) - 0.5 * self.latent_dim * math.log(2.0 * math.pi)
        return -(log_normal + log_det)

    @staticmethod
    def levels_of(images):
        """Images in [-1, 1] -> their 8-bit levels x (float, whole numbers 0..255)."""
        return ops.clip(ops.round((images + 1.0) * 127.5), 0.0, 255.0)

    # -- training ------------------------------------------------------------------------------
    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        noise = self.random_uniform(tf.shape(images))
        v = (self.levels_of(images) + noise) / 256.0  # uniform dequantisation
        with tf.GradientTape() as tape:
            nats_per_dim = ops.mean(self.nll_dequantised(v, training=True)) / self.latent_dim
            bits_per_dim = nats_per_dim / math.log(2.0) + 8.0  # + log2 256: back to the 8-bit scale
        self.apply_gradients("flow", tape, bits_per_dim)
        self.bpd_tracker.update_state(bits_per_dim)
        return {"bits_per_dim": self.bpd_tracker.result()}

    def call(self, images, training=False):
        return self.latent_of(images)

    # -- likelihood ----------------------------------------------------------------------------
    def log_likelihood(self, images, seed: int = 0, samples: int = 1, batch_size: int = 64) -> np.ndarray:
        """Per-image -log p in nats (N,) of 8-bit images (uint8, or [-1, 1] floats on the 256
        levels), as a density over the library's scale (x + u) / 127.5 - 1 (module docstring).
        With `samples` k > 1 the dequantisation noise is drawn k times and the densities
        averaged, -log (1/k sum_j p(x + u_j)): a tighter bound on the discrete NLL. Seeded: the
        same call gives the same figures."""
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise KerasGenError(f"log_likelihood needs samples >= 1 dequantisation draws, got {samples!r}.")
        spec = kinds.image(self.image_shape, name="images")
        images = np.asarray(images)
        images = spec.check(images, len(images) if images.ndim == 4 else 1)
        levels = np.asarray(self.levels_of(images), np.float32)
        rng = np.random.default_rng(seed)
        draws = np.stack([-self._nll_batches((levels + rng.random(levels.shape, np.float32)) / 256.0, batch_size)
                          for _ in range(samples)])  # (k, N) log p(v)
        log_mean = np.logaddexp.reduce(draws, axis=0) - math.log(samples)
        # p over (x + u) / 127.5 - 1 = p(v) |dv/dy|, dv/dy = 127.5 / 256 per value
        return -(log_mean + self.latent_dim * math.log(127.5 / 256.0))

    def _nll_batches(self, v, batch_size):
        fn = getattr(self, "_nll_fn", None)
        if fn is None:
            fn = self._nll_fn = tf.function(lambda x: self.nll_dequantised(x), reduce_retracing=True)
        return np.concatenate([np.asarray(fn(tf.constant(v[i:i + batch_size])), np.float64)
                               for i in range(0, len(v), batch_size)])

    def latent_of(self, images):
        """The latents eps (B, D) of images in [-1, 1], each pixel at the centre of its bin
        (u = 1/2): `generate(latent_of(x), temperature=1)` gives x back. (Not `encode`: that name
        is a VAE's amortised q(z | x), which the latent pictures rank dimensions by.)"""
        return self.encode_dequantised((self.levels_of(ops.convert_to_tensor(images)) + 0.5) / 256.0)[0]

    # -- sampling: one call of the inverse -----------------------------------------------------
    def input_specs(self):
        return [kinds.latent(self.latent_dim),
                kinds.option(TEMPERATURE, float(self.options.temperature), *TEMPERATURE_RANGE, "float32",
                             "multiplies z: below 1 sharper and less varied, 0 the flow's f^-1(0)")]

    def generate(self, z, temperature=1.0):
        """z (B, D) ~ N(0, I) and T -> images (B, H, W, C) in [-1, 1]: x = f^-1(T z)."""
        v = self.decode_latent(ops.convert_to_tensor(z, "float32") * ops.cast(temperature, "float32"))
        return ops.clip((256.0 * v - 0.5) / 127.5 - 1.0, -1.0, 1.0)

    def export_metadata(self) -> dict:
        return {**super().export_metadata(), "latent_dim": self.latent_dim,
                "latent_shapes": [list(s) for s in self.latent_shapes]}
