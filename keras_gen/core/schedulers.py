"""Noise schedules and the DDPM / DDIM update rules, written once over an array module.

The same code runs in numpy (the edge loop over onnxruntime, no TensorFlow) and in TensorFlow
(the SavedModel's tf.while_loop, Keras' `sample` and `train_step`): every method takes `xp`,
`NUMPY` (here, the default) or `TF` (keras_gen/core_tf/schedulers.py), a namespace of the few
array functions it needs, so the update rules are written once and both runtimes run them.
Following the diffusers design, a scheduler is a small object with a JSON config and no network
inside: `set_timesteps`, `add_noise`, and one `*_step` per sampler.

Forward process (Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models"):
    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)                           (2)
    q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I),  abar_t = prod_{s<=t} (1 - beta_s)   (4)
    q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I)                                         (6)
    mu~_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t,
    beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t                                    (7)
Timesteps are 0-based here: t = 0 .. T-1, and "t - 1 = -1" is the clean image (abar = 1).

Schedules: `linear` beta from 1e-4 to 0.02 over T = 1000 (Ho et al.), rescaled by 1000 / T so a
short chain (the harness's T = 10) still ends near pure noise (Nichol & Dhariwal 2021 do the
same); `cosine` (Nichol & Dhariwal 2021, "Improved DDPM", eq. 17):
    abar_t = f(t) / f(0),  f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2),  s = 0.008,  beta_t <= 0.999.

Predictions: `epsilon` (the noise, Ho et al. eq. 14) or `v` (Salimans & Ho 2022, "Progressive
Distillation", sec. 4):  v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0, from which
    x_0 = sqrt(abar_t) x_t - sqrt(1 - abar_t) v,   eps = sqrt(1 - abar_t) x_t + sqrt(abar_t) v.
`auto` (`default_prediction`) is v with the cosine schedule and epsilon with the linear one. An
epsilon network's x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) multiplies its error by
1 / sqrt(abar_t), which the cosine schedule takes to 20,000 at t = T - 1 (abar = 2.4e-9; the
linear one 150): the noisiest steps, where a sampler fixes the layout of the image, read x0 from
amplified error that the clip below has to bound. A v network's x0 error is its own error times
sqrt(1 - abar_t) <= 1 at every t, so no step needs the clip's rescue. On docs/models/diffusion.md's
16 px cosine model (docs/BENCHMARKS.md, "diffusion cosine") v takes DDIM-50's FID from 5.29 to
3.55 and DDIM-50 at eta 1's (DDPM-like) from 3.40 to 2.12 at the same training steps.

Samplers over a subsequence tau of the T steps (`steps` of them, evenly spaced and ending at
T - 1, the "trailing" spacing of Lin et al. 2024, so the first step starts from pure noise):
  - DDPM ancestral (Ho et al. Algorithm 2): x_prev ~ q(x_prev | x_t, x0_hat), eq. (6)-(7) with
    the betas of the subsequence, 1 - abar_t / abar_prev (all T steps: exactly Algorithm 2 with
    sigma_t^2 = beta~_t);
  - DDIM (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12):
    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat + sigma z,
    sigma  = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)      (16)
    eta = 0 is deterministic; eta = 1 has DDPM's variance.

Clipping x0_hat to the image range [-1, 1] (`clip_sample`). With an epsilon network, x0_hat =
(x_t - sqrt(1 - abar) eps_hat) / sqrt(abar) divides the network's error by sqrt(abar): 20,000x at
the cosine schedule's t = T - 1 (abar = 2.4e-9), 150x at the linear one's, so the first steps'
x0_hat is far outside [-1, 1] and the clip bounds it. What matters is how much of the clipped-off
part d = x0_hat - clip(x0_hat) each step keeps. In DDIM it is kept as the share
    x0_used = clip(x0_hat) + rho^k d,   rho = SNR_t / SNR_prev = abar_t (1 - abar_prev) / ((1 - abar_t) abar_prev),
with the network's own eps_hat, so that over any stretch of the chain the clipped-off part
shrinks by (SNR_start / SNR_end)^k however many steps cover it (products of rho telescope).
DDPM's posterior (Ho et al. eq. 7, as `ddpm_step` clips) is k = 1, plus fresh noise. Two common
choices sit at the ends, and each fails a CPU-trained U-Net (docs/BENCHMARKS.md, "DDIM speckle"):
  - eps_hat re-read from the clipped x0_hat (Glide, ADM; diffusers' `use_clipped_model_output`)
    is k = 1/2: x_t keeps the clipped-off part of the first, noisiest steps, the deterministic
    chain feeds it back step after step, and one sample in seven ends as speckle noise;
  - the network's eps_hat with the clipped x0_hat (diffusers' DDIMScheduler default) is k -> inf:
    every step pulls out all of it, and as clipping cuts one tail of the error (background
    pixels sit at -1), the pull is a bias that grows with the number of steps (32 px DDIM-200
    samples wash out to grey: FID 14.8 against DDIM-50's 5.2).
DDIM here uses k = `CLIP_RATE` = 4 (at eta = 1, k = 1 is exactly DDPM's clipped posterior). On the
README's 16 px cosine run, samples rougher than every real digit (mean |Laplacian|) fall from 25%
to 4% at DDIM-50 and 1.5% at DDIM-200, with none above the issue's 0.35; DDIM-20 keeps 19% mildly
rough samples (1% above 0.35): a deterministic 20-step chain keeps what the network fails to
denoise, which DDPM's fresh noise (or eta = 1: none left) washes out. Where nothing is clipped,
d = 0 and the step is exactly eq. (12).
"""

from __future__ import annotations

import math
import types

import numpy as np

from keras_gen.core.errors import KerasGenError

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("epsilon", "v")
PREDICTION_CHOICES = ("auto", *PREDICTIONS)  # auto: default_prediction(schedule)
SAMPLERS = ("ddim", "ddpm")  # the request option `sampler` is an index into this
LOSS_WEIGHTINGS = ("uniform", "min_snr")  # training: `loss_weight`
LOSS_WEIGHTING_CHOICES = ("auto", *LOSS_WEIGHTINGS)  # auto: default_loss_weighting(schedule)
MIN_SNR_GAMMA = 5.0  # Hang et al. 2023's gamma
CLIP_RATE = 4.0  # k of DDIM's clip, see the module docstring


NUMPY = types.SimpleNamespace(
    name="numpy", sqrt=np.sqrt, where=np.where, maximum=np.maximum, minimum=np.minimum, clip=np.clip,
    take=lambda table, index: np.take(table, np.asarray(index, np.int64)),
    float32=lambda value: np.asarray(value, np.float32), int32=lambda value: np.asarray(value, np.int32))


def beta_schedule(schedule: str, timesteps: int) -> np.ndarray:
    """beta_1..beta_T (float64) of the named schedule; see the module docstring."""
    T = int(timesteps)
    if schedule == "linear":
        scale = 1000.0 / T
        return np.clip(np.linspace(scale * 1e-4, scale * 0.02, T, dtype=np.float64), 0.0, 0.999)
    if schedule == "cosine":
        s = 0.008
        f = np.cos(((np.arange(T + 1, dtype=np.float64) / T + s) / (1 + s)) * math.pi / 2) ** 2
        return np.clip(1.0 - f[1:] / f[:-1], 0.0, 0.999)
    raise KerasGenError(f"noise schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}.")


def default_prediction(schedule: str) -> str:
    """What `auto` predicts under `schedule`: v with cosine (whose abar reaches 2.4e-9, where an
    epsilon network's x0 estimate is its error times 20,000), epsilon with linear (Ho et al.; the
    32 px benchmark's figures). A fixed rule: a model saved with `auto` reads the same network
    back."""
    return "v" if schedule == "cosine" else "epsilon"


def default_loss_weighting(schedule: str) -> str:
    """What `auto` weights the loss by under `schedule`: min_snr with cosine (on docs/models/diffusion.md's
    16 px cosine v model it took DDIM-50's FID from 3.79 to 2.94 and DDPM-50's from 2.85 to 2.26,
    means over four sample seeds at the same 1,920 training steps; docs/BENCHMARKS.md, "fourth
    look"), uniform with linear (Ho et al.; the 32 px benchmark's figures). A fixed rule: a model
    saved with `auto` trains on with the same loss."""
    return "min_snr" if schedule == "cosine" else "uniform"


class DiffusionScheduler:
    """config: timesteps T, schedule (linear | cosine), prediction (epsilon | v; auto is resolved
    here by `default_prediction`, and the config names what it resolved to), clip_sample
    (clip x0_hat to the image range [-1, 1] in each update), clip_rate (DDIM's k: the share
    (SNR_t / SNR_prev)^k of the clipped-off part a step keeps; see the module docstring).

    A config without clip_rate (an export made before it existed) samples with CLIP_RATE: such an
    export's edge loop takes the fixed rule, while its SavedModel keeps the rule it was traced with
    (eps_hat re-read from the clipped x0_hat); export it again for the two to agree."""

    def __init__(self, timesteps: int = 1000, schedule: str = "linear", prediction: str = "epsilon",
                 clip_sample: bool = True, clip_rate: float = CLIP_RATE):
        if isinstance(timesteps, bool) or int(timesteps) < 1:
            raise KerasGenError(f"timesteps must be a positive integer, got {timesteps!r}.")
        if prediction not in PREDICTION_CHOICES:
            raise KerasGenError(f"prediction must be one of {', '.join(PREDICTION_CHOICES)}, got {prediction!r}.")
        if prediction == "auto":
            prediction = default_prediction(schedule)
        if isinstance(clip_rate, bool) or not isinstance(clip_rate, (int, float)) or not clip_rate > 0:
            raise KerasGenError(f"clip_rate must be a positive number (DDIM keeps (SNR_t / SNR_prev)^clip_rate "
                                f"of the clipped-off part of x0_hat), got {clip_rate!r}.")
        self.timesteps, self.schedule, self.prediction = int(timesteps), schedule, prediction
        self.clip_sample, self.clip_rate = bool(clip_sample), float(clip_rate)
        betas = beta_schedule(schedule, self.timesteps)
        alphas_cumprod = np.cumprod(1.0 - betas)
        # float64 products, stored float32: the tables both runtimes read are the same numbers
        self.betas = betas.astype(np.float32)
        self.alphas_cumprod = alphas_cumprod.astype(np.float32)

    def get_config(self) -> dict:
        return {"timesteps": self.timesteps, "schedule": self.schedule, "prediction": self.prediction,
                "clip_sample": self.clip_sample, "clip_rate": self.clip_rate}

    # -- tables --------------------------------------------------------------------------------
    def abar(self, t, xp=NUMPY):
        """abar_t, with abar_{-1} = 1 (the clean image); `t` an int or int array/tensor."""
        t = xp.int32(t)
        table = np.concatenate([[np.float32(1.0)], self.alphas_cumprod]).astype(np.float32)
        return xp.take(table, t + 1)

    def check_steps(self, steps: int) -> int:
        if isinstance(steps, bool) or not float(steps).is_integer() or not 1 <= int(steps) <= self.timesteps:
            raise KerasGenError(f"steps must be a whole number from 1 to T = {self.timesteps}, got {steps!r}.")
        return int(steps)

    def set_timesteps(self, steps: int) -> np.ndarray:
        """The `steps` timesteps a sampler visits, in order (descending; the last is >= 0)."""
        steps = self.check_steps(steps)
        return np.array([self.timestep(k, steps) for k in range(steps)], np.int32)

    def timestep(self, k, steps, xp=NUMPY):
        """Timestep of loop iteration k of `steps` (trailing spacing): ((i + 1) T) // steps - 1,
        i = steps - 1 - k. Integer arithmetic, identical in both runtimes; k = steps gives -1."""
        i = xp.int32(steps) - 1 - xp.int32(k)
        return xp.where(i < 0, xp.int32(-1), ((i + 1) * self.timesteps) // xp.int32(steps) - 1)

    # -- forward process ---------------------------------------------------------------------
    def add_noise(self, x0, noise, t, xp=NUMPY):
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps: a draw of q(x_t | x_0), eq. (4); t per sample (B,)."""
        abar = self._per_sample(self.abar(t, xp), x0, xp)
        return xp.sqrt(abar) * x0 + xp.sqrt(1.0 - abar) * noise

    def velocity(self, x0, noise, t, xp=NUMPY):
        """v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0 (Salimans & Ho 2022)."""
        abar = self._per_sample(self.abar(t, xp), x0, xp)
        return xp.sqrt(abar) * noise - xp.sqrt(1.0 - abar) * x0

    def training_target(self, x0, noise, t, xp=NUMPY):
        """What the network learns to output at (x_t, t): the noise, or v."""
        return noise if self.prediction == "epsilon" else self.velocity(x0, noise, t, xp)

    def snr(self, t, xp=NUMPY):
        """SNR_t = abar_t / (1 - abar_t), the signal-to-noise ratio of x_t (Kingma et al. 2021)."""
        abar = self.abar(t, xp)
        return abar / (1.0 - abar)

    def loss_weight(self, t, weighting: str = "uniform", gamma: float = MIN_SNR_GAMMA, xp=NUMPY):
        """Per-example weight of the squared error of the network's output at step t (B,).

        `uniform`: 1, Ho et al.'s L_simple (eq. 14). `min_snr`: Min-SNR-gamma (Hang et al. 2023,
        "Efficient Diffusion Training via Min-SNR Weighting Strategy"). Both targets are
        a multiple of x0's error: ||eps - eps_hat||^2 = SNR_t ||x0 - x0_hat||^2 and
        ||v - v_hat||^2 = (SNR_t + 1) ||x0 - x0_hat||^2, and the strategy weights x0's error by
        min(SNR_t, gamma), so the weight of the network's own loss is
            epsilon:  min(SNR_t, gamma) / SNR_t          (1 where SNR_t <= gamma)
            v:        min(SNR_t, gamma) / (SNR_t + 1)    (-> 0 at both ends, gamma / (gamma + 1) at SNR = gamma)
        capping the weight of the nearly clean steps: Hang et al. treat the steps as tasks whose
        gradients conflict, and the cap keeps the easy, low-noise ones from dominating."""
        if weighting not in LOSS_WEIGHTINGS:
            raise KerasGenError(f"loss_weighting must be one of {', '.join(LOSS_WEIGHTINGS)}, got {weighting!r}.")
        if weighting == "uniform":
            return self.abar(t, xp) * 0.0 + 1.0  # ones, in t's runtime
        snr = self.snr(t, xp)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma > 0:
            raise KerasGenError(f"min_snr_gamma must be a positive number (Hang et al. use 5), got {gamma!r}.")
        capped = xp.minimum(snr, xp.float32(gamma))  # SNR = inf (abar rounded to 1) gives weight 0, not NaN
        return capped / snr if self.prediction == "epsilon" else capped / (snr + 1.0)

    def q_posterior(self, x0, x_t, t, t_prev=None, xp=NUMPY):
        """Mean and variance of q(x_prev | x_t, x_0), eq. (6)-(7); t_prev defaults to t - 1, and a
        coarser t_prev (a respaced chain) uses the subsequence's beta = 1 - abar_t / abar_prev."""
        t_prev = xp.int32(t) - 1 if t_prev is None else t_prev
        abar_t, abar_prev = self.abar(t, xp), self.abar(t_prev, xp)
        beta = 1.0 - abar_t / abar_prev
        mean = (xp.sqrt(abar_prev) * beta / (1.0 - abar_t)) * x0 \
            + (xp.sqrt(1.0 - beta) * (1.0 - abar_prev) / (1.0 - abar_t)) * x_t
        variance = (1.0 - abar_prev) / (1.0 - abar_t) * beta
        return mean, variance

    # -- reading the network ------------------------------------------------------------------
    def read_prediction(self, output, x_t, t, xp=NUMPY):
        """The network's output at (x_t, t) -> (x0_hat, eps_hat), unclipped, so that
        x_t = sqrt(abar) x0_hat + sqrt(1 - abar) eps_hat; t one step for the batch.
        epsilon: x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar) (Ho et al. eq. 15)."""
        abar = self.abar(t, xp)
        if self.prediction == "epsilon":
            return (x_t - xp.sqrt(1.0 - abar) * output) / xp.sqrt(abar), output
        return (xp.sqrt(abar) * x_t - xp.sqrt(1.0 - abar) * output,
                xp.sqrt(1.0 - abar) * x_t + xp.sqrt(abar) * output)

    def split_prediction(self, output, x_t, t, xp=NUMPY):
        """(x0_hat, eps_hat) of `read_prediction`, x0_hat clipped to [-1, 1] with clip_sample
        (what DDPM's posterior and a picture of the prediction use)."""
        x0, eps = self.read_prediction(output, x_t, t, xp)
        return (xp.clip(x0, -1.0, 1.0) if self.clip_sample else x0), eps

    # -- sampler steps: iteration k of `steps`, from x_t to x_prev ----------------------------
    def ddim_step(self, output, x_t, k, steps, eta, noise, xp=NUMPY):
        """DDIM, Song et al. eq. (12) with sigma of eq. (16); `noise` z ~ N(0, I) (unused at eta = 0).
        With clip_sample, x0_hat keeps (SNR_t / SNR_prev)^clip_rate of its clipped-off part and
        eps_hat is the network's (module docstring)."""
        t, t_prev = self.timestep(k, steps, xp), self.timestep(xp.int32(k) + 1, steps, xp)
        x0, eps = self.read_prediction(output, x_t, t, xp)
        abar_t, abar_prev = self.abar(t, xp), self.abar(t_prev, xp)
        if self.clip_sample:
            clipped = xp.clip(x0, -1.0, 1.0)
            snr_ratio = abar_t * (1.0 - abar_prev) / ((1.0 - abar_t) * abar_prev)  # in [0, 1); 0 at the last step
            # written as a correction: exactly eq. (12) where nothing was clipped
            x0 = clipped + snr_ratio ** self.clip_rate * (x0 - clipped)
        sigma = xp.float32(eta) * xp.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev))
        direction = xp.sqrt(xp.maximum(1.0 - abar_prev - sigma * sigma, 0.0)) * eps  # "direction pointing to x_t"
        return xp.sqrt(abar_prev) * x0 + direction + sigma * noise

    def ddpm_step(self, output, x_t, k, steps, noise, xp=NUMPY):
        """DDPM ancestral (Ho et al. Algorithm 2, line 4): x_prev = mu~(x_t, x0_hat) + sqrt(beta~) z."""
        t, t_prev = self.timestep(k, steps, xp), self.timestep(xp.int32(k) + 1, steps, xp)
        x0, _ = self.split_prediction(output, x_t, t, xp)
        mean, variance = self.q_posterior(x0, x_t, t, t_prev, xp)
        return mean + xp.sqrt(variance) * noise

    def step(self, sampler, output, x_t, k, steps, eta, noise, xp=NUMPY):
        """One update of the sampler named by index `sampler` into SAMPLERS (a tensor in the
        SavedModel loop: both updates are elementwise and cheap beside the network)."""
        ddim = self.ddim_step(output, x_t, k, steps, eta, noise, xp)
        ddpm = self.ddpm_step(output, x_t, k, steps, noise, xp)
        return xp.where(xp.int32(sampler) == SAMPLERS.index("ddpm"), ddpm, ddim)

    @staticmethod
    def _per_sample(values, like, xp):
        """(B,) coefficients broadcast against (B, H, W, C) images."""
        return values[:, None, None, None] if getattr(values, "ndim", len(getattr(values, "shape", ()))) == 1 \
            else values
