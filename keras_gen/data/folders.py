"""Folders of image files: recursive, any mix of PNG/JPEG/WebP/BMP, modes and sizes.

Layout rules:
- Every file below the folder whose extension is one of IMAGE_SUFFIXES (any case) is an
  image; names starting with "." (hidden files, macOS "._x.jpg" forks, .ipynb_checkpoints) are
  ignored.
- If every image sits inside a first-level subfolder and there are at least two of them, the
  subfolders are classes: label = index of the subfolder's name in sorted order. Otherwise the
  set has no labels.
- Split: a file is in "test" when the SHA-1 of its path relative to the folder falls in the
  lowest TEST_FRACTION of hash values, so the split never changes when files are added
  elsewhere or the folder moves. If that leaves "test" empty and there are two images or more,
  the file with the smallest hash goes to test, so every folder of two or more images has both
  splits.

Decoding (keras_gen.core.decoding.decode_image, in threads): EXIF orientation applied;
grayscale (1-bit, 8-bit, 16-bit) stays one channel; palette, CMYK, YCbCr become RGB; alpha
(RGBA, LA, transparent palettes) is composited onto white. Each image is centre-cropped to a
square and resized with antialiased bilinear. Default channels: 1 when every image is stored as
grayscale, else 3. Files Pillow cannot read, and images whose shorter side is below
MIN_SOURCE_SIDE, are skipped with one warning that counts both; when none is usable, a
KerasGenError says what a usable file is.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from keras_gen.core.decoding import (GRAY_MODES, MIN_SOURCE_SIDE, TooSmallImageError, check_min_side,  # noqa: F401
                                     decode_image)
from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import IMAGE_SUFFIXES, convert_channels
from keras_gen.data.common import DataInfo

TEST_FRACTION = 0.1
DEFAULT_IMAGE_SIZE = 64


class UnreadableImagesWarning(UserWarning):
    """Some files in an image folder could not be decoded, or were too small, and were skipped."""


def usable_files_rule() -> str:
    """What a usable image file is, for error messages."""
    return (
        f"files ending in {', '.join(IMAGE_SUFFIXES)} (any case) that Pillow can read and whose "
        f"shorter side is at least {MIN_SOURCE_SIDE} px"
    )


def report_skipped(n_tried: int, n_kept: int, unreadable: list, too_small: list, where: str, stacklevel: int = 3):
    """One UnreadableImagesWarning counting skipped files; KerasGenError if none was usable.

    `unreadable`/`too_small` hold one "name: reason" string per skipped file."""
    kinds = (("unreadable", unreadable), ("too small", too_small))
    firsts = "; ".join(f"first {kind}: {items[0]}" for kind, items in kinds if items)
    if n_kept == 0:
        raise KerasGenError(
            f"none of the {n_tried} image files loaded from {where} could be used: {len(unreadable)} unreadable, "
            f"{len(too_small)} smaller than {MIN_SOURCE_SIDE} px on the shorter side ({firsts}). "
            f"keras-gen loads {usable_files_rule()}; replace those files or pick another folder"
        )
    if unreadable or too_small:
        warnings.warn(
            f"skipped {len(unreadable)} unreadable and {len(too_small)} too-small (< {MIN_SOURCE_SIDE} px) "
            f"files of the {n_tried} loaded from {where} ({firsts})",
            UnreadableImagesWarning,
            stacklevel=stacklevel + 1,
        )


def _hash_fraction(relpath: str) -> float:
    return int(hashlib.sha1(relpath.encode("utf-8")).hexdigest()[:12], 16) / float(16**12)


def folder_split(relpath: str) -> str:
    """The split a file lands in by its hash alone (relative POSIX path, e.g. "cats/a.png")."""
    return "test" if _hash_fraction(relpath) < TEST_FRACTION else "train"


@dataclass(frozen=True)
class FolderIndex:
    root: Path
    files: tuple  # relative POSIX paths, sorted
    labels: np.ndarray | None  # int64 per file
    class_names: list | None
    splits: dict  # split -> int64 indices into files

    def paths(self, split: str) -> list[Path]:
        return [self.root / self.files[i] for i in self.splits[split]]


def _is_image(path: Path, root: Path) -> bool:
    if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
        return False
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def scan_folder(path) -> FolderIndex:
    """List a folder's images, classes and splits; KerasGenError if it holds none."""
    root = Path(os.path.expanduser(str(path)))
    if not root.exists():
        raise KerasGenError(
            f"data folder {str(root)!r} does not exist. Pass an existing folder of images, a bundled "
            "set (digits, shapes, photos, textures) or a TFDS name such as tfds:mnist"
        )
    if not root.is_dir():
        raise KerasGenError(f"{str(root)!r} is a file; pass the folder that holds the images")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if _is_image(p, root))
    if not files:
        raise KerasGenError(
            f"no images found in {str(root)!r} (searched recursively for files ending in "
            f"{', '.join(IMAGE_SUFFIXES)}, any case). Put image files there or pick another folder"
        )
    tops = [f.split("/")[0] for f in files]
    labels = class_names = None
    if all("/" in f for f in files) and len(set(tops)) >= 2:
        class_names = sorted(set(tops))
        lookup = {name: i for i, name in enumerate(class_names)}
        labels = np.array([lookup[t] for t in tops], np.int64)
    hashes = np.array([_hash_fraction(f) for f in files])
    is_test = hashes < TEST_FRACTION
    if not is_test.any() and len(files) >= 2:
        is_test[int(np.argmin(hashes))] = True
    splits = {"train": np.flatnonzero(~is_test), "test": np.flatnonzero(is_test)}
    return FolderIndex(root, tuple(files), labels, class_names, splits)


def _stored_gray(path: Path) -> bool | None:
    """Whether a file is stored as grayscale (header only); None if it is unreadable or too small."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return None if min(im.size) < MIN_SOURCE_SIDE else im.mode in GRAY_MODES
    except Exception:
        return None


def _map(fn, items):
    items = list(items)
    if len(items) < 32:
        return [fn(x) for x in items]
    # Pillow releases the GIL while decoding and resizing, so threads scale.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items, chunksize=16))


@lru_cache(maxsize=32)
def _default_channels_cached(root: str, files: tuple, stamp: float) -> int:
    gray = _map(_stored_gray, [Path(root) / f for f in files])
    return 1 if all(g is not False for g in gray) and any(g for g in gray) else 3


def default_channels(index: FolderIndex) -> int:
    """1 when every usable image is stored as grayscale, else 3 (same for both splits)."""
    stamp = max(os.stat(index.root / f).st_mtime for f in index.files)
    return _default_channels_cached(str(index.root), index.files, stamp)


def describe_folder(path) -> DataInfo:
    index = scan_folder(path)
    sizes = {split: int(len(ix)) for split, ix in index.splits.items()}
    classes = f"{len(index.class_names)} classes" if index.class_names else "no labels"
    return DataInfo(
        str(index.root), DEFAULT_IMAGE_SIZE, default_channels(index),
        len(index.class_names) if index.class_names else None, index.class_names, sizes,
        f"image folder with {len(index.files)} files, {classes}",
    )  # fmt: skip


def decode_files(paths: list[Path], image_size: int | None, channels: int, where: str) -> tuple[np.ndarray, list[int]]:
    """Decode many files; returns (stacked uint8 images, indices of the files that were used).

    Unreadable and too-small files are skipped with one UnreadableImagesWarning; none usable ->
    KerasGenError. `where` names the files in messages ("the 'train' split of '/data/cats'")."""

    def attempt(p):
        try:
            return convert_channels(decode_image(p, image_size), channels), None, None
        except TooSmallImageError as err:
            return None, None, f"{p.name}: {err}"
        except Exception as err:  # Pillow raises many types for bad files
            return None, f"{p.name}: {type(err).__name__}: {err}", None

    results = _map(attempt, paths)
    kept = [i for i, (image, _, _) in enumerate(results) if image is not None]
    unreadable = [err for _, err, _ in results if err is not None]
    too_small = [err for _, _, err in results if err is not None]
    report_skipped(len(paths), len(kept), unreadable, too_small, where, stacklevel=3)
    return np.stack([results[i][0] for i in kept]), kept


def split_where(index: FolderIndex, split: str) -> str:
    """How messages name one split of a folder: its files, out of the folder's."""
    return (
        f"the {split!r} split of {str(index.root)!r} ({len(index.splits[split])} of the folder's "
        f"{len(index.files)} image files are in this split)"
    )


def load_folder_uint8(path, split: str, image_size: int | None, channels: int | None, limit: int | None):
    """(uint8 (N, S, S, C), int64 labels (N,) or None) for one split of an image folder."""
    index = scan_folder(path)
    image_size = image_size or DEFAULT_IMAGE_SIZE
    channels = channels or default_channels(index)
    chosen = index.splits[split][:limit]
    if len(chosen) == 0:
        raise KerasGenError(
            f"the {split!r} split of {str(index.root)!r} is empty: the folder has {len(index.files)} image(s) and "
            f"about {TEST_FRACTION:.0%} of files (by a hash of their path) form the test split. Add images"
        )
    images, kept = decode_files(
        [index.root / index.files[i] for i in chosen], image_size, channels, split_where(index, split)
    )
    labels = None if index.labels is None else index.labels[chosen[kept]]
    return images, labels
