"""RePaint completion in TensorFlow: the tf.while_loop twin of keras_gen/core/samplers/repaint.py
(the same passes, the same seeded draws), run on a diffusion model's Keras network (`keras-gen
inpaint RUN`). A module of its own beside keras_gen/core_tf/samplers.py: it subclasses that
module's DiffusionSampler and changes none of it.
"""

from __future__ import annotations

import tensorflow as tf

from keras_gen.core.samplers import repaint
from keras_gen.core_tf.samplers import DiffusionSampler
from keras_gen.core_tf.schedulers import TF


class RePaintSampler(DiffusionSampler, repaint.RePaintSampler):
    """RePaint with `run_tf` (module docstring); `run_numpy` is the core's."""

    def run_tf(self, network, inputs, n, seed, progress=None):
        s = self.scheduler
        steps, passes = tf.cast(inputs["steps"], tf.int32), tf.cast(inputs["resample"], tf.int32)
        sampler, eta = tf.cast(inputs["sampler"], tf.int32), tf.cast(inputs["eta"], tf.float32)
        known = tf.convert_to_tensor(inputs["image"], tf.float32)
        hole = tf.cast(tf.convert_to_tensor(inputs["mask"], tf.float32) > 0, tf.float32)
        total = steps * passes

        def body(i, x):
            k, u = i // passes, i % passes
            t, t_prev = s.timestep(k, steps, TF), s.timestep(k + 1, steps, TF)
            out = self._predict_tf(network, x, t, inputs)
            z = self.step_noise_tf(n, self.shape, seed, repaint.noise_step(k, u, passes, 0))
            unknown = s.step(sampler, out, x, k, steps, eta, z, TF)
            z = self.step_noise_tf(n, self.shape, seed, repaint.noise_step(k, u, passes, 1))
            abar_t, abar_prev = s.abar(t, TF), s.abar(t_prev, TF)
            noised = tf.sqrt(abar_prev) * known + tf.sqrt(1.0 - abar_prev) * z
            x_prev = hole * unknown + (1.0 - hole) * noised
            z = self.step_noise_tf(n, self.shape, seed, repaint.noise_step(k, u, passes, 2))
            keep = abar_t / abar_prev
            back = tf.sqrt(keep) * x_prev + tf.sqrt(1.0 - keep) * z
            x = tf.where(u < passes - 1, back, x_prev)
            self.report_tf(progress, i + 1, total, x)
            return i + 1, x

        x0 = tf.convert_to_tensor(inputs["noise"], tf.float32)
        _, x = tf.while_loop(lambda i, x: i < total, body, (tf.constant(0), x0),
                             shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, *self.shape])))
        return hole * tf.clip_by_value(x, -1.0, 1.0) + (1.0 - hole) * known


def complete_keras(model, image, mask, n: int, seed: int, conditions: dict | None = None, resample: int = 1,
                   progress=None):
    """A Keras diffusion model's RePaint completion (float [-1, 1], (n, H, W, C)) of `image` where
    `mask` is set: the model's request (noise from the seed, its sampler options and conditions)
    plus the image, the mask and `resample`, through the tf.while_loop."""
    import numpy as np

    from keras_gen.core import inputs as kinds

    sampler = RePaintSampler(**{**model.sampler().get_config(), "resample": int(resample)})
    specs = [*model.input_specs(), *sampler.option_specs()]
    values = kinds.resolve_inputs(specs, n, seed, conditions)
    values.update(image=np.asarray(image, np.float32), mask=np.asarray(mask, np.float32))
    loop = tf.function(lambda v, n, seed: sampler.run_tf(lambda feeds: model.network(**feeds), v, n, seed,
                                                         progress=progress),
                       autograph=False)  # a tf.while_loop already, as in GenerativeModel._loop_sample
    return np.asarray(loop({k: tf.constant(v) for k, v in values.items()}, tf.constant(n, tf.int32),
                           tf.constant(seed, tf.int64)))


__all__ = ["RePaintSampler", "complete_keras"]
