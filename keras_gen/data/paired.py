"""Two-domain image sets for translation models: paired (pix2pix) and unpaired (CycleGAN).

Paired sets (`load_paired`), image i of A corresponds to image i of B:
- `path/A/...` and `path/B/...`: files with the same relative path, extension aside, form a pair
  (`A/x.png` with `B/x.jpg`). Pairs are split by a hash of that path, as in folders.py.
- otherwise every image under `path` holds a pair side by side, A on the left half and B on the
  right (the pix2pix data sets' format: facades, maps, edges2shoes). If `path/train` exists,
  it is the train split and `path/test` (else `path/val`) the test split; otherwise files are
  split by hash.

Unpaired sets (`load_unpaired`), A and B are independent collections:
- `path/trainA`, `path/trainB`, `path/testA`, `path/testB` (the CycleGAN data sets' layout), or
- `path/A`, `path/B`, each split by hash.

Images are decoded, centre-cropped and resized like any folder (folders.py); default size 64.
Each side may have its own size and channels (`image_size_b`, `channels_b`; by default A's): a
super-resolution set reads A small and B large, a colourisation set A gray and B in colour.
Unreadable files and images (for side-by-side files: halves) whose shorter side is below
folders.MIN_SOURCE_SIDE are skipped with one UnreadableImagesWarning; none usable -> KerasGenError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.data import folders
from keras_gen.data.common import check_channels, check_image_size, check_limit, check_split, prepare_uint8
from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8


def _root(path) -> Path:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise KerasGenError(f"two-domain data folder {str(root)!r} does not exist or is not a folder")
    return root


def _domain_channels(index: folders.FolderIndex, channels) -> int:
    return check_channels(channels, folders.default_channels(index))


def _load_index(index: folders.FolderIndex, idx, size, channels: int, where: str) -> tuple[np.ndarray, list]:
    return folders.decode_files([index.root / index.files[i] for i in idx], size, channels, where)


def is_cyclegan_layout(root: Path) -> bool:
    """Whether `root` holds trainA and trainB (the CycleGAN layout); KerasGenError when it does
    but lacks testA or testB, which the layout needs for its test split (previews, evaluation)."""
    if not ((root / "trainA").is_dir() and (root / "trainB").is_dir()):
        return False
    missing = [d for d in ("testA", "testB") if not (root / d).is_dir()]
    if missing:
        names = " and ".join(missing)
        raise KerasGenError(
            f"{str(root)!r} has the CycleGAN layout (trainA, trainB), which also needs testA and testB for the test "
            f"split (the previews and evaluation read it); {names} {'is' if len(missing) == 1 else 'are'} missing. "
            f"Add {names} with a few images each, or rename trainA and trainB to A and B, which are split by hash"
        )
    return True


def _side_sizes(image_size, channels, image_size_b, channels_b):
    """((size, channels) of A, of B): B's default to A's."""
    size = check_image_size(image_size, folders.DEFAULT_IMAGE_SIZE)
    size_b = size if image_size_b is None else check_image_size(image_size_b, folders.DEFAULT_IMAGE_SIZE)
    return (size, channels), (size_b, channels if channels_b is None else channels_b)


def load_unpaired(path, split: str = "train", image_size=None, channels=None, limit=None, image_size_b=None,
                  channels_b=None):
    """(images_a, images_b): float32 [-1, 1] arrays of the two domains, in general of different lengths."""
    root, split, limit = _root(path), check_split(split), check_limit(limit)
    sides = _side_sizes(image_size, channels, image_size_b, channels_b)
    cyclegan = is_cyclegan_layout(root)
    if not cyclegan and not ((root / "A").is_dir() and (root / "B").is_dir()):
        raise KerasGenError(
            f"{str(root)!r} is not an unpaired set: it needs subfolders A and B (or trainA, trainB, testA, testB)"
        )
    out = []
    for domain, (size, channels) in zip(("A", "B"), sides):
        folder = root / (f"{split}{domain}" if cyclegan else domain)
        index = folders.scan_folder(folder)
        idx = np.arange(len(index.files)) if cyclegan else index.splits[split]
        if len(idx) == 0:
            raise KerasGenError(f"domain {domain} of {str(root)!r} has no images in its {split!r} split; add images")
        where = repr(str(folder)) if cyclegan else folders.split_where(index, split)
        images, _ = _load_index(index, idx[:limit], size, _domain_channels(index, channels), where)
        out.append(from_uint8(images))
    return out[0], out[1]


def _split_halves(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = array.shape[1] // 2
    return array[:, :half], array[:, half : 2 * half]


def _decode_halves(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A side-by-side file -> (left, right) uint8 halves; TooSmallImageError if a half is too small."""
    left, right = _split_halves(folders.decode_image(path, None))
    try:
        folders.check_min_side(left.shape[1], left.shape[0])
    except folders.TooSmallImageError as err:
        raise folders.TooSmallImageError(f"{err} per half") from None
    return left, right


def _side_by_side(root: Path, split: str, sides, limit):
    held_out = next((root / d for d in ("test", "val") if (root / d).is_dir()), None)
    if (root / "train").is_dir() and held_out is not None:
        index = folders.scan_folder(root / "train" if split == "train" else held_out)
        idx, where = np.arange(len(index.files)), repr(str(index.root))
    else:
        index = folders.scan_folder(root)
        idx, where = index.splits[split], folders.split_where(index, split)
    (size_a, channels_a), (size_b, channels_b) = sides
    channels_a, channels_b = _domain_channels(index, channels_a), _domain_channels(index, channels_b)
    a, b, unreadable, too_small = [], [], [], []
    for i in idx[:limit]:
        try:
            left, right = _decode_halves(index.root / index.files[i])
        except folders.TooSmallImageError as err:
            too_small.append(f"{index.files[i]}: {err}")
            continue
        except Exception as err:  # Pillow raises many types for bad files
            unreadable.append(f"{index.files[i]}: {type(err).__name__}: {err}")
            continue
        a.append(prepare_uint8(left[None], size_a, channels_a)[0])
        b.append(prepare_uint8(right[None], size_b, channels_b)[0])
    folders.report_skipped(len(idx[:limit]), len(a), unreadable, too_small, f"side-by-side pairs in {where}")
    return np.stack(a), np.stack(b)


def load_paired(path, split: str = "train", image_size=None, channels=None, limit=None, image_size_b=None,
                channels_b=None):
    """(images_a, images_b): aligned float32 [-1, 1] arrays, pair i = (images_a[i], images_b[i])."""
    root, split, limit = _root(path), check_split(split), check_limit(limit)
    sides = _side_sizes(image_size, channels, image_size_b, channels_b)
    (size_a, channels_a), (size_b, channels_b) = sides
    if not ((root / "A").is_dir() and (root / "B").is_dir()):
        a, b = _side_by_side(root, split, sides, limit)
        return from_uint8(a), from_uint8(b)
    ia, ib = folders.scan_folder(root / "A"), folders.scan_folder(root / "B")
    stem = lambda f: f.rsplit(".", 1)[0]  # noqa: E731
    where_b = {stem(f): i for i, f in enumerate(ib.files)}
    pairs = [(i, where_b[stem(f)]) for i, f in enumerate(ia.files) if stem(f) in where_b]
    if not pairs:
        raise KerasGenError(f"no pairs in {str(root)!r}: files in A and B must share names (A/x.png with B/x.jpg)")
    keys = [stem(ia.files[i]) for i, _ in pairs]
    hashes = np.array([folders._hash_fraction(k) for k in keys])
    in_test = hashes < folders.TEST_FRACTION
    if not in_test.any() and len(pairs) >= 2:
        in_test[int(np.argmin(hashes))] = True
    chosen = [p for p, t in zip(pairs, in_test, strict=True) if t == (split == "test")][:limit]
    if not chosen:
        raise KerasGenError(f"the {split!r} split of {str(root)!r} has no pairs ({len(pairs)} in all); add pairs")

    def where(index):
        return f"the {split!r} split of {str(index.root)!r} ({len(chosen)} of its {len(pairs)} pairs)"

    a, kept_a = _load_index(ia, [i for i, _ in chosen], size_a, _domain_channels(ia, channels_a), where(ia))
    b, kept_b = _load_index(ib, [j for _, j in chosen], size_b, _domain_channels(ib, channels_b), where(ib))
    both = sorted(set(kept_a) & set(kept_b))  # a pair with an unusable side is dropped whole
    if not both:
        raise KerasGenError(
            f"no usable pairs in the {split!r} split of {str(root)!r}: every pair has an unusable side in A or B. "
            f"keras-gen loads {folders.usable_files_rule()}"
        )
    a = a[[kept_a.index(k) for k in both]]
    b = b[[kept_b.index(k) for k in both]]
    return from_uint8(a), from_uint8(b)


def pair_dataset(images_a, images_b, batch_size=1, shuffle=True, seed=0, paired=True, repeat=False,
                 drop_remainder=True):  # fmt: skip
    """A `tf.data.Dataset` of (a, b) batches. Paired: aligned pairs, shuffled together. Unpaired:
    each domain shuffled on its own; an epoch is as long as the larger domain (the smaller repeats)."""
    import tensorflow as tf

    n = max(len(images_a), len(images_b))
    if drop_remainder and (len(images_a) if paired else n) < batch_size:
        raise KerasGenError(f"fewer images than batch_size={batch_size}; lower the batch size")
    if paired:
        ds = tf.data.Dataset.from_tensor_slices((images_a, images_b))
        ds = ds.shuffle(len(images_a), seed=seed) if shuffle else ds
    else:
        parts = []
        for k, images in enumerate((images_a, images_b)):
            part = tf.data.Dataset.from_tensor_slices(images)
            part = part.shuffle(len(images), seed=seed + k) if shuffle else part
            parts.append(part.repeat())
        ds = tf.data.Dataset.zip(tuple(parts)).take(n)
    ds = ds.repeat() if repeat else ds
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
