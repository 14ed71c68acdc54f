"""Helpers for the data tests: write small image files of known content into a tmp folder."""

from pathlib import Path

import numpy as np
import pytest


def _write_image(path: Path, array: np.ndarray, **save_kwargs) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    Image.fromarray(array).save(path, **save_kwargs)
    return path


def _solid(colour, size=(24, 24)) -> np.ndarray:
    """An (H, W, len(colour)) uint8 image of one colour."""
    return np.broadcast_to(np.asarray(colour, np.uint8), (*size, len(colour))).copy()


@pytest.fixture
def write_image():
    """write_image(path, uint8/uint16 array, **pillow_save_kwargs) -> path (mode from the array)"""
    return _write_image


@pytest.fixture
def solid():
    """solid(colour, size=(24, 24)) -> uint8 image of one colour"""
    return _solid


@pytest.fixture
def mixed_folder(tmp_path) -> tuple[Path, int]:
    """A folder of PNG/JPEG/WebP/BMP files (RGB, grayscale, RGBA, nested) plus one corrupt file,
    a text file and a hidden file (ignored). Returns (folder, number of image-named files)."""
    root = tmp_path / "mixed"
    rng = np.random.default_rng(0)
    n = 0
    for i in range(8):
        _write_image(root / f"rgb_{i}.png", rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8))
        n += 1
    for i in range(4):
        _write_image(root / "nested" / "deeper" / f"photo_{i}.JPG", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
        n += 1
    for i in range(3):
        _write_image(root / f"web_{i}.webp", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), lossless=True)
        n += 1
    _write_image(root / "bitmap.bmp", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    _write_image(root / "gray.png", rng.integers(0, 256, (32, 32), dtype=np.uint8))
    _write_image(root / "alpha.png", _solid((255, 0, 0, 128)))
    n += 3
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)))
    n += 1
    (root / "notes.txt").write_text("not an image")
    _write_image(root / ".hidden.png", _solid((0, 0, 0)))
    return root, n
