"""TensorFlow Datasets by name: `tfds:mnist`, `tfds:cifar10`, `tfds:celeb_a`, ...

Real `tensorflow_datasets.load` code, for machines that have the data or the network. Offline
first: before anything is downloaded the builder is asked whether the data set is already
prepared in `data_dir` (`builder.is_prepared()`, a directory check). If it is not, a download
is tried only when allowed:

    download=True    try (a failure becomes a KerasGenError that says what to do)
    download=False   never: raise at once
    download=None    (default) try only if the TFDS host answers a TCP connect within 3 s and
                     the environment does not set KERAS_GEN_OFFLINE=1

so a machine without network gets the instructions in seconds instead of a hang or a retry
loop. `tensorflow_datasets` is imported lazily: the bundled sources never pay for it.

Splits: "train" is TFDS's train split; "test" is its test split, else its validation split,
else the last 10% of train (and "train" the first 90%).

Two domains: a data set whose splits are trainA, trainB, testA and testB (TFDS's `cycle_gan`
configs: `tfds:cycle_gan/horse2zebra`, `tfds:cycle_gan/maps`, ...) is an unpaired two-domain set,
domain A from the *A splits and B from the *B splits (`load_tfds_domains_uint8`). TFDS has no
paired image-to-image sets: the pix2pix data sets (facades, maps, edges2shoes) are side-by-side
A|B files, read as a folder (`no_paired_tfds_message`).
"""

from __future__ import annotations

import os
import socket
import threading

from keras_gen.data.common import DataInfo
from keras_gen.errors import KerasGenError

PREFIX = "tfds:"
DEFAULT_IMAGE_SIZE = 64  # for data sets whose images are not fixed squares
PROBE_HOST, PROBE_TIMEOUT_S = ("storage.googleapis.com", 443), 3.0


def network_available(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the TFDS download host answers within `timeout` (DNS included: it runs in a thread)."""
    if os.environ.get("KERAS_GEN_OFFLINE", "").strip() not in ("", "0"):
        return False
    result = []

    def probe():
        try:
            socket.create_connection(PROBE_HOST, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:  # pragma: no cover - it is a declared dependency
        raise KerasGenError("TFDS sources need tensorflow-datasets: pip install tensorflow-datasets") from err
    return tfds


def _how_to_provide(name: str, root: str) -> str:
    return (
        f"On a machine with network run `tfds build {name} --data_dir {root}` (or in Python: "
        f"tensorflow_datasets.load('{name}', data_dir='{root}')), copy that folder here, and pass "
        f"--data-dir {root} (data_dir= in Python). Offline alternatives: a bundled set "
        "(digits, shapes, photos, textures) or a folder of images."
    )


def _builder(name: str, data_dir):
    tfds = _import_tfds()
    if not name:
        raise KerasGenError("empty TFDS name: write tfds:NAME, e.g. tfds:mnist or tfds:cifar10")
    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # DatasetNotFoundError, bad config/version strings
        if name.split("/")[0].lower() == "pix2pix":
            raise KerasGenError(no_paired_tfds_message(name)) from None
        raise KerasGenError(
            f"unknown TFDS data set {name!r} ({type(err).__name__}). See the catalogue at "
            "https://www.tensorflow.org/datasets/catalog/overview for names, e.g. tfds:mnist, tfds:cifar10"
        ) from None


TWO_DOMAIN_SPLITS = {"train": ("trainA", "trainB"), "test": ("testA", "testB")}


def no_paired_tfds_message(name: str) -> str:
    """What to pass instead of a TFDS name for paired data."""
    return (f"TFDS has no paired image-to-image data set ({name!r}): the pix2pix sets (facades, maps, "
            "edges2shoes, ...) are side-by-side A|B images. Download and extract one (e.g. facades.tar.gz from the "
            "pix2pix data sets page) and pass its folder, --data path/facades (its train/ and val/ or test/ are the "
            "splits); tfds:cycle_gan/facades is the unpaired version, for cyclegan.")


def is_two_domain(name: str) -> bool:
    """Whether TFDS set `name` holds two domains in trainA/trainB/testA/testB splits (cycle_gan/*),
    from its builder's name (known offline: its splits are only listed once prepared)."""
    return name.split("/")[0].split(":")[0].lower() == "cycle_gan"


def describe_tfds_domains(name: str, data_dir=None, download=None) -> DataInfo:
    """DataInfo of a two-domain TFDS set: its A image features, split sizes the larger domain's."""
    builder = _builder(name, data_dir)
    _ensure_prepared(builder, name, data_dir, download)
    info = _info(builder, name)
    sizes = {}
    for split, (a, b) in TWO_DOMAIN_SPLITS.items():
        try:
            sizes[split] = max(int(builder.info.splits[a].num_examples), int(builder.info.splits[b].num_examples))
        except Exception:
            sizes[split] = None
    return DataInfo(info.name, info.default_image_size, info.channels, None, None, sizes, info.description)


def load_tfds_domains_uint8(name: str, split: str, image_size=None, channels=None, limit=None, image_size_b=None,
                            channels_b=None, data_dir=None, download=None):
    """(uint8 images of domain A, of domain B) of one split of a two-domain TFDS set, each side at
    its size and channels (B's default to A's)."""
    if not is_two_domain(name):
        raise KerasGenError(f"TFDS data set {name!r} is one domain; two-domain TFDS sets have trainA, trainB, testA "
                            "and testB splits (tfds:cycle_gan/horse2zebra). Pass two sources, --data A --data-b B.")
    out = []
    for tfds_split, size, chans in zip(TWO_DOMAIN_SPLITS[split], (image_size, image_size_b or image_size),
                                       (channels, channels_b or channels)):
        images, _, _ = load_tfds_uint8(name, split, size, chans, limit, data_dir, download, tfds_split=tfds_split)
        out.append(images)
    return out[0], out[1]


def _root(builder, data_dir) -> str:
    return str(getattr(builder, "data_dir_root", None) or data_dir or "~/tensorflow_datasets")


def _ensure_prepared(builder, name: str, data_dir, download) -> None:
    if builder.is_prepared():
        return
    root = _root(builder, data_dir)
    if download is None:
        download = network_available()
        reason = "no network connection to the TFDS servers"
    else:
        reason = "downloads are disabled (download=False)"
    if not download:
        raise KerasGenError(
            f"TFDS data set {name!r} is not prepared in {root} and {reason}. " + _how_to_provide(name, root)
        )
    try:
        builder.download_and_prepare()
    except Exception as err:
        raise KerasGenError(
            f"downloading TFDS data set {name!r} into {root} failed ({type(err).__name__}: {str(err)[:200]}). "
            + _how_to_provide(name, root)
        ) from None


def _features(builder):
    """(image key, label key or None, as_supervised) from the builder's feature spec."""
    tfds = _import_tfds()
    features = builder.info.features
    keys = builder.info.supervised_keys
    if (
        isinstance(keys, tuple) and len(keys) == 2 and all(isinstance(k, str) for k in keys)
        and isinstance(features[keys[0]], tfds.features.Image)
    ):  # fmt: skip
        label = keys[1] if isinstance(features[keys[1]], tfds.features.ClassLabel) else None
        return keys[0], label, True
    image_keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if not image_keys:
        raise KerasGenError(f"TFDS data set {builder.name!r} has no image feature; pick an image data set")
    image_key = "image" if "image" in image_keys else image_keys[0]
    label = "label" if isinstance(features.get("label"), tfds.features.ClassLabel) else None
    return image_key, label, False


def _tfds_split(builder, split: str) -> str:
    names = set(builder.info.splits.keys())
    if not names or {"train", "test"} <= names:
        return split
    if "train" in names and "validation" in names:
        return "train" if split == "train" else "validation"
    if "train" in names:
        return "train[:90%]" if split == "train" else "train[90%:]"
    raise KerasGenError(f"TFDS data set {builder.name!r} has no train split (it has {sorted(names)})")


def _split_size(builder, split: str) -> int | None:
    try:
        return int(builder.info.splits[_tfds_split(builder, split)].num_examples)
    except Exception:  # split sizes are unknown until the data set is prepared
        return None


def _info(builder, name: str) -> DataInfo:
    image_key, label_key, _ = _features(builder)
    features = builder.info.features
    h, w, c = features[image_key].shape
    default = h if (h is not None and h == w and 4 <= h <= 1024) else DEFAULT_IMAGE_SIZE
    channels = 1 if c in (1, 2) else 3
    num_classes = class_names = None
    if label_key is not None:
        num_classes = int(features[label_key].num_classes)
        class_names = list(features[label_key].names)
    sizes = {s: _split_size(builder, s) for s in ("train", "test")}
    return DataInfo(PREFIX + name, int(default), channels, num_classes, class_names, sizes,
                    f"TensorFlow Datasets {name!r} from {builder.data_dir}")  # fmt: skip


def describe_tfds(name: str, data_dir=None, download=None) -> DataInfo:
    builder = _builder(name, data_dir)
    _ensure_prepared(builder, name, data_dir, download)
    return _info(builder, name)


def tfds_pipeline(name: str, split: str, image_size, channels, limit, data_dir=None, download=None,
                  tfds_split: str | None = None):
    """(tf.data.Dataset of (uint8 (S, S, C) image, int64 label or -1), DataInfo, number of examples).
    `tfds_split` reads that TFDS split instead of the one `split` maps to (a domain's: trainA)."""
    import tensorflow as tf

    from keras_gen.data.common import check_channels, check_image_size, prepare_uint8_tf

    tfds = _import_tfds()
    builder = _builder(name, data_dir)
    _ensure_prepared(builder, name, data_dir, download)
    info = _info(builder, name)
    image_size = check_image_size(image_size, info.default_image_size)
    channels = check_channels(channels, info.channels)
    image_key, label_key, supervised = _features(builder)
    try:
        ds = tfds.load(name, split=tfds_split or _tfds_split(builder, split), data_dir=data_dir, as_supervised=supervised,
                       shuffle_files=False, download=False)  # fmt: skip
    except Exception as err:
        root = _root(builder, data_dir)
        raise KerasGenError(f"reading TFDS data set {name!r} from {root} failed ({type(err).__name__}: "
                            f"{str(err)[:200]}). " + _how_to_provide(name, root)) from None  # fmt: skip
    if not supervised:
        ds = ds.map(lambda ex: (ex[image_key], ex[label_key] if label_key else tf.constant(-1, tf.int64)))
    elif label_key is None:  # the supervised target is not a class label: drop it
        ds = ds.map(lambda image, _: (image, tf.constant(-1, tf.int64)))
    if limit:
        ds = ds.take(limit)

    def prepare(image, label):
        if image.shape[-1] is None:  # variable channel count: make it RGB
            image = tf.cond(tf.shape(image)[-1] < 3, lambda: tf.tile(image[..., :1], [1, 1, 3]), lambda: image[..., :3])
            image.set_shape([None, None, 3])
        return prepare_uint8_tf(image, image_size, channels), tf.cast(label, tf.int64)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    count = None if tfds_split else info.split_sizes.get(split)
    if count is None:
        cardinality = int(ds.cardinality())
        count = cardinality if cardinality >= 0 else None
    elif limit:
        count = min(count, limit)
    return ds, info, count


def load_tfds_uint8(name: str, split: str, image_size, channels, limit, data_dir=None, download=None,
                    tfds_split: str | None = None):
    """(uint8 images (N, S, S, C), int64 labels or None, DataInfo): the split read into memory."""
    import numpy as np

    ds, info, _ = tfds_pipeline(name, split, image_size, channels, limit, data_dir, download, tfds_split)
    images, labels = [], []
    for x, y in ds.batch(1024).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    if not images:
        raise KerasGenError(f"TFDS data set {name!r} split {split!r} is empty")
    labels = np.concatenate(labels).astype(np.int64) if info.has_labels else None
    return np.concatenate(images), labels, info
