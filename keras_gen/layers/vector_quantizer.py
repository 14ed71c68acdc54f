"""Vector quantiser: van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation
Learning" (VQ-VAE), with the EMA codebook of its appendix A.1 and dead-code restarts.

An encoder output z_e(x) in R^D at each position is replaced by its nearest codebook vector,
    k = argmin_j |z_e - e_j|^2,   z_q = e_k                          (eq. 1-2)
and the gradient skips the non-differentiable argmin (straight-through estimator):
    z_q_st = z_e + sg[e_k - z_e]      (forward: e_k; backward: d/dz_e = identity)
The codebook and the encoder are pulled together by
    codebook loss    |sg[z_e] - e_k|^2           (moves the codes; off in EMA mode)
    commitment loss  beta |z_e - sg[e_k]|^2      (beta = 0.25, keeps z_e near its code)   (eq. 3)

EMA mode (appendix A.1) replaces the codebook loss: with n_j the number of vectors assigned to
code j in the batch and gamma = 0.99,
    N_j <- gamma N_j + (1 - gamma) n_j,    m_j <- gamma m_j + (1 - gamma) sum_{i: k_i = j} z_e,i
    N_j' = (N_j + eps) / (N + K eps) * N   (Laplace smoothing, N = sum_j N_j)
    e_j  = m_j / N_j'
N_j and m_j are layer variables, so checkpoints hold them and resume is exact.

Dead codes: a code assigned to no vector for `restart_after` consecutive training steps is
re-initialised to an encoder output drawn at random from the batch (seeded by the layer's own
SeedGenerator, whose state checkpoints carry), as in Dhariwal et al. 2020 (Jukebox) and
Zeghidour et al. 2021 (SoundStream). In EMA mode its statistics restart as N_j = 1, m_j = z.

Statistics of a batch's codes: usage = share of the K codes used at least once, and
perplexity = exp(-sum_j p_j log p_j) with p_j the share of positions assigned to j, which lies in
[1, K] (1: one code for everything; K: all codes equally used).

Not tested under a multi-replica tf.distribute strategy: the EMA statistics and restarts use
each replica's own batch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_gen.distribute import replica_gather
from keras_gen.errors import KerasGenError


def check_codes(codes, num_codes: int, name: str = "codes") -> np.ndarray:
    """A user-given code map as int32, or a KerasGenError naming the valid range."""
    array = np.asarray(codes)
    if array.size == 0:
        raise KerasGenError(f"{name}: got an empty code map.")
    if not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.isfinite(array).all() and
                np.all(array == np.round(array))):
            raise KerasGenError(f"{name} must be whole-number codebook indices, got dtype {array.dtype}.")
    if array.min() < 0 or array.max() >= num_codes:
        raise KerasGenError(f"{name} must be codebook indices from 0 to {num_codes - 1}, got values from "
                            f"{int(array.min())} to {int(array.max())}.")
    return array.astype(np.int32)


@keras.saving.register_keras_serializable(package="keras_gen")
class VectorQuantizer(keras.layers.Layer):
    """z_e (..., D) -> z_q (..., D) straight-through; see the module docstring for the maths.

    `call(z_e)` returns the straight-through z_q (inference and the decoder path); training uses
    `straight_through(z_e)` for the losses and codes, then `update_codebook(z_e, codes)` after the optimizer step
    for the EMA codebook and dead-code restarts.
    """

    def __init__(self, num_codes: int, code_dim: int, beta: float = 0.25, use_ema: bool = False,
                 decay: float = 0.99, epsilon: float = 1e-5, restart_after: int = 0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(num_codes) < 2 or int(code_dim) < 1:
            raise KerasGenError(f"VectorQuantizer needs num_codes >= 2 and code_dim >= 1, got {num_codes}, {code_dim}.")
        if not 0.0 <= float(decay) < 1.0:
            raise KerasGenError(f"VectorQuantizer decay must be in [0, 1), got {decay}.")
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.beta, self.use_ema, self.decay = float(beta), bool(use_ema), float(decay)
        self.epsilon, self.restart_after, self.seed = float(epsilon), int(restart_after), int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="dead_code_restarts")
        k, d = self.num_codes, self.code_dim
        # The paper's codebook initialisation, uniform in +-1/K, seeded.
        self.codebook = self.add_weight(
            shape=(k, d), name="codebook", trainable=not self.use_ema,
            initializer=keras.initializers.RandomUniform(-1.0 / k, 1.0 / k, seed=self.seed))
        # EMA statistics start at the codebook itself with one count each: e_j = m_j / N_j holds.
        self.ema_count = self.add_weight(shape=(k,), name="ema_count", trainable=False, initializer="ones")
        self.ema_sum = self.add_weight(shape=(k, d), name="ema_sum", trainable=False, initializer="zeros")
        self.ema_sum.assign(self.codebook)
        self.idle_steps = self.add_weight(shape=(k,), name="idle_steps", trainable=False, initializer="zeros")
        self.restarts = self.add_weight(shape=(), name="restarts", trainable=False, initializer="zeros")
        self.built = True

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim, "beta": self.beta,
                "use_ema": self.use_ema, "decay": self.decay, "epsilon": self.epsilon,
                "restart_after": self.restart_after, "seed": self.seed}

    def build(self, input_shape):
        if input_shape[-1] != self.code_dim:
            raise KerasGenError(f"VectorQuantizer expects vectors of size {self.code_dim}, got shape {input_shape}.")

    def compute_output_shape(self, input_shape):
        return input_shape

    # -- the quantisation ---------------------------------------------------------------------
    def distances(self, z_e):
        """|z_e - e_j|^2 for every code: (..., D) -> (..., K), expanded as |z|^2 - 2 z.e + |e|^2."""
        flat = tf.reshape(z_e, (-1, self.code_dim))  # (N, D)
        e = tf.convert_to_tensor(self.codebook)  # (K, D)
        d = (tf.reduce_sum(flat**2, 1, keepdims=True) - 2.0 * tf.matmul(flat, e, transpose_b=True)
             + tf.reduce_sum(e**2, 1)[None, :])  # (N, K)
        return tf.reshape(d, tf.concat([tf.shape(z_e)[:-1], [self.num_codes]], 0))

    def codes_of(self, z_e):
        """Nearest code index at each position: (..., D) -> (...,) int32."""
        return tf.argmin(self.distances(z_e), axis=-1, output_type=tf.int32)

    def lookup(self, codes):
        """Code indices (...,) -> codebook vectors (..., D)."""
        return tf.gather(tf.convert_to_tensor(self.codebook), codes)

    def call(self, z_e):
        z_q = self.lookup(self.codes_of(z_e))
        return z_e + tf.stop_gradient(z_q - z_e)

    def straight_through(self, z_e):
        """{z_q (straight-through), codes, codebook_loss, commitment_loss} for a training step."""
        codes = self.codes_of(z_e)
        e = self.lookup(codes)  # gradients reach the codebook through this gather
        codebook_loss = tf.reduce_mean(tf.square(tf.stop_gradient(z_e) - e))
        commitment_loss = self.beta * tf.reduce_mean(tf.square(z_e - tf.stop_gradient(e)))
        if self.use_ema:
            codebook_loss = tf.zeros_like(codebook_loss)  # the EMA moves the codes instead
        return {"z_q": z_e + tf.stop_gradient(e - z_e), "codes": codes, "codebook_loss": codebook_loss,
                "commitment_loss": commitment_loss}

    # -- statistics ------------------------------------------------------------------------------
    def code_counts(self, codes):
        return tf.math.bincount(tf.reshape(codes, (-1,)), minlength=self.num_codes, maxlength=self.num_codes,
                                dtype=tf.float32)

    def statistics(self, codes):
        """{perplexity in [1, K], usage in (0, 1]} of a batch of codes."""
        counts = self.code_counts(codes)
        p = counts / tf.reduce_sum(counts)
        entropy = -tf.reduce_sum(tf.where(p > 0, p * tf.math.log(tf.maximum(p, 1e-12)), 0.0))
        return {"perplexity": tf.exp(entropy),
                "usage": tf.reduce_mean(tf.cast(counts > 0, tf.float32))}

    # -- after the optimizer step: EMA codebook and dead-code restarts ----------------------------
    def update_codebook(self, z_e, codes):
        """Training-time state updates for one batch (z_e as the step saw it). Under tf.distribute
        the counts and sums are the global batch's and restarts pick from its vectors, so every
        replica updates its copy of the codebook the same way, as one device would."""
        flat = replica_gather(tf.reshape(tf.stop_gradient(z_e), (-1, self.code_dim)))  # (N, D), the global batch's
        codes = replica_gather(tf.reshape(codes, (-1,)))
        counts = self.code_counts(codes)  # (K,)
        if self.use_ema:
            g = self.decay
            sums = tf.math.unsorted_segment_sum(flat, codes, self.num_codes)  # (K, D)
            self.ema_count.assign(g * self.ema_count + (1.0 - g) * counts)
            self.ema_sum.assign(g * self.ema_sum + (1.0 - g) * sums)
            total = tf.reduce_sum(self.ema_count)
            smoothed = (self.ema_count + self.epsilon) / (total + self.num_codes * self.epsilon) * total
            self.codebook.assign(self.ema_sum / smoothed[:, None])
        idle = tf.where(counts > 0, tf.zeros_like(self.idle_steps), self.idle_steps + 1.0)
        if self.restart_after > 0:
            dead = idle >= float(self.restart_after)  # (K,)
            seed = tf.cast(self.seed_generator.next(), tf.int64)  # drawn every step: a fixed stream
            pick = tf.random.stateless_uniform((self.num_codes,), seed, 0, tf.shape(flat)[0], dtype=tf.int32)
            fresh = tf.gather(flat, pick)  # (K, D) random encoder outputs
            self.codebook.assign(tf.where(dead[:, None], fresh, self.codebook))
            if self.use_ema:
                self.ema_count.assign(tf.where(dead, tf.ones_like(self.ema_count), self.ema_count))
                self.ema_sum.assign(tf.where(dead[:, None], fresh, self.ema_sum))
            self.restarts.assign_add(tf.reduce_sum(tf.cast(dead, tf.float32)))
            idle = tf.where(dead, tf.zeros_like(idle), idle)
        self.idle_steps.assign(idle)
