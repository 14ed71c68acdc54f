"""`TF`: the array namespace the diffusion scheduler (keras_gen/core/schedulers.py) runs on
inside a TensorFlow graph, the twin of the core's `NUMPY`.

    scheduler.step(sampler, out, x, k, steps, eta, z, TF)     inside the SavedModel's tf.while_loop
    scheduler.add_noise(x0, noise, t, TF)                     inside a diffusion model's train_step

The scheduler's tables are float32 numpy arrays that both namespaces index, so the update rules
give the same numbers in both runtimes (tests/models/diffusion/test_schedulers.py).
"""

from __future__ import annotations

import types

import tensorflow as tf


def _take(table, index):
    return tf.gather(tf.constant(table), tf.cast(index, tf.int32))


def _float32(value):
    return tf.cast(value, tf.float32)


def _int32(value):
    return tf.cast(value, tf.int32)


TF = types.SimpleNamespace(name="tf", sqrt=tf.sqrt, where=tf.where, maximum=tf.maximum, minimum=tf.minimum,
                           clip=tf.clip_by_value,
                           take=_take, float32=_float32, int32=_int32)
