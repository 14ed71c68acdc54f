"""The diffusion sampling loop (DDIM or DDPM ancestral, classifier-free guidance), in numpy; its
tf.while_loop twin is keras_gen.core_tf.samplers.DiffusionSampler.

A short loop over a network and a scheduler (keras_gen/core/schedulers.py, the same update rules
in both runtimes), after diffusers' pipeline_ddim:

    x <- noise                                        the request's latent, N(0, I) (H, W, C)
    for k in 0 .. steps - 1:                          t = tau_k, descending to >= 0
        out <- network(x, t, label)                   eps or v
        out <- out_u + w (out_c - out_u)              classifier-free guidance (Ho & Salimans 2021,
                                                      eq. 6 rewritten with w = 1 + their w): w = 1 is
                                                      the conditional model, w = 0 the unconditional
        x <- scheduler.step(sampler, out, x, k, steps, eta, z_k)

z_k is the seeded step noise of `Sampler.step_noise` (stream SAMPLER_STREAM_BASE + k), so the
numpy loop over onnxruntime and the tf.while_loop draw the same numbers. The unconditional
prediction comes from the same network with the null class `num_classes` (label dropout trained
it); guidance 1 runs the conditional pass alone, so it equals conditional sampling exactly.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.samplers import Sampler, register_sampler
from keras_gen.core.schedulers import SAMPLERS, DiffusionScheduler

GUIDANCE_RANGE = (0.0, 20.0)
# DDIM's default noise: partly stochastic. The deterministic chain (eta 0) carries the network's
# errors to the end (the probability-flow ODE: more steps do not help), which fresh noise at each
# step corrects: on the 16 px cosine model DDIM-50 scores 1.28x DDPM-1000's FID at eta 0 and 0.93x
# at eta 0.5, at the same cost a step (docs/BENCHMARKS.md, "diffusion cosine"). One default for
# every schedule; a request passes eta 0 for the deterministic chain.
DEFAULT_ETA = 0.5


@register_sampler
class DiffusionSampler(Sampler):
    """config: scheduler (DiffusionScheduler's config), height, width, channels, num_classes
    (None: unconditional), and the request defaults sampler, steps, eta, guidance."""

    name = "diffusion"

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        self.scheduler = DiffusionScheduler(**c["scheduler"])
        self.shape = (int(c["height"]), int(c["width"]), int(c["channels"]))
        self.num_classes = None if c.get("num_classes") is None else int(c["num_classes"])

    def option_specs(self):
        c, T = self.config, self.scheduler.timesteps
        specs = [
            kinds.choice("sampler", SAMPLERS, c.get("sampler", "ddim"),
                         "0: ddim (Song et al. 2021; any steps, eta), 1: ddpm (Ho et al. 2020, ancestral)"),
            kinds.option("steps", int(min(c.get("steps", 50), T)), 1, T, "int32",
                         f"denoising steps, 1 to T = {T}: fewer is faster and coarser"),
            kinds.option("eta", float(c.get("eta", DEFAULT_ETA)), 0.0, 1.0, "float32",
                         "DDIM's noise: 0 deterministic, 1 as much as DDPM"),
        ]
        if self.num_classes:
            specs.append(kinds.option("guidance", float(c.get("guidance", 1.0)), *GUIDANCE_RANGE, "float32",
                                      "classifier-free guidance scale: 1 conditional, 0 unconditional, "
                                      "above 1 more class-like and less varied"))
        return specs

    # -- numpy (edge) ----------------------------------------------------------------------------
    def _predict_numpy(self, network, x, t, inputs):
        t = np.asarray(t, np.int32)
        if not self.num_classes:
            return np.asarray(network({"x": x, "t": t})["prediction"], np.float32)
        label, guidance = np.asarray(inputs["label"], np.int32), np.float32(inputs["guidance"])
        if guidance == 1.0:
            return np.asarray(network({"x": x, "t": t, "label": label})["prediction"], np.float32)
        null = np.full_like(label, self.num_classes)
        both = np.asarray(network({"x": np.concatenate([x, x]), "t": t,
                                   "label": np.concatenate([label, null])})["prediction"], np.float32)
        conditional, unconditional = both[:len(x)], both[len(x):]
        return unconditional + guidance * (conditional - unconditional)

    def run_numpy(self, network, inputs, n, seed, progress=None):
        """`progress(k, steps)` is called after each step (the CLI's bar)."""
        n, steps = int(n), int(inputs["steps"])
        x = np.asarray(inputs["noise"], np.float32)
        for k in range(steps):
            t = self.scheduler.timestep(k, steps)
            out = self._predict_numpy(network, x, t, inputs)
            z = self.step_noise(n, self.shape, seed, k)
            x = self.scheduler.step(inputs["sampler"], out, x, k, steps, inputs["eta"], z).astype(np.float32)
            if progress is not None:
                progress(k + 1, steps)
        return np.clip(x, -1.0, 1.0)
