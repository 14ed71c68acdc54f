"""Too-small and unreadable files: skipped with one counting warning, or a clear error when none is usable."""

import re
import warnings

import numpy as np
import pytest

from keras_gen.images import IMAGE_SUFFIXES

from keras_gen.data import (
    MIN_SOURCE_SIDE,
    UnreadableImagesWarning,
    describe,
    load_arrays,
    load_dataset,
    load_paired,
    load_unpaired,
)
from keras_gen.data.folders import TooSmallImageError, decode_image, scan_folder
from keras_gen.errors import KerasGenError

COUNTS = re.compile(r"skipped (\d+) unreadable and (\d+) too-small \(< (\d+) px\) files of the (\d+) loaded from")


def _noise(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _load_recording(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in caught if issubclass(w.category, UnreadableImagesWarning)]


def _counts(messages):
    """(unreadable, too small, tried) summed over warnings, each warning checked against the format."""
    totals = np.zeros(3, int)
    for message in messages:
        match = COUNTS.search(message)
        assert match is not None, message
        assert int(match[3]) == MIN_SOURCE_SIDE
        totals += [int(match[1]), int(match[2]), int(match[4])]
    return totals


def test_minimum_is_eight_pixels_on_the_shorter_side(tmp_path, write_image):
    assert MIN_SOURCE_SIDE == 8
    assert decode_image(write_image(tmp_path / "ok.png", _noise((8, 40, 3), 0)), 8).shape == (8, 8, 3)
    for name, shape in (("thin.png", (7, 40, 3)), ("tall.png", (40, 7)), ("dot.png", (2, 2, 3))):
        with pytest.raises(TooSmallImageError, match=f"{shape[1]}x{shape[0]} px"):
            decode_image(write_image(tmp_path / name, _noise(shape, 1)), 16)


def test_folder_of_only_tiny_images_raises_with_minimum_and_extensions(tmp_path, write_image):
    folder = tmp_path / "tiny"
    for i in range(40):
        write_image(folder / f"{i:02d}.png", _noise((2, 2, 3), i))
    n_train = len(scan_folder(folder).splits["train"])
    for load in (lambda: load_arrays(str(folder), image_size=16), lambda: load_dataset(str(folder), image_size=16)):
        with pytest.raises(KerasGenError) as err:
            load()
        message = str(err.value)
        assert f"none of the {n_train} image files loaded from the 'train' split" in message
        assert f"0 unreadable, {n_train} smaller than 8 px on the shorter side" in message
        assert "at least 8 px" in message and "2x2 px" in message
        assert all(ext in message for ext in IMAGE_SUFFIXES)


def test_tiny_and_corrupt_files_are_counted_in_one_warning_and_the_rest_load(tmp_path, write_image):
    folder = tmp_path / "mixed"
    for i in range(14):
        write_image(folder / f"gray_{i:02d}.png", _noise((24, 20), i))  # usable, stored as grayscale
    write_image(folder / "edge.png", _noise((8, 8), 99))  # exactly the minimum: usable
    tiny = {f"tiny_{i}.png": (2 + i, 30) for i in range(6)}  # shorter sides 2..7
    for name, (h, w) in tiny.items():
        write_image(folder / name, _noise((h, w, 3), h))  # RGB, so they must not sway the channels
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    assert describe(str(folder)).channels == 1  # only usable files decide the default channels

    index = scan_folder(folder)
    loaded, messages = 0, []
    for split in ("train", "test"):
        (x, _, _), warned = _load_recording(load_arrays, str(folder), split, image_size=16)
        assert x.shape[1:] == (16, 16, 1) and np.isfinite(x).all()
        assert len(warned) <= 1  # at most one warning per load
        for message in warned:  # a warning counts every file of its split, skipped or not
            assert _counts([message])[2] == len(index.splits[split])
            assert f"({len(index.splits[split])} of the folder's 22 image files are in this split)" in message
        loaded += len(x)
        messages += warned
    assert loaded == 15  # the 14 normal files and the one exactly 8 px
    assert tuple(_counts(messages)[:2]) == (1, len(tiny))
    assert any(re.search(r"first too small: tiny_\d\.png: 30x\d px", m) for m in messages)


def test_none_usable_message_counts_the_split_and_the_whole_folder(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(b"\x89PNG but no more")
    index = scan_folder(folder)
    assert len(index.splits["train"]) == len(index.splits["test"]) == 1  # two files: one per split
    for split in ("train", "test"):
        with pytest.raises(KerasGenError) as err:
            load_arrays(str(folder), split)
        message = str(err.value)
        name = next(n for n in ("a.png", "b.png") if index.files.index(n) in index.splits[split])
        assert f"none of the 1 image files loaded from the '{split}' split of" in message
        assert "(1 of the folder's 2 image files are in this split)" in message
        assert "1 unreadable, 0 smaller than 8 px" in message and f"first unreadable: {name}:" in message


def test_side_by_side_pairs_with_tiny_halves_are_skipped(tmp_path, write_image):
    for i in range(5):
        write_image(tmp_path / "train" / f"good_{i}.png", _noise((16, 32, 3), i))
    for i in range(3):
        write_image(tmp_path / "train" / f"thin_{i}.png", _noise((16, 14, 3), i))  # halves 7 px wide
    write_image(tmp_path / "test" / "0.png", _noise((12, 12, 3), 0))  # halves 6 px wide: the only file
    (a, b), warned = _load_recording(load_paired, tmp_path, "train", image_size=8)
    assert len(a) == len(b) == 5 and len(warned) == 1
    assert tuple(_counts(warned)) == (0, 3, 8) and "per half" in warned[0]
    with pytest.raises(KerasGenError, match=r"none of the 1 image files loaded from side-by-side pairs.*at least 8 px"):
        load_paired(tmp_path, "test", image_size=8)


def test_two_domain_folders_drop_tiny_files(tmp_path, write_image):
    for i in range(12):
        write_image(tmp_path / "p" / "A" / f"{i}.png", _noise((4, 4, 3) if i == 0 else (16, 16, 3), i))
        write_image(tmp_path / "p" / "B" / f"{i}.png", _noise((16, 16, 3), 100 + i))
    sizes, messages = 0, []
    for split in ("train", "test"):
        (a, b), warned = _load_recording(load_paired, tmp_path / "p", split, image_size=8)
        assert len(a) == len(b)
        sizes, messages = sizes + len(a), messages + warned
    assert sizes == 11  # the pair whose A side is 4x4 is dropped whole
    assert len(messages) == 1 and tuple(_counts(messages)[:2]) == (0, 1) and "0.png: 4x4 px" in messages[0]

    for split in ("train", "test"):
        for domain, shape in (("A", (16, 16, 3)), ("B", (3, 3, 3))):
            for i in range(3):
                write_image(tmp_path / "cg" / f"{split}{domain}" / f"{i}.png", _noise(shape, i))
    with pytest.raises(KerasGenError, match=r"trainB'.*3 smaller than 8 px.*at least 8 px"):
        load_unpaired(tmp_path / "cg", "train", image_size=8)
