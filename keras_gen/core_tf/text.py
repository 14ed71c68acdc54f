"""The caption tokeniser inside a TensorFlow graph: the twin of keras_gen/core/text.py.

`tokenize_tf(captions, vocabulary, max_words)` turns a (B,) string tensor into (B, max_words)
int32 ids with the same steps as `keras_gen.core.text.tokenize` (ASCII lower case, runs of
characters outside [a-z0-9] to one space, split, vocabulary lookup with UNK for unknown words,
PAD after the last word), so a SavedModel signature can take captions as strings: TF Serving's
clients need no vocabulary. An empty or over-long caption fails an assertion (TF Serving answers
400 INVALID_ARGUMENT), as the numpy tokeniser raises. Tested equal to the numpy one.
"""

from __future__ import annotations

import tensorflow as tf

from keras_gen.core.text import FIRST_WORD_ID, PAD, UNK, check_max_words, check_vocabulary


def lookup_tf(words, vocabulary):
    """Word strings (any shape) -> ids: word k of the vocabulary is k + FIRST_WORD_ID, others UNK.
    By comparison against the vocabulary as a constant, not a lookup table: a table is a resource
    the SavedModel would have to track, and the comparison is cheap at caption sizes (a 64-caption
    batch of 16 words against 5,000 words is 5 M string compares)."""
    vocabulary = check_vocabulary(vocabulary)
    keys = tf.constant(list(vocabulary), tf.string)
    matches = tf.equal(tf.expand_dims(words, -1), keys)  # (..., V)
    found = tf.reduce_any(matches, axis=-1)
    index = tf.argmax(tf.cast(matches, tf.int32), axis=-1, output_type=tf.int32)
    return tf.where(found, index + FIRST_WORD_ID, tf.constant(UNK, tf.int32))


def tokenize_tf(captions, vocabulary, max_words: int):
    """(B,) strings -> (B, max_words) int32 ids; assertions for a caption with no word or too many."""
    max_words = check_max_words(max_words)
    text = tf.strings.lower(tf.convert_to_tensor(captions, tf.string), encoding="")  # ASCII only, as numpy's
    text = tf.strings.regex_replace(text, "[^a-z0-9]+", " ")
    tokens = tf.strings.split(tf.strings.strip(text))  # ragged (B, None)
    counts = tokens.row_lengths()
    checks = [tf.debugging.assert_positive(counts, message="a caption has no words (letters or digits)"),
              tf.debugging.assert_less_equal(counts, tf.constant(max_words, counts.dtype),
                                             message=f"a caption has more than {max_words} words")]
    with tf.control_dependencies(checks):
        ids = tf.ragged.map_flat_values(lambda w: lookup_tf(w, vocabulary), tokens)
        return tf.identity(ids.to_tensor(default_value=PAD, shape=[None, max_words]))
