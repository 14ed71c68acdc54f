"""Captions for images: written from the `shapes` set's drawing attributes, or read from files
beside the images of a folder.

Shapes (keras_gen/data/shapes.py knows each image's shape, colour, size, centre and rotation):

    "a small red triangle in the top left"      "a large blue circle"      "a green ring on the right"

The shape and colour are always named. The size is named only where it is clearly small or large
(circumradius below SMALL_BELOW or from LARGE_FROM of the side, SIZE_RANGE 0.14-0.32): the middle
third is left unnamed, so a named size is one a judge can check from the pixels without a coin
toss at a boundary. The position names the third of the image the centre falls in (columns left |
centre | right from x, rows top | centre | bottom from y): "in the top left", "at the top", "on
the left", "in the centre". Rotation is not named (a rotated star is still a star; the issue's
attributes for checking are shape, colour and size). Each image's template (with or without the
size and the position, a few word orders) is drawn from the split's seed, so captions vary as
people's do and the first k captions of a split do not depend on how many are asked for.

`parse_caption` reads a caption back into the attributes it names (None for those it does not),
the judge's side of the benchmark: `parse_caption(shape_caption(attributes))` names exactly the
attributes the caption was written from (tests hold the round trip).

Folders: a caption file beside each image, `NAME.txt` next to `NAME.png` (its first non-empty line;
the HF/COCO-style alternative is one `metadata.jsonl` at the folder's root, lines of
{"file_name": "cats/a.png", "text": "a cat on a mat"}). Images without a caption are left out with
one warning; a folder with none is an error saying where captions go.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from keras_gen.core.errors import KerasGenError
from keras_gen.core.text import build_vocabulary, normalise
from keras_gen.data.shapes import COLOUR_NAMES, SHAPES, SIZE_RANGE

SMALL_BELOW, LARGE_FROM = 0.20, 0.26  # thirds of SIZE_RANGE (0.14, 0.32): the middle third is not named
SIZES = ("small", "large")
COLUMNS, ROWS = ("left", "centre", "right"), ("top", "centre", "bottom")
# Every word a shapes caption may use: the vocabulary of a text model trained on `shapes`.
SHAPES_VOCABULARY = ("a", "an", "there", "is", "in", "on", "at", "the", *SIZES, *COLOUR_NAMES, *SHAPES,
                     "top", "bottom", "left", "right", "centre")
MAX_SHAPES_WORDS = 10  # "there is a small red triangle in the top left"
CAPTION_FILE_SUFFIX = ".txt"
METADATA_FILE = "metadata.jsonl"


def size_word(size: float) -> str | None:
    return "small" if size < SMALL_BELOW else "large" if size >= LARGE_FROM else None


def third(value: float) -> int:
    """0, 1 or 2: the third of [0, 1] a centre coordinate falls in."""
    return 0 if value < 1 / 3 else 2 if value >= 2 / 3 else 1


def position_phrase(column: int, row: int) -> str:
    if (column, row) == (1, 1):
        return "in the centre"
    if row == 1:
        return f"on the {COLUMNS[column]}"
    if column == 1:
        return f"at the {ROWS[row]}"
    return f"in the {ROWS[row]} {COLUMNS[column]}"


def shape_caption(shape: int, colour: int, size: float, x: float, y: float, template: int = 0) -> str:
    """The caption of one shape; `template` 0..3: size and position, size only, position only,
    "there is ..." with both (the size word drops out where the size is in the middle third)."""
    words = " ".join(w for w in (size_word(size), COLOUR_NAMES[colour], SHAPES[shape]) if w)
    where = position_phrase(third(x), third(y))
    plain = " ".join(words.split()[-2:])  # colour and shape
    return {0: f"{article(words)} {where}", 1: article(words), 2: f"{article(plain)} {where}",
            3: f"there is {article(words)} {where}"}[template % 4]


def article(phrase: str) -> str:
    """"a" or "an" before the phrase ("an orange ring")."""
    return f"{'an' if phrase[:1] in 'aeiou' else 'a'} {phrase}"


def shapes_captions(attributes: dict, seed: int) -> list[str]:
    """One caption per image of a `shapes` split (attributes as keras_gen.data.shapes.draw_shapes
    returns them), its template drawn from `seed`: image i's depends on (seed, i) alone."""
    n = len(attributes["shape"])
    templates = np.random.default_rng([int(seed), 7919]).integers(0, 4, size=max(n, 1))[:n]
    return [shape_caption(int(attributes["shape"][i]), int(attributes["colour"][i]), float(attributes["size"][i]),
                          float(attributes["x"][i]), float(attributes["y"][i]), int(templates[i])) for i in range(n)]


def full_captions(attributes: dict) -> list[str]:
    """Template 0 for every image (size where named, colour, shape, position): the benchmark's
    held-out captions name everything a caption can."""
    return [shape_caption(int(s), int(c), float(z), float(x), float(y)) for s, c, z, x, y in
            zip(attributes["shape"], attributes["colour"], attributes["size"], attributes["x"], attributes["y"])]


def example_captions() -> list[str]:
    """48 captions, one per colour and shape (colours down, shapes across; large and small in
    turn): what a shapes text model draws when a request gives no caption."""
    return [article(f"{SIZES[(c + s + 1) % 2]} {colour} {shape}") for c, colour in enumerate(COLOUR_NAMES)
            for s, shape in enumerate(SHAPES)]


def parse_caption(caption) -> dict:
    """{"shape", "colour": index or None, "size": "small" | "large" | None, "column", "row":
    0..2 or None}: what a caption names. A position phrase names both: a side not named is the
    centre ("on the left" is the middle row, "at the top" the middle column); no position word,
    neither. Words the shapes grammar lacks are ignored."""
    words = normalise(caption).split()
    found = {"shape": None, "colour": None, "size": None, "column": None, "row": None}
    for w in words:
        if w in SHAPES:
            found["shape"] = SHAPES.index(w)
        elif w in COLOUR_NAMES:
            found["colour"] = COLOUR_NAMES.index(w)
        elif w in SIZES:
            found["size"] = w
    if any(w in words for w in ("top", "bottom", "left", "right", "centre")):
        found["column"] = 0 if "left" in words else 2 if "right" in words else 1
        found["row"] = 0 if "top" in words else 2 if "bottom" in words else 1
    return found


def named_attributes(attributes: dict, i: int) -> dict:
    """What a full caption of image i names, in parse_caption's form (the truth to compare with)."""
    return {"shape": int(attributes["shape"][i]), "colour": int(attributes["colour"][i]),
            "size": size_word(float(attributes["size"][i])), "column": third(float(attributes["x"][i])),
            "row": third(float(attributes["y"][i]))}


# -- folders ----------------------------------------------------------------------------------
def _metadata_captions(root: Path) -> dict[str, str]:
    path = root / METADATA_FILE
    if not path.is_file():
        return {}
    captions = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            captions[Path(str(entry["file_name"])).as_posix()] = str(entry["text"])
        except (ValueError, KeyError, TypeError):
            raise KerasGenError(f"{path}, line {number}: each line is a JSON object with \"file_name\" and "
                                "\"text\", e.g. {\"file_name\": \"a.png\", \"text\": \"a red car\"}.") from None
    return captions


def folder_captions(root, files) -> list[str | None]:
    """The caption of each file (relative POSIX paths under `root`): NAME.txt beside it, else its
    metadata.jsonl entry, else None."""
    root = Path(root)
    metadata = _metadata_captions(root)
    out = []
    for relative in files:
        text_file = (root / relative).with_suffix(CAPTION_FILE_SUFFIX)
        caption = None
        if text_file.is_file():
            lines = [ln.strip() for ln in text_file.read_text(encoding="utf-8", errors="replace").splitlines()]
            caption = next((ln for ln in lines if normalise(ln)), None)
        elif relative in metadata:
            caption = metadata[relative] if normalise(metadata[relative]) else None
        out.append(caption)
    return out


def captioned_folder(root, split: str):
    """(file indices into the folder's index, their captions) of one split, images without a
    caption left out with one warning; KerasGenError when no image of the folder has one."""
    from keras_gen.data.folders import scan_folder

    index = scan_folder(root)
    every = folder_captions(index.root, index.files)
    if not any(every):
        raise KerasGenError(f"no image in {str(index.root)!r} has a caption: put one beside each image (NAME.txt next "
                            f"to NAME.png, the caption on its first line), or a {METADATA_FILE} at the folder's root "
                            "with lines {\"file_name\": \"NAME.png\", \"text\": \"...\"}.")
    chosen = [int(i) for i in index.splits[split] if every[int(i)]]
    missing = len(index.splits[split]) - len(chosen)
    if missing:
        warnings.warn(f"{missing} of the {len(index.splits[split])} images of the {split!r} split of {index.root} have "
                      f"no caption ({Path('NAME').with_suffix(CAPTION_FILE_SUFFIX)} beside NAME.png, or an entry in "
                      f"{METADATA_FILE}) and are left out.", stacklevel=2)
    if not chosen:
        raise KerasGenError(f"no image of the {split!r} split of {str(index.root)!r} has a caption; add captions to it.")
    return index, chosen, [every[i] for i in chosen]


def folder_vocabulary(root, min_count: int = 1) -> tuple[str, ...]:
    """The vocabulary of a captioned folder's train captions."""
    _, _, captions = captioned_folder(root, "train")
    return build_vocabulary(captions, min_count=min_count)


__all__ = ["LARGE_FROM", "MAX_SHAPES_WORDS", "SHAPES_VOCABULARY", "SIZE_RANGE", "SMALL_BELOW", "captioned_folder",
           "example_captions", "folder_captions", "folder_vocabulary", "full_captions", "named_attributes",
           "parse_caption", "position_phrase", "shape_caption", "shapes_captions", "size_word", "third"]
