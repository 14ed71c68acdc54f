"""Captions as token ids: the one tokeniser of the `text` input kind, in numpy (edge, CLI, data).

A caption is normalised, split into words and looked up in the model's vocabulary:

    normalise   ASCII letters lower-cased; every run of characters outside [a-z0-9] becomes one
                space ("A large, BLUE circle!" -> "a large blue circle")
    words       the normalised caption split on spaces
    ids         PAD = 0 fills the row after the last word, UNK = 1 stands for a word the
                vocabulary lacks, and vocabulary word k is id k + 2; a row holds `max_words` ids

The same steps run inside a TensorFlow graph (keras_gen/core_tf/text.py: `tf.strings.lower` with
ASCII semantics, `regex_replace`, `split` and a static hash table), so a caption sent as a string
to TF Serving's SavedModel gives the same ids as the edge runner's numpy, tested equal. Non-ASCII
letters are not lower-cased by either: they fall outside [a-z0-9] and become spaces in both.

A caption with no word (empty, or punctuation only) and one with more than `max_words` words are
errors that say so; unknown words are not: they become UNK (the model saw UNK in training, where
`word_dropout` replaces words by it) and `tokenize` returns them, so a command can warn.

Plain Python and numpy.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from keras_gen.core.errors import KerasGenError

PAD, UNK = 0, 1
RESERVED = ("<pad>", "<unk>")  # the names ids 0 and 1 detokenise to
UNK_WORD = "unk"  # what "<unk>" normalises to: no vocabulary holds it, so detokenised UNK tokenises to UNK
FIRST_WORD_ID = 2
MAX_VOCABULARY = 20_000  # words; a caption model's embedding table is (MAX + 2, dim)
MAX_WORDS_LIMIT = 256  # the longest caption any model may take
_UPPER_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(caption) -> str:
    """The caption as the tokeniser reads it: ASCII lower case, words of [a-z0-9] joined by one space."""
    if isinstance(caption, (bytes, np.bytes_)):
        try:
            caption = bytes(caption).decode("utf-8")
        except UnicodeDecodeError:
            raise KerasGenError("a caption must be UTF-8 text.") from None
    if not isinstance(caption, (str, np.str_)):
        raise KerasGenError(f"a caption must be text, got {type(caption).__name__} {caption!r:.60}.")
    return " ".join(_NOT_WORD.sub(" ", str(caption).translate(_UPPER_TO_LOWER)).split())


def words(caption) -> list[str]:
    return normalise(caption).split()


def check_vocabulary(vocabulary) -> tuple[str, ...]:
    """The vocabulary as a tuple of distinct words, each already normalised (one [a-z0-9]+ word)."""
    if isinstance(vocabulary, str):
        vocabulary = vocabulary.split()
    vocabulary = tuple(str(w) for w in vocabulary)
    bad = [w for w in vocabulary if not w or normalise(w) != w or " " in w or w == UNK_WORD]
    repeated = sorted({w for w in vocabulary if vocabulary.count(w) > 1}) if len(set(vocabulary)) != len(vocabulary) \
        else []
    if bad or repeated or not vocabulary:
        raise KerasGenError("a vocabulary is one or more distinct lower-case words of letters and digits"
                            + (f"; not {', '.join(map(repr, bad[:5]))}" if bad else "")
                            + (f"; repeated: {', '.join(repeated[:5])}" if repeated else "")
                            + ("; it is empty" if not vocabulary else "") + ".")
    if len(vocabulary) > MAX_VOCABULARY:
        raise KerasGenError(f"a vocabulary holds at most {MAX_VOCABULARY} words, got {len(vocabulary)}.")
    return vocabulary


def check_max_words(max_words) -> int:
    if isinstance(max_words, bool) or not isinstance(max_words, (int, np.integer)) or not (
            1 <= max_words <= MAX_WORDS_LIMIT):
        raise KerasGenError(f"max_words must be a whole number from 1 to {MAX_WORDS_LIMIT}, got {max_words!r}.")
    return int(max_words)


def as_caption_list(captions) -> list:
    """One caption or many (a list, tuple or 1-D array of text) as a list."""
    if isinstance(captions, (str, bytes, np.str_, np.bytes_)):
        return [captions]
    array = np.asarray(captions, dtype=object) if not isinstance(captions, np.ndarray) else captions
    if array.ndim != 1:
        raise KerasGenError(f"captions are one text or a list of texts, got an array of shape {array.shape}.")
    return list(array)


def tokenize(captions, vocabulary, max_words: int, truncate: bool = False) -> tuple[np.ndarray, list[str]]:
    """(ids int32 (N, max_words), the unknown words in order of appearance) of one caption or a
    list. A caption without words is an error; so is one longer than `max_words`, unless
    `truncate` (training data: the first max_words words are kept)."""
    vocabulary = check_vocabulary(vocabulary)
    max_words = check_max_words(max_words)
    lookup = {w: i + FIRST_WORD_ID for i, w in enumerate(vocabulary)}
    captions = as_caption_list(captions)
    if not captions:
        raise KerasGenError("no caption given: pass at least one, e.g. --text \"a large blue circle\".")
    ids = np.zeros((len(captions), max_words), np.int32)
    unknown: list[str] = []
    for row, caption in enumerate(captions):
        found = words(caption)
        if not found:
            raise KerasGenError(f"caption {caption!r:.80} has no words (letters or digits): describe the image, "
                                "e.g. \"a large blue circle\".")
        if len(found) > max_words:
            if not truncate:
                raise KerasGenError(f"caption {caption!r:.80} has {len(found)} words; this model reads at most "
                                    f"{max_words}. Shorten it.")
            found = found[:max_words]
        for col, word in enumerate(found):
            ids[row, col] = lookup.get(word, UNK)
            if word not in lookup and word not in unknown:
                unknown.append(word)
    return ids, unknown


def check_ids(ids, vocabulary_size: int, max_words: int) -> np.ndarray:
    """Token ids given directly, as int32 (N, max_words): whole numbers in [0, vocabulary_size + 2),
    each row with at least one word and no word after its first PAD."""
    array = np.asarray(ids)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != max_words or array.shape[0] == 0:
        raise KerasGenError(f"token ids come as (N, {max_words}) rows, got shape {array.shape}.")
    if not (np.issubdtype(array.dtype, np.integer) or (np.issubdtype(array.dtype, np.floating)
                                                      and np.isfinite(array).all() and np.all(array == np.round(array)))):
        raise KerasGenError(f"token ids must be whole numbers, got {array.dtype}.")
    top = vocabulary_size + FIRST_WORD_ID
    if array.min() < 0 or array.max() >= top:
        raise KerasGenError(f"token ids must be from 0 to {top - 1} (0 pads, 1 is an unknown word), got values from "
                            f"{array.min()} to {array.max()}.")
    words_present = array != PAD
    if not words_present[:, 0].all() or np.any(~words_present[:, :-1] & words_present[:, 1:]):
        raise KerasGenError("each row of token ids starts with a word and pads (0) only after its last word.")
    return array.astype(np.int32)


def detokenize(ids, vocabulary) -> list[str]:
    """Token rows back to normalised captions: PADs dropped, UNK as "<unk>" (which tokenises to UNK again)."""
    vocabulary = check_vocabulary(vocabulary)
    names = list(RESERVED) + list(vocabulary)
    array = np.atleast_2d(np.asarray(ids))
    return [" ".join(names[int(i)] for i in row if int(i) != PAD) for row in array]


def build_vocabulary(captions, min_count: int = 1, max_size: int = MAX_VOCABULARY) -> tuple[str, ...]:
    """The words of `captions` seen at least `min_count` times, most frequent first (ties in
    alphabetical order), at most `max_size`: a data set's vocabulary."""
    counts = Counter(w for caption in captions for w in words(caption) if w != UNK_WORD)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))[:max_size]
    if not kept:
        raise KerasGenError("the captions hold no words to build a vocabulary from.")
    return tuple(kept)


__all__ = ["FIRST_WORD_ID", "MAX_VOCABULARY", "MAX_WORDS_LIMIT", "PAD", "RESERVED", "UNK", "as_caption_list",
           "build_vocabulary", "check_ids", "check_max_words", "check_vocabulary", "detokenize", "normalise",
           "tokenize", "words"]
