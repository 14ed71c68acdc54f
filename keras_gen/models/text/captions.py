"""What the text-to-image models share: the caption options (set from the data by training) and
the caption input they declare.

A model's vocabulary and example captions are options, so a run's config.json and its
checkpoint record them and an export's manifest lists them with the `text` input: the words are
the network's (the embedding table has one row per word), and a caption sent later is tokenised
with the very same list. Left empty, they are the shapes captions' (keras_gen/data/captions.py),
so a model built without data (the harness, a notebook) takes shapes captions.
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_gen.core import inputs as kinds
from keras_gen.core.text import MAX_WORDS_LIMIT, check_vocabulary, words
from keras_gen.errors import KerasGenError
from keras_gen.models.base import option

EXAMPLE_SEPARATOR = ";"


@dataclass
class CaptionOptions:
    """The caption options of a text-to-image model."""

    vocabulary: str = option("", "the caption words, space-separated; training fills it in from the data (shapes: "
                                 "its caption grammar's 29 words; a folder: the words of its train captions). Empty: "
                                 "the shapes captions'")
    max_words: int = option(16, "the longest caption the model reads, in words (shapes captions have at most 10)",
                            min=1, max=MAX_WORDS_LIMIT)
    examples: str = option("", "captions a request without one goes through in turn, separated by ';'; filled "
                               "from the data. Empty: one per shapes colour and shape")
    word_dropout: float = option(0.05, "share of training words replaced by the unknown-word token, so a caption "
                                       "with an unknown word is still drawn from the words that are known",
                                 min=0.0, max=0.5)


def caption_spec(options) -> kinds.InputSpec:
    """The model's caption input: its vocabulary, max_words and example captions (each cut to
    max_words words, so every example is a valid request)."""
    from keras_gen.data.captions import SHAPES_VOCABULARY, example_captions

    try:
        vocabulary = check_vocabulary(options.vocabulary or SHAPES_VOCABULARY)
    except KerasGenError as err:
        raise KerasGenError(f"option vocabulary: {err}") from None
    examples = ([e for e in options.examples.split(EXAMPLE_SEPARATOR) if words(e)] if options.examples
                else example_captions())
    examples = [" ".join(words(e)[:options.max_words]) for e in examples] or None
    return kinds.caption(vocabulary, options.max_words, examples)


def drop_words(model, captions, rate: float):
    """Training captions (B, L) with each word replaced by UNK with probability `rate` (PADs kept),
    from the model's seeded noise: the model learns to draw from the words it knows."""
    import tensorflow as tf

    from keras_gen.core.text import FIRST_WORD_ID, UNK

    if not rate:
        return captions
    dropped = (model.random_uniform(tf.shape(captions)) < rate) & (captions >= FIRST_WORD_ID)
    return tf.where(dropped, tf.constant(UNK, captions.dtype), captions)
