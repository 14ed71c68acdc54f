"""Captions: the shapes grammar and its parser, caption folders, and the one tokeniser of the
`text` input kind (numpy at the edge, TF in SavedModel signatures, tested equal)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import KerasGenError
from keras_gen.core import inputs as kinds
from keras_gen.core.text import PAD, UNK, build_vocabulary, detokenize, normalise, tokenize
from keras_gen.data.captions import (MAX_SHAPES_WORDS, SHAPES_VOCABULARY, captioned_folder, example_captions,
                                     full_captions, named_attributes, parse_caption, shapes_captions)
from keras_gen.data.shapes import COLOUR_NAMES, SHAPES, draw_shapes

VOCABULARY = ("a", "large", "blue", "circle", "in", "the", "top", "left")


def test_shapes_captions_parse_back_to_the_attributes_they_were_written_from():
    _, drawn = draw_shapes(200, 16, 3)
    for i, caption in enumerate(full_captions(drawn)):
        assert parse_caption(caption) == named_attributes(drawn, i), caption
    varied = shapes_captions(drawn, seed=5)
    assert len(set(varied)) > 50 and varied == shapes_captions(drawn, seed=5)  # seeded, and varied
    assert shapes_captions({k: v[:10] for k, v in drawn.items()}, seed=5) == varied[:10]  # prefix-stable
    for caption in varied:  # each named attribute is the drawn one; a template may leave some out
        named, truth = parse_caption(caption), named_attributes(drawn, varied.index(caption))
        assert {k: v for k, v in named.items() if v is not None} == {k: truth[k] for k, v in named.items()
                                                                      if v is not None}
        assert named["shape"] is not None and named["colour"] is not None
        assert set(normalise(caption).split()) <= set(SHAPES_VOCABULARY)
        assert len(caption.split()) <= MAX_SHAPES_WORDS
    assert parse_caption("A large blue CIRCLE") == {"shape": SHAPES.index("circle"), "colour": COLOUR_NAMES.index("blue"),
                                                    "size": "large", "column": None, "row": None}
    assert parse_caption("a red ring on the left")["column"] == 0 and parse_caption("at the top")["row"] == 0


def test_tokenize_detokenize_round_trip_and_unknown_words_become_unk():
    ids, unknown = tokenize(["A large, BLUE circle!", "a circle in the top left"], VOCABULARY, 8)
    assert ids.dtype == np.int32 and ids.shape == (2, 8) and unknown == []
    assert ids[0, :4].tolist() == [2, 3, 4, 5] and (ids[0, 4:] == PAD).all()
    assert detokenize(ids, VOCABULARY) == ["a large blue circle", "a circle in the top left"]
    ids, unknown = tokenize("a huge purple circle", VOCABULARY, 8)
    assert unknown == ["huge", "purple"] and ids[0, :4].tolist() == [2, UNK, UNK, 5]
    again, _ = tokenize(detokenize(ids, VOCABULARY), VOCABULARY, 8)  # "<unk>" tokenises to UNK again
    np.testing.assert_array_equal(again, ids)
    assert build_vocabulary(["b a", "a c", "a"]) == ("a", "b", "c")  # most frequent first, then alphabetical


@pytest.mark.parametrize("caption, message", [("", "has no words"), ("  ?!, ", "has no words"),
                                              ("a " * 9, "has 9 words; this model reads at most 8")])
def test_empty_and_over_long_captions_are_errors_that_say_so(caption, message):
    with pytest.raises(KerasGenError, match=message):
        tokenize(caption, VOCABULARY, 8)
    spec = kinds.caption(VOCABULARY, 8, examples=["a blue circle"])
    with pytest.raises(KerasGenError, match=message):
        spec.check(caption, 1)
    assert tokenize("a " * 9, VOCABULARY, 8, truncate=True)[0].tolist() == [[2] * 8]  # training data: cut


def test_a_caption_input_takes_text_or_ids_and_defaults_to_its_examples():
    spec = kinds.caption(VOCABULARY, 6, examples=["a blue circle", "a large circle"])
    np.testing.assert_array_equal(spec.check("a blue circle", 3), np.repeat(tokenize("a blue circle", VOCABULARY, 6)[0],
                                                                            3, axis=0))
    np.testing.assert_array_equal(spec.check([[2, 4, 5, 0, 0, 0]], 2), [[2, 4, 5, 0, 0, 0]] * 2)
    with pytest.raises(KerasGenError, match="pads \\(0\\) only after its last word"):
        spec.check([[2, 0, 5, 0, 0, 0]], 1)
    with pytest.raises(KerasGenError, match="token ids must be from 0 to 9"):
        spec.check([[2, 40, 0, 0, 0, 0]], 1)
    drawn = kinds.resolve_inputs([spec], 3, seed=0)["caption"]
    assert detokenize(drawn, VOCABULARY) == ["a blue circle", "a large circle", "a blue circle"]
    signature = spec.as_signature()  # what clients send: strings
    assert (signature.dtype, signature.shape, signature.max_words) == ("string", (), 6)
    assert kinds.InputSpec.from_json(signature.to_json()) == signature
    assert kinds.InputSpec.from_json(spec.to_json()) == spec
    assert list(signature.check(["A Blue circle."], 2)) == ["a blue circle"] * 2


def test_the_graph_tokeniser_gives_the_numpy_ids_and_refuses_what_numpy_refuses():
    import tensorflow as tf

    from keras_gen.core_tf.text import tokenize_tf

    captions = ["A large, BLUE circle!", "zebra in the top-left", "circle", "  a   a a a a a a a  "]
    got = tokenize_tf(tf.constant(captions), VOCABULARY, 8).numpy()
    np.testing.assert_array_equal(got, tokenize(captions, VOCABULARY, 8)[0])
    for bad in ("", "a " * 9):
        with pytest.raises(tf.errors.InvalidArgumentError):
            tokenize_tf(tf.constant([bad]), VOCABULARY, 8)


def test_a_folder_with_caption_files_and_metadata_gives_its_captions(tmp_path):
    from PIL import Image

    for i in range(6):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    for i in range(4):
        (tmp_path / f"{i}.txt").write_text(f"\n a grey square number {i}\n", encoding="utf-8")
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "4.png", "text": "a dark square"}\n', encoding="utf-8")
    with pytest.warns(UserWarning, match="have no caption"):
        index, chosen, captions = captioned_folder(tmp_path, "train")
    every = dict(zip((index.files[i] for i in chosen), captions))
    assert "5.png" not in every and all(c.strip() for c in captions)
    assert every.get("4.png", "a dark square") == "a dark square"
    assert every.get("0.png", "a grey square number 0") == "a grey square number 0"
    empty = tmp_path / "empty"
    empty.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(empty / "x.png")
    with pytest.raises(KerasGenError, match="has a caption: put one beside each image"):
        captioned_folder(empty, "train")


def test_example_captions_name_every_colour_and_shape_once():
    examples = example_captions()
    named = {(parse_caption(c)["shape"], parse_caption(c)["colour"]) for c in examples}
    assert len(examples) == len(named) and all(None not in pair for pair in named)
