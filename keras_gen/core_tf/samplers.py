"""The samplers' loops in TensorFlow: the `run_tf` twins of keras_gen/core/samplers/.

Each class here is its core sampler plus `run_tf`, the same loop as the core's `run_numpy`
written with tf.while_loop: what the SavedModel's `sample` endpoint and the Keras model's own
`sample` run. A model's `sampler()` returns one of these; the edge runner finds the core class
by the name in the manifest and never loads this module. The model harness and the export's
parity check hold the two loops equal, draw for draw (the per-step noise of both comes from
keras_gen.core.latents' counter generator, stream SAMPLER_STREAM_BASE + step).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_gen.core import inputs as kinds
from keras_gen.core import samplers as core
from keras_gen.core.latents import SAMPLER_STREAM_BASE
from keras_gen.core.samplers import ddim, pixelcnn
from keras_gen.core_tf.latents import _uniforms_tf, gaussian_latents_tf
from keras_gen.core_tf.schedulers import TF


class Sampler(core.Sampler):
    """A sampler with its loop in both runtimes: subclasses write `run_numpy` and `run_tf`."""

    @staticmethod
    def step_noise_tf(n, shape, seed, step):
        """The same noise as `step_noise`, from TF ops; `step` may be the tf.while_loop counter."""
        flat = gaussian_latents_tf(n, int(np.prod(shape)), seed, SAMPLER_STREAM_BASE + tf.cast(step, tf.int32))
        return tf.reshape(flat, tf.concat([[tf.cast(n, tf.int32)], list(shape)], axis=0))

    @staticmethod
    def step_uniforms_tf(n, size: int, seed, step):
        """The same uniforms as `step_uniforms`, from TF ops; `step` may be the loop counter."""
        n = tf.cast(n, tf.int32)
        flat = _uniforms_tf(n * int(size), seed, SAMPLER_STREAM_BASE + tf.cast(step, tf.int32))
        return tf.reshape(flat, tf.stack([n, int(size)]))

    @staticmethod
    def report_tf(progress, done, total, after) -> None:
        """Inside a TF loop body: call `progress(done, total)` with Python ints once `after` (the
        step's result) is computed; a stateful py_function, which tf.function's automatic control
        dependencies run in every iteration. Nothing when `progress` is None."""
        if progress is None:
            return
        with tf.control_dependencies([after]):
            tf.py_function(lambda d, t: progress(int(d), int(t)), [tf.cast(done, tf.int32), tf.cast(total, tf.int32)],
                           [])

    def run_tf(self, network, inputs: dict, n, seed, progress=None):
        raise NotImplementedError(f"{type(self).__name__}.run_tf")


class DiffusionSampler(Sampler, ddim.DiffusionSampler):
    """DDIM / DDPM ancestral with classifier-free guidance (keras_gen/core/samplers/ddim.py), in TF."""

    def _predict_tf(self, network, x, t, inputs):
        if not self.num_classes:
            return tf.cast(network({"x": x, "t": t})["prediction"], tf.float32)
        label = tf.cast(inputs["label"], tf.int32)
        return self.guided_tf(network, x, t, "label", label, tf.fill(tf.shape(label), self.num_classes),
                              inputs["guidance"])

    @staticmethod
    def guided_tf(network, x, t, name, condition, null, guidance):
        """Classifier-free guidance with one network call in the graph: guidance 1 feeds the
        conditional batch alone, any other scale the conditional and the `null` condition stacked
        (2n), and the two halves are mixed. Choosing the inputs and the mix by tf.cond around a
        single call (rather than one call in each branch) traces the network once per loop trace,
        not twice: half the tracing of every guided sampling loop (Keras `sample`, the SavedModel's
        `sample` endpoint), the same numbers as the numpy twin."""
        guidance = tf.cast(guidance, tf.float32)
        guided = tf.not_equal(guidance, 1.0)
        feeds = {"x": tf.cond(guided, lambda: tf.concat([x, x], 0), lambda: x), "t": t,
                 name: tf.cond(guided, lambda: tf.concat([condition, null], 0), lambda: condition)}
        out = tf.cast(network(feeds)["prediction"], tf.float32)  # (n or 2n, H, W, C)

        def mix():
            conditional, unconditional = tf.split(out, 2, axis=0)
            return unconditional + guidance * (conditional - unconditional)

        return tf.cond(guided, mix, lambda: out)

    def run_tf(self, network, inputs, n, seed, progress=None):
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


class PixelCNNSampler(Sampler, pixelcnn.PixelCNNSampler):
    """Ancestral sub-pixel sampling by Gumbel-max (keras_gen/core/samplers/pixelcnn.py), in TF."""

    def _feed_tf(self, codes):
        if self.feed == "codes":
            return codes[..., 0]
        return tf.cast(codes, tf.float32) * (2.0 / (self.categories - 1)) - 1.0

    def run_tf(self, network, inputs, n, seed, progress=None):
        n = tf.cast(n, tf.int32)
        temperature = tf.cast(inputs["temperature"], tf.float32)
        given = {k: inputs[k] for k in self.conditions}
        shape = (self.height, self.width, self.channels)

        def body(step, codes):
            logits = tf.cast(network({self.input_name: self._feed_tf(codes), **given})["logits"], tf.float32)
            logits = tf.gather(tf.reshape(logits, (n, self.steps, self.categories)), step, axis=1)  # (n, K)
            u = self.step_uniforms_tf(n, self.categories, seed, step)
            drawn = tf.argmax(logits / temperature - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)
            here = tf.reshape(tf.one_hot(step, self.steps, dtype=tf.int32), (1, *shape))
            self.report_tf(progress, step + 1, self.steps, drawn)
            return step + 1, codes + drawn[:, None, None, None] * here  # position `step` was 0

        codes0 = tf.zeros(tf.concat([[n], shape], axis=0), tf.int32)
        _, codes = tf.while_loop(lambda step, codes: step < self.steps, body, (tf.constant(0), codes0),
                                 shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, *shape])))
        if self.decode:
            return tf.cast(network({self.input_name: self._feed_tf(codes), **given})["images"], tf.float32)
        return self._feed_tf(codes) if self.feed == "levels" else codes


def sample_keras_with_progress(model, n: int, seed: int, conditions: dict, progress) -> np.ndarray:
    """A Keras loop model's `sample(n, seed, **conditions)` (float [-1, 1], its tf.while_loop, as
    `model.sample`) with `progress(done, total)` called after each step: the same images, the
    progress call the only difference."""
    values = kinds.resolve_inputs(model.request_specs(), n, seed, conditions)
    sampler = model.sampler()
    loop = tf.function(lambda v, n, seed: sampler.run_tf(lambda feeds: model.network(**feeds), v, n, seed,
                                                         progress=progress),
                       autograph=False)  # a tf.while_loop already, as in GenerativeModel._loop_sample
    return np.asarray(loop({k: tf.constant(v) for k, v in values.items()}, tf.constant(n, tf.int32),
                           tf.constant(seed, tf.int64)))
