"""Completion of a partly known image by a trained diffusion model, with no new training:
RePaint (Lugmayr et al. 2022, "RePaint: Inpainting using Denoising Diffusion Probabilistic
Models"), in numpy; its tf.while_loop twin is keras_gen.core_tf.repaint.RePaintSampler.

The reverse chain runs as in sampling (keras_gen/core/samplers/ddim.py: the same scheduler steps,
guidance and seeded per-step noise), but at every step the known pixels are put back, noised to
the level of the step the chain arrives at, so the unknown ones are denoised in their context:

    x_T ~ N(0, I)                                                     the request's `noise`
    for k in 0 .. steps - 1,  t = tau_k, t' = tau_{k+1}:
        for u in 0 .. U - 1:                                          U = `resample`
            unknown = scheduler.step(network(x_t, t), x_t)            x_t' of the reverse chain (eq. 8)
            known   = sqrt(abar_t') x_0 + sqrt(1 - abar_t') z         x_0 the given image (eq. 8)
            x_t'    = m * unknown + (1 - m) * known                   m = 1 in the hole
            if u < U - 1:  x_t = sqrt(abar_t / abar_t') x_t' + sqrt(1 - abar_t / abar_t') z'
                                                                      back one step (resampling,
                                                                      sec. 4.2, jumps of one step)
    return m * x_0' + (1 - m) * x_0                                   known pixels exactly as given

Resampling lets the generated region and the re-noised known region agree (the chain otherwise
only sees the known pixels through noise); U = 1 is the plain replacement method. The noise of
pass u of step k comes from stream SAMPLER_STREAM_BASE + 3 (k U + u) + j, j = 0 (the reverse
step), 1 (the known pixels), 2 (resampling), so both runtimes draw the same numbers.

`inputs` holds the diffusion model's request (noise, sampler, steps, eta; label and guidance for
cddpm), `resample`, and `image` ((n, H, W, C) in [-1, 1]) and `mask` ((n, H, W, 1), 1 where
pixels are to be generated), at the model's image size.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.samplers import register_sampler
from keras_gen.core.samplers.ddim import DiffusionSampler

MAX_RESAMPLE = 20
DRAWS_PER_PASS = 3  # the reverse step's noise, the known pixels' noise, the resampling noise


def noise_step(k, u, resample, draw):
    """The step_noise stream index of draw `draw` (0, 1, 2) of pass u of step k."""
    return DRAWS_PER_PASS * (k * resample + u) + draw


@register_sampler
class RePaintSampler(DiffusionSampler):
    """config: a DiffusionSampler's (scheduler, height, width, channels, num_classes, defaults)
    and `resample`, the default number of passes per step."""

    name = "repaint"

    def option_specs(self):
        return [*super().option_specs(),
                kinds.option("resample", int(self.config.get("resample", 1)), 1, MAX_RESAMPLE, "int32",
                             "passes per step: the chain goes back one step and denoises again this many times "
                             "(RePaint's resampling), so the filled region agrees with its context; 1 is off")]

    @staticmethod
    def from_diffusion(config: dict, resample: int = 1) -> "RePaintSampler":
        """The completion sampler of a diffusion model, from its sampler's config (a manifest's)."""
        return RePaintSampler(**{**config, "resample": int(resample)})

    def run_numpy(self, network, inputs, n, seed, progress=None):
        n, steps, passes = int(n), int(inputs["steps"]), int(inputs["resample"])
        s = self.scheduler
        known = np.asarray(inputs["image"], np.float32)
        hole = (np.asarray(inputs["mask"], np.float32) > 0).astype(np.float32)
        x = np.asarray(inputs["noise"], np.float32)
        for i in range(steps * passes):
            k, u = divmod(i, passes)
            t, t_prev = s.timestep(k, steps), s.timestep(k + 1, steps)
            out = self._predict_numpy(network, x, t, inputs)
            z = self.step_noise(n, self.shape, seed, noise_step(k, u, passes, 0))
            unknown = s.step(inputs["sampler"], out, x, k, steps, inputs["eta"], z)
            z = self.step_noise(n, self.shape, seed, noise_step(k, u, passes, 1))
            abar_t, abar_prev = s.abar(t), s.abar(t_prev)
            noised = np.sqrt(abar_prev) * known + np.sqrt(1.0 - abar_prev) * z
            x_prev = (hole * unknown + (1.0 - hole) * noised).astype(np.float32)
            if u < passes - 1:
                z = self.step_noise(n, self.shape, seed, noise_step(k, u, passes, 2))
                keep = abar_t / abar_prev
                x = (np.sqrt(keep) * x_prev + np.sqrt(1.0 - keep) * z).astype(np.float32)
            else:
                x = x_prev
            if progress is not None:
                progress(i + 1, steps * passes)
        return hole * np.clip(x, -1.0, 1.0) + (1.0 - hole) * known


__all__ = ["MAX_RESAMPLE", "RePaintSampler", "noise_step"]
