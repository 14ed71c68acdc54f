"""Denoising diffusion: Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models"; sampled
with DDPM's ancestral chain or with DDIM (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit
Models"), and, for `cddpm`, classifier-free guidance (Ho & Salimans 2021, "Classifier-Free
Diffusion Guidance").

Training (Ho et al. Algorithm 1): for an image x_0, a uniform step t ~ U{0, ..., T-1} and noise
eps ~ N(0, I), the network sees x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (eq. 4) and
minimises the simplified objective
    L_simple = E || eps - eps_theta(x_t, t) ||^2                                          (14)
or, with `prediction=v`, || v - v_theta(x_t, t) ||^2, v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0
(Salimans & Ho 2022), which keeps the target's scale even where abar_t -> 0 (cosine schedule).
`loss_weighting=min_snr` weights each example's error by Min-SNR-gamma (Hang et al. 2023,
"Efficient Diffusion Training via Min-SNR Weighting Strategy"): min(SNR_t, gamma) / SNR_t for
epsilon, min(SNR_t, gamma) / (SNR_t + 1) for v, i.e. x0's error weighted by min(SNR_t, gamma)
(the scheduler's `loss_weight`); `uniform` is L_simple. `auto` (the default) is min_snr with the
cosine schedule and uniform with the linear one (`default_loss_weighting`); a run saved before
the option existed trains on with L_simple, and `self.loss_weighting` is what the loss uses.
`prediction=auto` (the default) is v with the cosine schedule and epsilon with the linear one
(keras_gen/core/schedulers.py's `default_prediction` says why); a checkpoint saved with epsilon
or v keeps it, and `self.scheduler.prediction` is what the network predicts.
`cddpm` feeds the label too, replaced by the null class with probability `label_dropout`, so one
network learns p(x | y) and p(x) (Ho & Salimans, Algorithm 1).

Sampling is a loop (keras_gen/core/samplers/ddim.py over keras_gen/core/schedulers.py, the same
update rules in numpy and TF): the U-Net (`network`, x_t, t[, label] -> prediction) is what exports
to ONNX; the loop runs in numpy over onnxruntime at the edge and as a tf.while_loop
(keras_gen/core_tf/samplers.py) in the SavedModel's `sample` and Keras' `sample`. DDIM clips x0_hat
and keeps (SNR_t / SNR_prev)^4 of the clipped-off part with the network's own eps_hat (the
scheduler's docstring: re-reading eps_hat from the clipped x0_hat left samples speckled). The
weights used for sampling and export are the EMA of the trained ones (`ema`, Ho et al.'s 0.9999;
0.999 suits the short runs here).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.core.samplers.ddim import DEFAULT_ETA, GUIDANCE_RANGE
from keras_gen.core.schedulers import (LOSS_WEIGHTING_CHOICES, MIN_SNR_GAMMA, PREDICTION_CHOICES, SAMPLERS,
                                       SCHEDULES, DiffusionScheduler, default_loss_weighting)
from keras_gen.core_tf.samplers import DiffusionSampler
from keras_gen.core_tf.schedulers import TF
from keras_gen.models.diffusion.unet import build_unet


@keras.saving.register_keras_serializable(package="keras_gen")
class DDPM(GenerativeModel):
    """A U-Net trained to predict the noise (or v) of x_t; see the module docstring."""

    @dataclass
    class Options(ModelOptions):
        ema: float = option(0.999, "EMA momentum of the sampling weights (Ho et al. 0.9999 over 800k steps; "
                                   "0.999 for runs of a few thousand)", min=0.0, max=0.99999)
        timesteps: int = option(1000, "T, the length of the forward chain (Ho et al.)", min=1, max=10000)
        schedule: str = option("linear", "beta schedule: linear (Ho et al.) or cosine (Nichol & Dhariwal 2021, "
                               "better at low resolution)", choices=SCHEDULES)
        prediction: str = option("auto", "what the network predicts: epsilon (Ho et al.), v (Salimans & Ho 2022), "
                                         "or auto: v with the cosine schedule (where an epsilon network's x0 "
                                         "estimate is its error times 20,000 at t = T - 1; DDIM-50's FID 5.29 -> "
                                         "3.55 on the 16 px digits model), epsilon with linear",
                                 choices=PREDICTION_CHOICES)
        loss_weighting: str = option("auto", "weight of each t's squared error: uniform (Ho et al.'s L_simple), "
                                             "min_snr (Hang et al. 2023: x0's error weighted by min(SNR_t, gamma), "
                                             "i.e. min(SNR, gamma) / SNR for epsilon, / (SNR + 1) for v), or auto: "
                                             "min_snr with the cosine schedule (DDIM-50's FID 3.79 -> 2.94 on the "
                                             "16 px digits model), uniform with linear",
                                     choices=LOSS_WEIGHTING_CHOICES)
        min_snr_gamma: float = option(MIN_SNR_GAMMA, "gamma of loss_weighting=min_snr (Hang et al. 5)", min=0.0,
                                      min_exclusive=True)
        filters: int = option(64, "base width of the U-Net (Ho et al. 128 on CIFAR-10; 64 for 16-32 px on a CPU)",
                              min=1)
        channel_multipliers: str = option("1,2,2", "width of each resolution level, comma-separated; levels - 1 "
                                          "halvings (32 px -> 8 px with three levels)")
        blocks: int = option(2, "residual blocks per level (Ho et al. 2)", min=1)
        attention_resolution: int = option(8, "self-attention at levels of this many pixels or fewer (Ho et al. "
                                           "16 of 32)", min=0)
        groups: int = option(8, "group-normalisation groups (Ho et al. 32 of 128 channels)", min=1)
        dropout: float = option(0.0, "dropout in residual blocks (Ho et al. 0.1 on CIFAR-10)", min=0.0, max=0.9)
        label_dropout: float = option(0.1, "cddpm: share of labels replaced by the null class, training the "
                                           "unconditional model for guidance (Ho & Salimans 0.1-0.2)",
                                      min=0.0, max=1.0)
        learning_rate: float = option(2e-4, "Adam (Ho et al. 2e-4)", min=0.0, min_exclusive=True)
        sampler: str = option("ddim", "default sampler of a request: ddim or ddpm", choices=SAMPLERS)
        sample_steps: int = option(50, "default steps of a request (DDIM-50 at the default eta 0.5: FID 0.93x "
                                       "DDPM-1000's on the 16 px cosine model at 23x less time, 1.50x on the "
                                       "32 px benchmark, where every FID is inside the noise)", min=1)
        eta: float = option(DEFAULT_ETA, "default DDIM noise: 0 deterministic, 1 DDPM-like (DDIM-50's FID over "
                                         "DDPM-1000's on the 16 px cosine model: 1.28x at eta 0, 0.93x at 0.5, "
                                         "0.73x at 1; on the 32 px benchmark 1.81x at 0, 1.50x at 0.5)",
                            min=0.0, max=1.0)
        guidance: float = option(3.0, "cddpm: default classifier-free guidance scale (1 conditional)",
                                 min=GUIDANCE_RANGE[0], max=GUIDANCE_RANGE[1])

    conditional = False
    # the harness's U-Net: 8 px (the digits' own size) -> 4 px, attention in the middle only (the
    # same layer at a level, in tests/models/diffusion's tiny U-Nets, cost a fifth of the CPU here)
    harness_image_size = 8
    # runs saved before the loss weighting existed trained with L_simple. (eta is not here: it was an
    # option from the first release, so every saved config records it, and a run saved while the
    # default was 0 keeps its deterministic default request; `--eta` or `--set` changes a request's.)
    options_added_later = {"loss_weighting": "uniform", "min_snr_gamma": MIN_SNR_GAMMA}
    harness_options = {"timesteps": 10, "filters": 8, "channel_multipliers": "1,2", "blocks": 1,
                       "attention_resolution": 0, "groups": 4, "sample_steps": 3}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        try:
            self.multipliers = tuple(int(m) for m in o.channel_multipliers.split(","))
        except ValueError:
            self.multipliers = ()
        if not self.multipliers or min(self.multipliers) < 1:
            raise KerasGenError(f"channel_multipliers takes positive whole numbers separated by commas (1,2,2), "
                                f"got {o.channel_multipliers!r}.")
        if self.image_size % 2 ** (len(self.multipliers) - 1):
            raise KerasGenError(f"a U-Net of {len(self.multipliers)} levels halves the image "
                                f"{len(self.multipliers) - 1} times: image_size must be a multiple of "
                                f"{2 ** (len(self.multipliers) - 1)}, got {self.image_size}.")
        if o.sample_steps > o.timesteps:
            raise KerasGenError(f"sample_steps ({o.sample_steps}) cannot exceed timesteps T ({o.timesteps}).")
        self.scheduler = DiffusionScheduler(o.timesteps, o.schedule, o.prediction)
        self.loss_weighting = default_loss_weighting(o.schedule) if o.loss_weighting == "auto" else o.loss_weighting
        self.denoiser = self.build_denoiser()
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    def build_denoiser(self) -> keras.Model:
        """The U-Net (x_t, t[, label]); a subclass conditioned otherwise (tddpm's captions) builds its own."""
        o = self.options
        return build_unet(self.image_shape, o.filters, self.multipliers, o.blocks, o.attention_resolution, o.groups,
                          self.num_classes if self.conditional else None, o.dropout)

    def default_optimizers(self):
        return {"denoiser": keras.optimizers.Adam(self.options.learning_rate)}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def _denoiser_inputs(self, x_t, t, labels):
        return [x_t, t, labels] if self.conditional else [x_t, t]

    def train_step(self, data):
        if self.conditional:
            images, labels = data[0], tf.cast(data[1], tf.int32)
        else:
            images, labels = (data[0] if isinstance(data, (tuple, list)) else data), None
        batch = tf.shape(images)[0]
        t = self.random_uniform((batch,), 0, self.options.timesteps, dtype="int32")  # uniform t
        noise = self.random_normal(tf.shape(images))
        if self.conditional:  # label dropout: the null class trains the unconditional model
            dropped = self.random_uniform((batch,)) < self.options.label_dropout
            labels = tf.where(dropped, tf.fill(tf.shape(labels), self.num_classes), labels)
        x_t = self.scheduler.add_noise(images, noise, t, TF)  # eq. (4)
        target = self.scheduler.training_target(images, noise, t, TF)
        with tf.GradientTape() as tape:
            prediction = self.denoiser(self._denoiser_inputs(x_t, t, labels), training=True)
            loss = self.denoising_loss(target, prediction, t)
        self.apply_gradients("denoiser", tape, loss)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def denoising_loss(self, target, prediction, t):
        """Eq. (14)'s mean squared error, each example's weighted by `loss_weighting` at its t."""
        squared = tf.square(target - tf.cast(prediction, tf.float32))
        if self.loss_weighting == "uniform":
            return tf.reduce_mean(squared)  # eq. (14)
        weight = self.scheduler.loss_weight(t, self.loss_weighting, self.options.min_snr_gamma, TF)
        return tf.reduce_mean(weight * tf.reduce_mean(squared, axis=[1, 2, 3]))

    def call(self, inputs, training=False):
        return self.denoiser(inputs, training=training)

    # -- sampling: the loop over steps, the U-Net exported alone ----------------------------------
    def input_specs(self):
        return [kinds.InputSpec("noise", "latent", self.image_shape, "float32", distribution="gaussian",
                                description="x_T ~ N(0, I), where the reverse chain starts")]

    def sampler(self):
        o = self.options
        return DiffusionSampler(scheduler=self.scheduler.get_config(), height=self.image_size, width=self.image_size,
                                channels=self.channels, num_classes=self.num_classes if self.conditional else None,
                                sampler=o.sampler, steps=o.sample_steps, eta=o.eta, guidance=o.guidance)

    def network_specs(self):
        T = self.options.timesteps
        specs = [kinds.InputSpec("x", "latent", self.image_shape, "float32", distribution="gaussian",
                                 description="x_t, the noisy images"),
                 kinds.option("t", T // 2, 0, T - 1, "int32", "the step t of x_t, one for the batch")]
        if self.conditional:
            specs.append(kinds.InputSpec("label", "label", (), "int32", num_classes=self.num_classes + 1,
                                         description=f"class index; {self.num_classes} is the null class "
                                                     "(unconditional)"))
        return specs

    def network(self, x, t, label=None):
        """x_t (B, H, W, C), a step t for the batch (+ labels) -> {"prediction": eps or v (B, H, W, C)}."""
        x = tf.convert_to_tensor(x, tf.float32)
        label = None if label is None else tf.convert_to_tensor(label, tf.int32)
        t = tf.fill(tf.shape(x)[:1], tf.cast(t, tf.int32))
        return {"prediction": self.denoiser(self._denoiser_inputs(x, t, label), training=False)}


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalDDPM(DDPM):
    """p(x | y) and, through the null class, p(x): guided sampling mixes the two."""

    conditional = True
    # One U-Net level in the harness: ddpm's entry covers the down/up path; this one, the label.
    harness_options = {**DDPM.harness_options, "channel_multipliers": "1", "guidance": 2.0}

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is None:
            raise KerasGenError("cddpm is class-conditional: it needs labelled data (digits, shapes, photos, "
                                "textures, a labelled TFDS set, or a folder with one subfolder per class).")
        super().__init__(**kwargs)

    def input_specs(self):
        return [*super().input_specs(), kinds.label(self.num_classes)]
