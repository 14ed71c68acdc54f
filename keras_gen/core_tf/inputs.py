"""Request inputs inside a TensorFlow graph: the twins of keras_gen/core/inputs.py.

    tensor_spec(spec)                           the tf.TensorSpec of an input in an endpoint's signature
    draw_tf(spec, n, seed, stream)              `InputSpec.draw` in TF ops
    resolve_inputs_tf(specs, n, seed, given)    `resolve_inputs` inside a SavedModel `sample` endpoint
    check_request_tf(specs, n, seed, given)     the limits `check_request` and `InputSpec.check` set,
                                                as assertions
    signature_values_tf(specs, values)          captions a signature took as strings, as token ids

The numpy versions resolve requests on the edge and in Keras' `sample`; these resolve them in
the exported SavedModel, so a request gives the same inputs on every runtime
(tests/test_contract.py holds them equal).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_gen.core.inputs import InputSpec, sample_count_and_seed, streams
from keras_gen.core_tf import latents


def tensor_spec(spec: InputSpec) -> tf.TensorSpec:
    """The input as a signature entry: batched kinds get a leading None, options are scalars (a
    caption's string form: (None,) strings)."""
    shape = (None, *spec.shape) if spec.batched else ()
    return tf.TensorSpec(shape, tf.as_dtype(spec.dtype), name=spec.name)


def caption_ids_tf(spec: InputSpec, value):
    """A text input's value in a graph as token ids: strings tokenised (keras_gen/core_tf/text.py),
    ids passed through."""
    from keras_gen.core_tf.text import tokenize_tf

    value = tf.convert_to_tensor(value)
    if value.dtype == tf.string:
        return tokenize_tf(value, spec.vocabulary, spec.max_words)
    return tf.cast(value, tf.int32)


def signature_values_tf(specs, values: dict) -> dict:
    """The values of a signature that takes captions as strings (InputSpec.as_signature), with
    each caption as the token ids the network takes."""
    kinds_of = {s.name: s for s in specs}
    return {k: (caption_ids_tf(kinds_of[k], v) if k in kinds_of and kinds_of[k].kind == "text" else v)
            for k, v in values.items()}


def draw_tf(spec: InputSpec, n, seed, stream: int):
    """The same values as `spec.draw(n, seed, stream)`, from TF ops (inside the SavedModel's `sample`)."""
    if spec.kind == "latent":
        flat = latents.gaussian_latents_tf(n, int(np.prod(spec.shape)), seed, stream)
        return tf.reshape(flat, tf.concat([[tf.cast(n, tf.int32)], list(spec.shape)], axis=0))
    if spec.distribution == "categorical":
        size = int(np.prod(spec.shape))
        flat = latents.categorical_codes_tf(tf.cast(n, tf.int32) * size, spec.num_classes, seed, stream)
        if not spec.shape:
            return flat
        return tf.reshape(flat, tf.concat([[tf.cast(n, tf.int32)], tf.constant(spec.shape, tf.int32)], axis=0))
    return latents.uniform_codes_tf(n, spec.shape[0], seed, stream)


def resolve_inputs_tf(specs, n, seed, conditions: dict) -> dict:
    """Inside a SavedModel `sample` endpoint: draw latents from (n, seed) with TF ops and cycle
    the given batched conditions to n, as `resolve_inputs` does in numpy. A signature has no
    optional inputs, so a code given as an empty batch means "draw it from the seed"."""

    def cycled(given):
        return tf.gather(given, tf.math.floormod(tf.range(n), tf.shape(given)[0]))

    checks = [c for c in check_request_tf(specs, n, seed, conditions) if c is not None]  # None when eager
    with tf.control_dependencies(checks):  # every draw waits for the checks: no other error comes first
        n, seed = tf.identity(n), tf.identity(seed)
        conditions = {k: tf.identity(v) for k, v in conditions.items()}
    stream_of = streams(specs)
    out = {}
    for spec in specs:
        if spec.kind == "latent":
            out[spec.name] = draw_tf(spec, n, seed, stream_of[spec.name])
        elif spec.kind == "code":
            given = conditions[spec.name]
            out[spec.name] = tf.cond(tf.shape(given)[0] > 0, lambda given=given: cycled(given),
                                     lambda spec=spec: draw_tf(spec, n, seed, stream_of[spec.name]))
        elif spec.kind == "text":  # an empty batch: the examples in turn, as numpy's for a caption not given
            given = conditions[spec.name]
            examples = spec.example_values(len(spec.examples)) if spec.examples else np.zeros((1, spec.max_words),
                                                                                                np.int32)
            out[spec.name] = cycled(tf.cond(tf.size(given) > 0, lambda spec=spec, given=given: caption_ids_tf(spec, given),
                                            lambda examples=examples: tf.constant(examples, tf.int32)))
        elif spec.batched:
            out[spec.name] = cycled(conditions[spec.name])
        else:
            out[spec.name] = conditions[spec.name]
    return out


def check_request_tf(specs, n, seed, conditions: dict) -> list:
    """The limits `check_request` and `InputSpec.check` set, as assertions inside a SavedModel
    endpoint: a TF Serving request out of range fails (status 400) instead of sampling with, say,
    steps=0 or a label past the embedding (zeros on GPU)."""

    def within(value, lo, hi, what):
        value = tf.convert_to_tensor(value)
        return [tf.debugging.assert_greater_equal(value, tf.cast(lo, value.dtype), message=f"{what} must be >= {lo}"),
                tf.debugging.assert_less_equal(value, tf.cast(hi, value.dtype), message=f"{what} must be <= {hi}")]

    checks = []
    for spec, value in zip(sample_count_and_seed(), (n, seed)):
        checks += within(value, *spec.range, spec.name)
    for spec in specs:
        value = conditions.get(spec.name)
        if value is None or spec.kind == "latent":
            continue
        if spec.kind == "option":
            checks += within(value, *spec.range, spec.name)
        elif spec.kind in ("label", "code") and spec.num_classes:
            checks += within(value, 0, spec.num_classes - 1, spec.name)
        elif spec.kind == "text" and tf.convert_to_tensor(value).dtype != tf.string:
            checks += within(value, 0, len(spec.vocabulary) + 1, spec.name)
        if spec.kind == "text" and not spec.examples:
            checks.append(tf.debugging.assert_positive(tf.size(value), message=f"{spec.name}: no caption given"))
        if spec.batched and spec.kind not in ("code", "text"):  # an empty code means "draw it from the seed"
            checks.append(tf.debugging.assert_positive(tf.shape(value)[0], message=f"{spec.name}: empty batch"))
    return checks
