"""Image folders: formats, modes, corrupt files, classes, splits and the errors a user can hit."""

import warnings

import numpy as np
import pytest

from keras_gen.images import IMAGE_SUFFIXES

from keras_gen.data import UnreadableImagesWarning, describe, load_arrays, load_dataset
from keras_gen.data.folders import decode_image, folder_split, scan_folder
from keras_gen.errors import KerasGenError


def _load_both_splits(folder, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = [load_arrays(str(folder), split, **kwargs) for split in ("train", "test")]
    ours = [w for w in caught if issubclass(w.category, UnreadableImagesWarning)]
    return parts, ours


def test_mixed_folder_loads_every_readable_file_and_counts_the_corrupt_one(mixed_folder):
    folder, n_files = mixed_folder
    info = describe(str(folder))
    assert sum(info.split_sizes.values()) == n_files  # .txt and hidden files are not images
    assert info.split_sizes["test"] >= 1 and info.channels == 3 and info.num_classes is None
    assert info.default_image_size == 64
    ((train, ytr, _), (test, yte, _)), warned = _load_both_splits(folder, image_size=16)
    assert len(train) + len(test) == n_files - 1
    assert train.shape[1:] == (16, 16, 3) and train.dtype == np.float32
    assert -1.0 <= min(train.min(), test.min()) and max(train.max(), test.max()) <= 1.0
    assert ytr is None and yte is None
    assert len(warned) == 1  # one warning, in the split that holds the corrupt file
    split_of_corrupt = folder_split("corrupt.png")
    assert f"the '{split_of_corrupt}' split of" in str(warned[0].message)
    assert "skipped 1 unreadable and 0 too-small (< 8 px) files of the" in str(warned[0].message)
    assert "corrupt.png" in str(warned[0].message)


def test_split_is_deterministic_disjoint_and_about_ten_percent(mixed_folder):
    index = scan_folder(mixed_folder[0])
    train, test = set(index.splits["train"]), set(index.splits["test"])
    assert not train & test and len(train | test) == len(index.files)
    assert scan_folder(mixed_folder[0]).splits["test"].tolist() == sorted(test)
    names = [f"class_{i % 7}/img_{i:05d}.png" for i in range(3000)]
    fraction = np.mean([folder_split(n) == "test" for n in names])
    assert 0.08 < fraction < 0.12


def test_rgba_is_composited_on_white_and_gray_stays_one_channel(tmp_path, write_image, solid):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (255, 0, 0, 0)  # fully transparent red -> white
    rgba[:, 4:] = (0, 0, 255, 255)  # opaque blue
    out = decode_image(write_image(tmp_path / "a.png", rgba), 8)
    assert out.shape == (8, 8, 3)
    np.testing.assert_array_equal(out[:, 0], np.full((8, 3), 255))
    np.testing.assert_array_equal(out[:, -1], np.tile([0, 0, 255], (8, 1)))
    half = decode_image(write_image(tmp_path / "h.png", solid((0, 0, 0, 128))), 4)
    assert np.all(np.abs(half.astype(int) - 127) <= 1)  # 50% black over white

    gray = decode_image(write_image(tmp_path / "g.png", solid((77,), (10, 10))), 5)
    assert gray.shape == (5, 5, 1) and np.all(gray == 77)
    deep = decode_image(write_image(tmp_path / "d.png", np.full((8, 8), 65535, np.uint16)), 6)
    assert deep.shape == (6, 6, 1) and np.all(deep == 255)  # 16-bit scaled, not clipped garbage


def test_non_square_images_are_centre_cropped(tmp_path, write_image):
    wide = np.zeros((50, 100, 3), np.uint8)
    wide[:, :25] = (255, 0, 0)
    wide[:, 25:75] = (0, 0, 255)
    wide[:, 75:] = (0, 255, 0)
    out = decode_image(write_image(tmp_path / "wide.png", wide), 10)
    assert out.shape == (10, 10, 3)
    np.testing.assert_array_equal(out, np.broadcast_to([0, 0, 255], (10, 10, 3)))


def test_grayscale_folder_defaults_to_one_channel(tmp_path, write_image):
    rng = np.random.default_rng(1)
    for i in range(12):
        write_image(tmp_path / "g" / f"{i}.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    assert describe(str(tmp_path / "g")).channels == 1
    x, _, _ = load_arrays(str(tmp_path / "g"), image_size=8)
    assert x.shape[1:] == (8, 8, 1)
    x3, _, _ = load_arrays(str(tmp_path / "g"), image_size=8, channels=3)
    np.testing.assert_array_equal(x3, np.repeat(x, 3, axis=-1))


def test_class_subfolders_give_labels(tmp_path, write_image, solid):
    colours = {"cat": (250, 10, 10), "dog": (10, 10, 250), "emu": (10, 250, 10)}
    for name, colour in colours.items():
        for i in range(15):
            write_image(tmp_path / "pets" / name / "sub" / f"{i}.png", solid(colour))
    info = describe(str(tmp_path / "pets"))
    assert info.class_names == ["cat", "dog", "emu"] and info.num_classes == 3
    for split in ("train", "test"):
        x, y, _ = load_arrays(str(tmp_path / "pets"), split, image_size=8)
        assert len(x) == len(y) == info.split_sizes[split]
        dominant = x.mean(axis=(1, 2)).argmax(axis=-1)  # red -> 0, blue -> 2, green -> 1
        np.testing.assert_array_equal(dominant, np.array([0, 2, 1])[y])
    ds = load_dataset(str(tmp_path / "pets"), batch_size=4, with_labels=True, image_size=8)
    images, labels = next(iter(ds))
    assert images.shape == (4, 8, 8, 3) and labels.dtype.name == "int64"


def test_single_subfolder_or_loose_files_mean_no_labels(tmp_path, write_image, solid):
    for i in range(5):
        write_image(tmp_path / "one" / "only" / f"{i}.png", solid((1, 2, 3)))
    assert describe(str(tmp_path / "one")).num_classes is None
    with pytest.raises(KerasGenError, match="no labels"):
        load_dataset(str(tmp_path / "one"), batch_size=1, with_labels=True)


def test_missing_empty_and_unreadable_folders_raise(tmp_path):
    with pytest.raises(KerasGenError, match="does not exist"):
        load_arrays(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(KerasGenError) as err:
        load_arrays(str(tmp_path / "empty"))
    assert all(ext in str(err.value) for ext in IMAGE_SUFFIXES)
    (tmp_path / "bad").mkdir()
    for i in range(3):
        (tmp_path / "bad" / f"{i}.jpg").write_bytes(b"definitely not a jpeg")
    with pytest.raises(KerasGenError, match="2 unreadable, 0 smaller than 8 px"):
        load_arrays(str(tmp_path / "bad"))
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(KerasGenError, match="is a file"):
        describe(str(tmp_path / "file.png"))


def test_single_image_folder_has_no_test_split(tmp_path, write_image, solid):
    write_image(tmp_path / "solo" / "a.png", solid((9, 9, 9)))
    x, _, _ = load_arrays(str(tmp_path / "solo"))
    assert len(x) == 1
    with pytest.raises(KerasGenError, match="empty"):
        load_arrays(str(tmp_path / "solo"), "test")
