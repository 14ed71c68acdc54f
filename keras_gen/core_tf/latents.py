"""The seeded latents of keras_gen/core/latents.py from TF ops, for use inside tf.function.

The same counter-based generator with the same integer arithmetic (the core module's docstring
has the equations): the integer part is exact in both runtimes, the float part (log, cos) agrees
to ~1e-6, so a SavedModel's `sample` draws the latents the onnxruntime edge path draws.
tests/test_images_and_latents.py and tests/test_contract.py hold the two equal.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_gen.core.latents import _M1, _M2


def _uniforms_tf(count, seed, stream):
    """The same uniforms as `_uniforms_np`, from TF ops (usable inside tf.function). `stream` may
    be a tensor: a loop sampler's per-step noise draws from stream `base + step`."""

    def hash32(x):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
        x = x * tf.constant(_M1, tf.uint32)
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
        x = x * tf.constant(_M2, tf.uint32)
        return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))

    # int64 -> uint32 keeps the low 32 bits, matching `int(seed) & 0xFFFFFFFF` in `_uniforms_np`.
    seed32 = tf.cast(tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 0xFFFFFFFF), tf.uint32)
    key = hash32(seed32)
    if isinstance(stream, (int, np.integer)):
        if stream:
            key = hash32(key + tf.constant(stream, tf.uint32))
    else:  # a tensor, e.g. a sampling loop's step inside tf.while_loop
        stream = tf.cast(stream, tf.uint32)
        key = tf.where(tf.equal(stream, 0), key, hash32(key + stream))
    bits = hash32(hash32(tf.cast(tf.range(count), tf.uint32)) + key)
    return (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) + 0.5) / float(2**24)


def gaussian_latents_tf(n, latent_dim: int, seed, stream=0):
    """The same latents as `gaussian_latents`, built from TF ops (usable inside tf.function)."""
    n = tf.cast(n, tf.int32)
    u = _uniforms_tf(2 * n * latent_dim, seed, stream)
    u1, u2 = u[0::2], u[1::2]
    z = tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(2.0 * np.pi * u2)
    return tf.reshape(z, tf.stack([n, latent_dim]))


def uniform_codes_tf(n, dim: int, seed, stream):
    """The same codes as `uniform_codes`, from TF ops."""
    n = tf.cast(n, tf.int32)
    return tf.reshape(2.0 * _uniforms_tf(n * dim, seed, stream) - 1.0, tf.stack([n, dim]))


def categorical_codes_tf(n, num_classes: int, seed, stream):
    """The same categories as `categorical_codes`, from TF ops."""
    u = _uniforms_tf(tf.cast(n, tf.int32), seed, stream)
    return tf.minimum(tf.cast(u * float(num_classes), tf.int32), num_classes - 1)
