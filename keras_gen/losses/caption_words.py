"""Predicting a caption's words from its image: the auxiliary classifier of TAC-GAN (Dash et al.
2017, "TAC-GAN - Text Conditioned Auxiliary Classifier Generative Adversarial Network"), itself
AC-GAN's (Odena et al. 2017) with the class replaced by the text. Here the classes are the
caption's own words, not a data set's labels: a multi-label bag of words over the vocabulary,

    y_w = 1 if word w occurs in the caption, else 0          (w over the vocabulary; PAD, UNK left out)
    L_words(logits, y) = mean_i sum_w BCE(sigmoid(logits_iw), y_iw)

so every word a caption names ("star", "red", "left") is one binary question about the image,
each with the same weight, however often it comes with others. A discriminator head trained on
real images with their captions learns what each word looks like; the generator, asked for the
caption's words on its own images, gets a direct gradient toward the named shape, which a
batch-contrastive matching term gives only where two captions of the batch differ in the shape
alone.
"""

from __future__ import annotations

from keras import ops

from keras_gen.core.text import FIRST_WORD_ID


def bag_of_words(ids, vocabulary_size: int):
    """Token ids (B, L) -> (B, vocabulary_size) float32, 1 where the caption holds the word (PAD and
    UNK, ids below FIRST_WORD_ID, name no word)."""
    ids = ops.cast(ids, "int32")
    present = ops.cast(ops.greater_equal(ids, FIRST_WORD_ID), "float32")[..., None]  # (B, L, 1)
    hot = ops.one_hot(ops.maximum(ids - FIRST_WORD_ID, 0), vocabulary_size) * present  # (B, L, V)
    return ops.minimum(ops.sum(hot, axis=1), 1.0)


def word_prediction_loss(logits, words):
    """Multi-label binary cross-entropy, summed over the vocabulary and averaged over the batch."""
    per_word = ops.binary_crossentropy(ops.cast(words, "float32"), ops.cast(logits, "float32"), from_logits=True)
    return ops.mean(ops.sum(per_word, axis=-1))


def word_recall(logits, words):
    """Share of the captions' words that the logits find present (sigmoid above one half)."""
    words = ops.cast(words, "float32")
    found = ops.cast(ops.greater(ops.cast(logits, "float32"), 0.0), "float32") * words
    return ops.sum(found) / ops.maximum(ops.sum(words), 1.0)
