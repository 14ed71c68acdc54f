"""Two-domain folders: paired (A/B by name, side-by-side) and unpaired (A/B, CycleGAN layout)."""

import numpy as np
import pytest

from keras_gen.data import load_paired, load_unpaired, pair_dataset
from keras_gen.errors import KerasGenError


def _shade(i):
    return (10 * i % 256, 255 - 10 * i % 256, 128)


def test_paired_by_name_keeps_pairs_aligned(tmp_path, write_image, solid):
    for i in range(20):
        write_image(tmp_path / "A" / f"x{i:02d}.png", solid(_shade(i)))
        write_image(tmp_path / "B" / f"x{i:02d}.jpg", solid(tuple(255 - v for v in _shade(i))), quality=95)
    sizes = 0
    for split in ("train", "test"):
        a, b = load_paired(tmp_path, split, image_size=8)
        assert a.shape == b.shape and a.shape[1:] == (8, 8, 3)
        np.testing.assert_allclose(a, -b, atol=0.05)  # B is the negative of its partner in A
        sizes += len(a)
    assert sizes == 20


def test_paired_folder_refuses_unmatched_names_and_an_empty_side(tmp_path, write_image, solid):
    """A file without its pair is an error naming it, not a pair quietly dropped (issue 28)."""
    for i in range(4):
        write_image(tmp_path / "p" / "A" / f"x{i}.png", solid(_shade(i)))
        write_image(tmp_path / "p" / "B" / f"x{i}.png", solid(_shade(i)))
    write_image(tmp_path / "p" / "A" / "lonely.png", solid((0, 0, 0)))
    with pytest.raises(KerasGenError, match=r"unmatched pairs.*1 file\(s\) of A/ have no pair in B/ \(first: lonely.png\)"):
        load_paired(tmp_path / "p", "train", image_size=8)
    for i in range(3):
        write_image(tmp_path / "q" / "A" / f"x{i}.png", solid(_shade(i)))
    (tmp_path / "q" / "B").mkdir()
    with pytest.raises(KerasGenError, match=r"has no images in B/"):
        load_paired(tmp_path / "q", "train", image_size=8)


def test_side_by_side_pairs(tmp_path, write_image):
    for i in range(6):
        image = np.zeros((16, 32, 3), np.uint8)
        image[:, :16] = (255, 0, 0)
        image[:, 16:] = (0, 0, 255)
        write_image(tmp_path / "train" / f"{i}.png", image)
    write_image(tmp_path / "val" / "0.png", image)
    a, b = load_paired(tmp_path, "train", image_size=8)
    assert a.shape == (6, 8, 8, 3)
    np.testing.assert_array_equal(a[..., 0], 1.0)
    np.testing.assert_array_equal(b[..., 2], 1.0)
    a_test, _ = load_paired(tmp_path, "test", image_size=8)
    assert len(a_test) == 1


def test_unpaired_layouts(tmp_path, write_image, solid):
    for i in range(12):
        write_image(tmp_path / "ab" / "A" / f"{i}.png", solid((200, 0, 0)))
    for i in range(30):
        write_image(tmp_path / "ab" / "B" / f"{i}.png", solid((0, 200, 0)))
    train_a, train_b = load_unpaired(tmp_path / "ab", "train", image_size=8)
    test_a, test_b = load_unpaired(tmp_path / "ab", "test", image_size=8)
    assert len(train_a) + len(test_a) == 12 and len(train_b) + len(test_b) == 30
    assert train_a[..., 0].mean() > 0 > train_b[..., 0].mean()

    for split, n in (("train", 5), ("test", 2)):
        for domain in "AB":
            for i in range(n):
                write_image(tmp_path / "cg" / f"{split}{domain}" / f"{i}.png", solid((9, 9, 9)))
    assert [len(x) for x in load_unpaired(tmp_path / "cg", "test", image_size=8)] == [2, 2]
    with pytest.raises(KerasGenError, match="unpaired"):
        load_unpaired(tmp_path / "ab" / "A")


def test_pair_dataset(tmp_path):
    a = np.zeros((10, 4, 4, 3), np.float32)
    b = np.ones((25, 4, 4, 3), np.float32)
    batches = list(pair_dataset(a, b, batch_size=5, paired=False))
    assert len(batches) == 5  # an epoch spans the larger domain
    assert all(x.shape == (5, 4, 4, 3) and y.shape == (5, 4, 4, 3) for x, y in batches)
    paired = list(pair_dataset(a, b[:10], batch_size=4, paired=True, drop_remainder=False))
    assert [len(x) for x, _ in paired] == [4, 4, 2]
