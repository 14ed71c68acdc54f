"""The diffusion sampling loop (DDIM or DDPM ancestral, classifier-free guidance), in numpy and TF.

A short loop over a network and a scheduler (keras_gen/models/diffusion/schedulers.py, the same
update rules in both runtimes), after diffusers' pipeline_ddim:

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

from keras_gen.samplers import Sampler, register_sampler

GUIDANCE_RANGE = (0.0, 20.0)


@register_sampler
class DiffusionSampler(Sampler):
    """config: scheduler (DiffusionScheduler's config), height, width, channels, num_classes
    (None: unconditional), and the request defaults sampler, steps, eta, guidance."""

    name = "diffusion"

    def __init__(self, **config):
        from keras_gen.models.diffusion.schedulers import DiffusionScheduler

        super().__init__(**config)
        c = self.config
        self.scheduler = DiffusionScheduler(**c["scheduler"])
        self.shape = (int(c["height"]), int(c["width"]), int(c["channels"]))
        self.num_classes = None if c.get("num_classes") is None else int(c["num_classes"])

    def option_specs(self):
        from keras_gen import inputs as kinds
        from keras_gen.models.diffusion.schedulers import SAMPLERS

        c, T = self.config, self.scheduler.timesteps
        specs = [
            kinds.choice("sampler", SAMPLERS, c.get("sampler", "ddim"),
                         "0: ddim (Song et al. 2021; any steps, eta), 1: ddpm (Ho et al. 2020, ancestral)"),
            kinds.option("steps", int(min(c.get("steps", 50), T)), 1, T, "int32",
                         f"denoising steps, 1 to T = {T}: fewer is faster and coarser"),
            kinds.option("eta", float(c.get("eta", 0.0)), 0.0, 1.0, "float32",
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

    # -- TF (SavedModel `sample`, Keras `model.sample`) ------------------------------------------
    def _predict_tf(self, network, x, t, inputs):
        import tensorflow as tf

        if not self.num_classes:
            return tf.cast(network({"x": x, "t": t})["prediction"], tf.float32)
        label, guidance = tf.cast(inputs["label"], tf.int32), tf.cast(inputs["guidance"], tf.float32)

        def conditional_only():
            return tf.cast(network({"x": x, "t": t, "label": label})["prediction"], tf.float32)

        def guided():
            both = tf.cast(network({"x": tf.concat([x, x], 0), "t": t,
                                    "label": tf.concat([label, tf.fill(tf.shape(label), self.num_classes)], 0)}
                                   )["prediction"], tf.float32)
            conditional, unconditional = tf.split(both, 2, axis=0)
            return unconditional + guidance * (conditional - unconditional)

        return tf.cond(tf.equal(guidance, 1.0), conditional_only, guided)

    def run_tf(self, network, inputs, n, seed, progress=None):
        import tensorflow as tf

        from keras_gen.models.diffusion.schedulers import TF

        steps = tf.cast(inputs["steps"], tf.int32)
        sampler, eta = tf.cast(inputs["sampler"], tf.int32), tf.cast(inputs["eta"], tf.float32)

        def body(k, x):
            t = self.scheduler.timestep(k, steps, TF)
            out = self._predict_tf(network, x, t, inputs)
            z = self.step_noise_tf(n, self.shape, seed, k)
            x = self.scheduler.step(sampler, out, x, k, steps, eta, z, TF)
            self.report_tf(progress, k + 1, steps, x)
            return k + 1, x

        x0 = tf.convert_to_tensor(inputs["noise"], tf.float32)
        _, x = tf.while_loop(lambda k, x: k < steps, body, (tf.constant(0), x0),
                             shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, *self.shape])))
        return tf.clip_by_value(x, -1.0, 1.0)
