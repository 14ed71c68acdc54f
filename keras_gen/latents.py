"""Seeded Gaussian latents that are bit-for-bit the same in numpy and in a TensorFlow graph.

A sampling request (`n`, `seed`) must give the same images from the CLI, the SavedModel's
`sample` endpoint and the onnxruntime edge path, which never imports TensorFlow. Library RNGs
differ between numpy (PCG64) and TF (Philox), so latents come from one small counter-based
generator written twice with the same integer arithmetic:

    u_k = (hash32(hash32(k) + hash32(seed)) >> 8 + 0.5) / 2**24    (uniform in (0, 1), + mod 2**32)
    z_i = sqrt(-2 ln u_{2i}) * cos(2 pi u_{2i+1})                  (Box-Muller)

`hash32` is the "lowbias32" integer finaliser (two multiply-xorshift rounds), which mixes
consecutive counters well. The counter is hashed before the seed's key is added: with a plain
`key ^ k`, two seeds would share whole runs of latents (counter k of one seed being counter
k ^ (key_a ^ key_b) of the other); through a bijective hash and a modular add, a shared value
needs a chance collision. Element i of a batch depends only on (seed, i), so the first k
samples of `n=64` equal the `n=k` request. The integer part is exact in both runtimes; the
float part (log, cos) agrees to ~1e-6.
"""

from __future__ import annotations

import numpy as np

_M1, _M2 = 0x7FEB352D, 0x846CA68B


def _hash32_np(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(_M1)
    x ^= x >> np.uint32(15)
    x *= np.uint32(_M2)
    x ^= x >> np.uint32(16)
    return x


def gaussian_latents(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """(n, latent_dim) float32 standard normals for `seed` (numpy; no TensorFlow)."""
    count = int(n) * int(latent_dim)
    key = _hash32_np(np.array([int(seed) & 0xFFFFFFFF], np.uint64))
    with np.errstate(over="ignore"):
        bits = _hash32_np(_hash32_np(np.arange(2 * count, dtype=np.uint32)) + key.astype(np.uint32))
    u = ((bits >> np.uint32(8)).astype(np.float32) + np.float32(0.5)) / np.float32(2**24)
    u1, u2 = u[0::2], u[1::2]
    z = np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(2.0 * np.pi) * u2)
    return z.astype(np.float32).reshape(int(n), int(latent_dim))


def gaussian_latents_tf(n, latent_dim: int, seed):
    """The same latents as `gaussian_latents`, built from TF ops (usable inside tf.function)."""
    import tensorflow as tf

    def hash32(x):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
        x = x * tf.constant(_M1, tf.uint32)
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
        x = x * tf.constant(_M2, tf.uint32)
        return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))

    n = tf.cast(n, tf.int32)
    # int64 -> uint32 keeps the low 32 bits, matching `int(seed) & 0xFFFFFFFF` above.
    seed32 = tf.cast(tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 0xFFFFFFFF), tf.uint32)
    key = hash32(seed32)
    counters = tf.cast(tf.range(2 * n * latent_dim), tf.uint32)
    bits = hash32(hash32(counters) + key)
    u = (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) + 0.5) / float(2**24)
    u1, u2 = u[0::2], u[1::2]
    z = tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(2.0 * np.pi * u2)
    return tf.reshape(z, tf.stack([n, latent_dim]))
