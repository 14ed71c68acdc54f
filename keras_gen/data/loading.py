"""The one entry point: a source string -> numpy arrays or a `tf.data.Dataset` of [-1, 1] images.

    source   "digits" | "shapes" | "photos" | "textures"   bundled, offline (see bundled.py)
             "tfds:NAME"                                     TensorFlow Datasets (tfds_source.py)
             a folder path                                   image files (folders.py)
             a folder packed by `keras-gen data pack`        TFRecord shards (shards.py)

The bundled two-domain sets ("shapes_maps", "edges2photos", "digits_ink": translation_sets.py)
hold pairs or two domains, not one collection of images: the translation models train on them
(training_data.py), `load_paired` / `load_unpaired` read them, and the functions here refuse
them with a message saying so.

A bundled name wins over a folder of the same name: write "./digits" for the folder.

Every source has the splits "train" and "test" (evaluation compares train against test for a
real-vs-real floor). `seed` picks the samples of generated sources (shapes, photo and texture
crops) and the shuffle order in `load_dataset`; fixed sets (digits, TFDS, folders) return the
same images whatever the seed, and no split ever depends on it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_gen.data import bundled, folders, shards, tfds_source, translation_sets
from keras_gen.data.common import DataInfo, check_channels, check_image_size, check_limit, check_split, split_seed
from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8

SOURCES = {
    "digits": "scikit-learn's handwritten digits: 1,797 8x8 images (32x32 by default), labels 0-9",
    "shapes": "procedurally drawn coloured shapes (32x32 by default, any size), labelled by shape",
    "photos": "random crops of scikit-image's colour photographs (64x64 by default), labelled by photo",
    "textures": "random patches of scikit-image's grayscale textures (64x64 by default), labelled by texture",
}
SHUFFLE_BUFFER = 10_000  # for streamed (TFDS) sources; in-memory sources shuffle fully


def _valid_choices() -> str:
    return (", ".join(SOURCES) + ", tfds:NAME (e.g. tfds:mnist, tfds:cifar10) or a path to a folder of images "
            f"(two-domain sets for translation models: {', '.join(translation_sets.TRANSLATION_SETS)})")


def resolve_source(source) -> tuple[str, str]:
    """("bundled" | "translation" | "tfds" | "folder" | "shards", name or path); KerasGenError for anything else."""
    from keras_gen.data.shards import is_shards

    if isinstance(source, Path):
        return ("shards" if is_shards(source) else "folder"), str(source)
    if not isinstance(source, str) or not source.strip():
        raise KerasGenError(f"data source must be a non-empty string; valid sources: {_valid_choices()}")
    source = source.strip()
    if source in SOURCES:
        return "bundled", source
    if translation_sets.is_translation_set(source):
        return "translation", source
    if source.lower().startswith(tfds_source.PREFIX):
        return "tfds", source[len(tfds_source.PREFIX) :].strip()
    looks_like_path = any(sep in source for sep in ("/", os.sep)) or source.startswith((".", "~"))
    if looks_like_path or os.path.exists(os.path.expanduser(source)):
        return ("shards" if is_shards(source) else "folder"), source
    hint = f" Did you mean 'tfds:{source}'?" if source.replace("_", "").replace("/", "").isalnum() else ""
    raise KerasGenError(f"unknown data source {source!r}: choose one of {_valid_choices()}.{hint}")


def describe(source, data_dir: str | None = None, download: bool | None = None) -> DataInfo:
    """What `source` holds: default size, channels, classes and split sizes (no images decoded)."""
    kind, name = resolve_source(source)
    if kind == "bundled":
        return bundled.describe_bundled(name)
    if kind == "translation":
        return translation_sets.describe_translation_set(name)
    if kind == "tfds":
        return tfds_source.describe_tfds(name, data_dir, download)
    if kind == "shards":
        return shards.describe_shards(name)
    return folders.describe_folder(name)


def _two_domain_error(name: str) -> KerasGenError:
    kind = translation_sets.translation_kind(name)
    return KerasGenError(
        f"{name!r} is a {kind} set of two domains (A and B), not one collection of images: train a {kind} "
        f"translation model on it ({'pix2pix' if kind == 'paired' else 'cyclegan'}), or read it with "
        f"keras_gen.data.load_{kind}({name!r}).")


def _load_uint8(source, split, image_size, channels, limit, seed, data_dir, download):
    kind, name = resolve_source(source)
    if kind == "translation":
        raise _two_domain_error(name)
    split, limit = check_split(split), check_limit(limit)
    split_seed(seed, split)  # validates the seed for every source
    if kind == "tfds":
        return tfds_source.load_tfds_uint8(name, split, image_size, channels, limit, data_dir, download)
    if kind == "shards":
        return (*shards.load_shards_uint8(name, split, image_size, channels, limit), shards.describe_shards(name))
    info = describe(source)
    size = check_image_size(image_size, info.default_image_size)
    channels = check_channels(channels, info.channels)
    if kind == "bundled":
        images, labels = bundled.load_bundled_uint8(name, split, size, channels, limit, seed)
    else:
        images, labels = folders.load_folder_uint8(name, split, size, channels, limit)
    return images, labels, info


def load_arrays(
    source,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    download: bool | None = None,
):
    """Load one split into memory.

    Returns (images float32 (N, S, S, C) in [-1, 1], labels int64 (N,) or None, DataInfo).
    `image_size`/`channels` None keep the source's defaults (`describe(source)`); `limit` keeps
    the first N images of the split; `download` only matters for TFDS names (tfds_source.py).
    """
    images, labels, info = _load_uint8(source, split, image_size, channels, limit, seed, data_dir, download)
    return from_uint8(images), labels, info


def load_dataset(
    source,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    with_labels: bool = False,
    repeat: bool = False,
    drop_remainder: bool = True,
    cache: bool = True,
    data_dir: str | None = None,
    limit: int | None = None,
    download: bool | None = None,
):
    """A batched `tf.data.Dataset` of float32 (B, S, S, C) images in [-1, 1].

    Yields `images`, or `(images, labels)` with int64 labels when `with_labels=True` (a
    KerasGenError for sources without labels). Pipeline: uint8 examples -> cache (uint8: 4x
    smaller than float) -> seeded shuffle, reshuffled each epoch -> repeat -> batch -> to [-1, 1]
    -> prefetch. TFDS sources stream from disk; the others are decoded into memory first.
    """
    import tensorflow as tf

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise KerasGenError(f"batch_size must be a positive integer, got {batch_size!r}")
    kind, name = resolve_source(source)
    split, limit = check_split(split), check_limit(limit)
    split_seed(seed, split)
    if kind == "translation":
        raise _two_domain_error(name)
    if kind == "tfds":
        ds, info, count = tfds_source.tfds_pipeline(name, split, image_size, channels, limit, data_dir, download)
        buffer = min(count or SHUFFLE_BUFFER, SHUFFLE_BUFFER)
    elif kind == "shards":  # streamed, interleaved over its files; cached by shards_pipeline where it fits
        ds, info, count = shards.shards_pipeline(name, split, image_size, channels, limit, seed, shuffle_files=shuffle)
        buffer, cache = min(count or SHUFFLE_BUFFER, SHUFFLE_BUFFER), False
    else:
        if with_labels and not describe(source).has_labels:
            raise _no_labels(source)
        images, labels, info = _load_uint8(source, split, image_size, channels, limit, seed, data_dir, download)
        count = buffer = len(images)
        if labels is None:
            labels = np.full(len(images), -1, np.int64)
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if with_labels and not info.has_labels:
        raise _no_labels(source)
    if drop_remainder and count is not None and count < batch_size:
        raise KerasGenError(
            f"{info.name!r} has {count} images in its {split!r} split, fewer than batch_size={batch_size}; "
            "lower the batch size, raise the limit, or pass drop_remainder=False"
        )
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(max(buffer, 1), seed=int(seed), reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    if with_labels:
        ds = ds.map(lambda x, y: (from_uint8(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y: from_uint8(x), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _no_labels(source) -> KerasGenError:
    return KerasGenError(
        f"data source {str(source)!r} has no labels, so with_labels=True (a conditional model) cannot use it. "
        "Use a labelled source (digits, shapes, photos, textures, a labelled TFDS set) or a folder with one "
        "subfolder per class"
    )
