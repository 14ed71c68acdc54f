"""Data at scale: a source packed into TFRecord shards, read interleaved, cached and prefetched.

    keras-gen data pack SOURCE --out SHARDS/ [--shard-mb 100] [--image-size N] [--paired]
    keras-gen train MODEL --data SHARDS/ ...

A packed set is a folder:

    SHARDS/index.json                    what it holds (below): the only file a reader opens first
    SHARDS/train-00000-of-00004.tfrecord one tf.train.Example per image: "image" (raw uint8 bytes,
    SHARDS/test-00000-of-00001.tfrecord  H x W x C, row-major), "label" (int64, -1 without labels)
                                         and, for pairs, "image_b" (B's raw bytes)

    {"format": "keras-gen-shards", "version": 1, "kind": "images" | "paired",
     "image_shape": [H, W, C], "image_shape_b": [H, W, C] | null, "num_classes": 10 | null,
     "class_names": [...] | null, "source": "digits", "splits": {"train": {"count": N,
     "files": [...], "bytes": ...}, "test": {...}}}

Images are stored decoded, at the size they were packed at (the source's default size unless
--image-size says otherwise): reading costs a parse and a reshape, no decoding, so the input
outruns a training step (benchmarks/data_throughput.py measures it). A model that asks for another
size or channel count gets them converted in the pipeline (crop to its aspect and antialiased
resize, as every source does). Shards hold about --shard-mb megabytes each; several shards let
the workers of a multi-worker job read disjoint files (tf.data auto-shards by file) and let one
reader interleave them.

The pack is written to a temporary folder beside --out and renamed into place when complete, so
a packing that stops half way leaves no half-written set under the final name.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from keras_gen.data.common import SPLITS, DataInfo, check_channels, check_image_size
from keras_gen.errors import KerasGenError

INDEX, FORMAT, VERSION = "index.json", "keras-gen-shards", 1
DEFAULT_SHARD_MB = 100
CHUNK = 1024  # images decoded at a time while packing: memory stays flat for any source size
# A split whose decoded images fit in this many bytes is cached in memory after its first pass;
# a larger one is streamed from the shards every epoch. KERAS_GEN_SHARD_CACHE_MB overrides it.
CACHE_BYTES = int(os.environ.get("KERAS_GEN_SHARD_CACHE_MB", "2048")) * 2**20
SHUFFLE_BUFFER = 10_000


# -- reading the index ------------------------------------------------------------------------------
def is_shards(path) -> bool:
    """Whether `path` is a folder packed by `pack` (it holds an index.json of this format)."""
    index = Path(os.path.expanduser(str(path))) / INDEX
    if not index.is_file():
        return False
    try:
        return json.loads(index.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_index(path) -> dict:
    root = Path(os.path.expanduser(str(path)))
    try:
        index = json.loads((root / INDEX).read_text())
    except (OSError, ValueError) as err:
        raise KerasGenError(f"{root / INDEX} cannot be read ({err}); pack the set again with keras-gen data pack.") from None
    if index.get("format") != FORMAT or index.get("version") != VERSION:
        raise KerasGenError(f"{root} is not a keras-gen shard set of version {VERSION}; pack it again with this "
                            "version's keras-gen data pack.")
    missing = [f for split in index["splits"].values() for f in split["files"] if not (root / f).is_file()]
    if missing:
        raise KerasGenError(f"{root} lacks shard(s) its index lists ({', '.join(missing[:3])}"
                            f"{' ...' if len(missing) > 3 else ''}); copy the whole folder, or pack it again.")
    return index


def describe_shards(path) -> DataInfo:
    index = read_index(path)
    height, width, channels = index["image_shape"]
    return DataInfo(str(path), height if height == width else (height, width), channels, index.get("num_classes"),
                    index.get("class_names"), {s: int(v["count"]) for s, v in index["splits"].items()},
                    f"TFRecord shards of {index.get('source')!r} ({index['kind']}, {height}x{width}x{channels})")


# -- packing ---------------------------------------------------------------------------------------
def _example(image: np.ndarray, label: int, image_b: np.ndarray | None = None) -> bytes:
    import tensorflow as tf

    feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
               "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}
    if image_b is not None:
        feature["image_b"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_b.tobytes()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _image_chunks(source, split: str, image_size, channels, seed: int, data_dir):
    """(uint8 images (n, H, W, C), int64 labels (n,) or None) of one split, CHUNK at a time for
    folders and TFDS sets (never the whole split in memory), at once for the bundled sets."""
    from keras_gen.data import folders, tfds_source
    from keras_gen.data.loading import _load_uint8, resolve_source

    kind, name = resolve_source(source)
    if kind == "folder":
        index = folders.scan_folder(name)
        size = check_image_size(image_size, folders.DEFAULT_IMAGE_SIZE)
        channels = check_channels(channels, folders.default_channels(index))
        chosen = index.splits[split]
        for start in range(0, len(chosen), CHUNK):
            part = chosen[start:start + CHUNK]
            images, kept = folders.decode_files([index.root / index.files[i] for i in part], size, channels,
                                                folders.split_where(index, split))
            yield images, None if index.labels is None else index.labels[part[kept]]
    elif kind == "tfds":
        dataset, info, _ = tfds_source.tfds_pipeline(name, split, image_size, channels, None, data_dir)
        for images, labels in dataset.batch(CHUNK).as_numpy_iterator():
            yield images, labels.astype(np.int64) if info.has_labels else None
    else:
        images, labels, _ = _load_uint8(source, split, image_size, channels, None, seed, data_dir, None)
        yield images, labels


def _pair_chunks(source, split: str, image_size, channels):
    from keras_gen.data.paired import load_paired
    from keras_gen.images import to_uint8

    images_a, images_b = load_paired(source, split, image_size=image_size, channels=channels)
    yield to_uint8(images_a), to_uint8(images_b)


def pack(source, out, *, shard_mb: float = DEFAULT_SHARD_MB, image_size=None, channels=None, paired: bool = False,
         seed: int = 0, data_dir=None) -> dict:
    """Write `source` (any --data source; with `paired`, a paired folder) as TFRecord shards of
    about `shard_mb` megabytes in `out`, with index.json. Returns the index."""
    import tensorflow as tf

    from keras_gen import __version__
    from keras_gen.data.loading import describe

    out = Path(os.path.expanduser(str(out)))
    if not shard_mb or shard_mb <= 0:
        raise KerasGenError(f"--shard-mb must be a positive number of megabytes, got {shard_mb}.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise KerasGenError(f"{out} already exists and is not an empty folder; choose another --out (a packed set "
                            "is written once, whole).")
    info = None if paired else describe(source, data_dir=data_dir)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    limit = int(shard_mb * 2**20)
    index = {"format": FORMAT, "version": VERSION, "kind": "paired" if paired else "images", "source": str(source),
             "image_shape": None, "image_shape_b": None, "num_classes": None if paired else info.num_classes,
             "class_names": None if paired else info.class_names, "splits": {},
             "keras_gen_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        for split in SPLITS:
            files, count, written, writer, size = [], 0, 0, None, 0
            chunks = _pair_chunks(source, split, image_size, channels) if paired else \
                _image_chunks(source, split, image_size, channels, seed, data_dir)
            for first, second in chunks:
                index["image_shape"] = list(first.shape[1:])
                if paired:
                    index["image_shape_b"] = list(second.shape[1:])
                for i in range(len(first)):
                    record = _example(first[i], -1 if paired or second is None else second[i],
                                      second[i] if paired else None)
                    if writer is None or size + len(record) > limit:
                        if writer is not None:
                            writer.close()
                        files.append(f"{split}-{len(files):05d}.tfrecord")
                        writer, size = tf.io.TFRecordWriter(str(tmp / files[-1])), 0
                    writer.write(record)
                    size += len(record)
                    written += len(record)
                    count += 1
            if writer is not None:
                writer.close()
            # Final names say how many shards there are, as TFDS's do.
            named = [f"{split}-{i:05d}-of-{len(files):05d}.tfrecord" for i in range(len(files))]
            for old, new in zip(files, named):
                os.replace(tmp / old, tmp / new)
            index["splits"][split] = {"count": count, "files": named, "bytes": written}
        if not index["splits"]["train"]["count"]:
            raise KerasGenError(f"{source!r} has no train images to pack.")
        (tmp / INDEX).write_text(json.dumps(index, indent=2))
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return index


# -- reading ---------------------------------------------------------------------------------------
def _parse(index: dict):
    """A function: serialized Example -> (uint8 image (H, W, C), int64 label[, uint8 image_b])."""
    import tensorflow as tf

    spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
    if index["kind"] == "paired":
        spec["image_b"] = tf.io.FixedLenFeature([], tf.string)
    shape, shape_b = index["image_shape"], index.get("image_shape_b")

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        image = tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), shape)
        if index["kind"] == "paired":
            return image, example["label"], tf.reshape(tf.io.decode_raw(example["image_b"], tf.uint8), shape_b)
        return image, example["label"]

    return parse


def _converter(stored: list, image_size, channels):
    """A function: uint8 image at its stored shape -> at (image_size, channels), or None when they
    are the stored ones (no work in the pipeline)."""
    from keras_gen.core.images import image_hw
    from keras_gen.data.common import prepare_uint8_tf

    height, width, stored_channels = stored
    size = check_image_size(image_size, height if height == width else (height, width))
    channels = check_channels(channels, stored_channels)
    if tuple(image_hw(size)) == (height, width) and channels == stored_channels:
        return None
    return lambda image: prepare_uint8_tf(image, size, channels)


def records(path, split: str, *, shuffle_files: bool = False, seed: int = 0, interleave: bool = True):
    """The split's records interleaved from its shards (in file order, or shuffled by `seed`),
    auto-sharded by file across the workers of a multi-worker job when there are enough files.
    `interleave=False` reads them one file after another: the images in the order they were packed."""
    import tensorflow as tf

    root = Path(os.path.expanduser(str(path)))
    index = read_index(root)
    files = [str(root / f) for f in index["splits"][split]["files"]]
    if not files:
        raise KerasGenError(f"{root} holds no {split!r} images.")
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        dataset = dataset.shuffle(len(files), seed=int(seed), reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8) if interleave else 1,
                                 block_length=16,
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (tf.data.experimental.AutoShardPolicy.FILE if len(files) > 1
                                                         else tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options), index


def shards_pipeline(path, split: str, image_size=None, channels=None, limit=None, seed: int = 0,
                    shuffle_files: bool = False, interleave: bool = True):
    """(tf.data.Dataset of (uint8 image, int64 label), DataInfo, count), as tfds_pipeline gives for
    a TFDS set: images at (image_size, channels), cached in memory when the split fits CACHE_BYTES."""
    import tensorflow as tf

    dataset, index = records(path, split, shuffle_files=shuffle_files, seed=seed, interleave=interleave)
    if index["kind"] != "images":
        raise KerasGenError(f"{path} holds {index['kind']} images (A and B); pass it to a model that trains on "
                            "paired images.")
    convert = _converter(index["image_shape"], image_size, channels)
    dataset = dataset.map(_parse(index), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if convert is not None:
        dataset = dataset.map(lambda image, label: (convert(image), label), num_parallel_calls=tf.data.AUTOTUNE,
                              deterministic=True)
    count = int(index["splits"][split]["count"])
    if limit:
        dataset, count = dataset.take(int(limit)), min(count, int(limit))
    stored = int(np.prod(index["image_shape"]))
    if count * stored <= CACHE_BYTES:
        dataset = dataset.cache()
    return dataset, describe_shards(path), count


def load_shards_uint8(path, split: str, image_size=None, channels=None, limit=None):
    """(uint8 images (N, H, W, C), int64 labels or None): one split read into memory, in the order
    it was packed (the first N test images are the source's)."""
    dataset, info, _ = shards_pipeline(path, split, image_size, channels, limit, interleave=False)
    images, labels = [], []
    for x, y in dataset.batch(CHUNK).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    if not images:
        raise KerasGenError(f"{path} holds no {split!r} images.")
    return np.concatenate(images), np.concatenate(labels) if info.has_labels else None


def load_shards_pairs(path, split: str, image_size=None, channels=None, limit=None, image_size_b=None,
                      channels_b=None):
    """(images_a, images_b) float32 [-1, 1] of a packed paired set, each side at its shape."""
    import tensorflow as tf

    from keras_gen.images import from_uint8

    dataset, index = records(path, split, interleave=False)
    if index["kind"] != "paired":
        raise KerasGenError(f"{path} holds single images, not pairs; pack a paired folder with --paired.")
    convert_a = _converter(index["image_shape"], image_size, channels)
    convert_b = _converter(index["image_shape_b"], image_size_b if image_size_b is not None else image_size,
                           channels_b if channels_b is not None else channels)
    dataset = dataset.map(_parse(index), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if limit:
        dataset = dataset.take(int(limit))
    sides = ([], [])
    for a, _, b in dataset.batch(CHUNK).as_numpy_iterator():
        sides[0].append(a if convert_a is None else np.stack([convert_a(x).numpy() for x in a]))
        sides[1].append(b if convert_b is None else np.stack([convert_b(x).numpy() for x in b]))
    if not sides[0]:
        raise KerasGenError(f"{path} holds no {split!r} pairs.")
    return tuple(from_uint8(np.concatenate(side)) for side in sides)
