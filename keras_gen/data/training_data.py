"""What a model trains on, built from `--data` (and `--data-b`): one function per question.

A model class declares `data_kind`, one of `DATA_KINDS` below; `train_step` then
receives, per batch:

    "images"     images                  float32 (B, H, W, C) in [-1, 1]
    "labelled"   (images, labels)        labels int64 (B,)
    "paired"     (images_a, images_b)    aligned pairs, A -> B (pix2pix)
    "unpaired"   (images_a, images_b)    two independent domains (CycleGAN)
    "indexed"    (images, indices)       indices int64 (B,): each image's place in the train split,
                                         fixed for the run (GLO keeps one latent per image)
    "attributes" (images, labels, attributes)   labels int64 (B,) the class (shape id), attributes
                                         float32 (B, len(ATTRIBUTES)): how each image was drawn
                                         (the chairs decoder's transformation parameters)
    "degraded"   (inputs, targets)       patches of any image source (targets) and what the model's
                                         degradation makes of them (inputs): super-resolution's
                                         low-resolution images (keras_gen/data/degradations.py)
    "captioned"  (images, captions)      captions int32 (B, max_words): token ids over the model's
                                         vocabulary (keras_gen/core/text.py), one caption per image

Sources, by kind:
- images, labelled: any source of `load_dataset` (bundled name, tfds:NAME, folder); labelled needs
  one with labels (bundled sets, labelled TFDS sets, a folder with one subfolder per class).
- paired: a folder with `A/` and `B/` (files of the same name pair up) or of side-by-side A|B
  images (data/paired.py), or a bundled paired set (`shapes_maps`, `edges2photos`:
  data/translation_sets.py).
- indexed: any source `load_arrays` reads, held in memory (at most MAX_INDEXED_IMAGES train
  images: the model holds one variable per image).
- attributes: the bundled `shapes` set, whose drawing attributes are known (data/shapes.py).
- degraded: any single source, read at full size (data/degradations.py); the model passes its
  `degradation()` (scales, interpolated input) as `degradation`.
- captioned: `shapes`, captioned from its drawing attributes ("a small red triangle in the top
  left", data/captions.py), or a folder with a caption beside each image (NAME.txt, or a
  metadata.jsonl); the model passes its caption input (`text_spec()`) as `text`.
- unpaired: `--data` and `--data-b`, two sources of any kind (each loaded with `load_arrays`), or
  one folder with `A/` and `B/` (or `trainA/`, `trainB/`), a bundled two-domain set (`digits_ink`,
  or the two sides of a paired one) or a two-domain TFDS set (`tfds:cycle_gan/horse2zebra`).

Every dataset is repeated, shuffled with `seed` and batched with drop_remainder, so an epoch is a
number of steps, and the same seed gives the same batches: a resumed run skips the batches the
finished epochs consumed (`dataset.skip`) and sees exactly what an uninterrupted run sees.

Each image is read at the (H, W, C) its model declares for it (`GenerativeModel.data_shapes()`,
passed as `shapes`): one shape for one domain, one per side for two (a super-resolution model
reads A at the low resolution and B at the high one). `image_size` and `channels` are the
shorthand for one shape shared by every side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_gen.data import folders
from keras_gen.data.loading import describe, load_arrays, load_dataset, resolve_source
from keras_gen.data.paired import is_cyclegan_layout, load_paired, load_unpaired, pair_dataset
from keras_gen.errors import KerasGenError

from keras_gen.registry import DATA_KINDS  # what a model's registration may declare as its data_kind  # noqa: E402
TWO_DOMAIN_KINDS = ("paired", "unpaired")
TWO_SIDED_KINDS = (*TWO_DOMAIN_KINDS, "degraded")  # an example holds two images: (input, target)
# A per-image latent table of 100k x 512 floats is 200 MB with its Adam slots tripling it; larger
# sets belong to an amortised encoder, not a table.
MAX_INDEXED_IMAGES = 100_000
# The "attributes" kind's columns, in order: shapes.py's continuous draws and the colour index.
ATTRIBUTES = ("rotation", "size", "x", "y", "colour")
ATTRIBUTE_SOURCES = ("shapes",)

_PAIRED_LAYOUT = ("a bundled paired set (shapes_maps, edges2photos), a folder with subfolders A and B whose files "
                  "pair up by name (A/x.png with B/x.png), or a folder of side-by-side images, A on the left half and "
                  "B on the right")
_UNPAIRED_LAYOUT = ("--data DOMAIN_A --data-b DOMAIN_B (each a bundled name, tfds:NAME or a folder), a bundled "
                    "two-domain set (digits_ink), tfds:cycle_gan/NAME, or --data FOLDER with subfolders A and B (or "
                    "trainA, trainB, testA and testB)")


@dataclass(frozen=True)
class TrainingDataInfo:
    """What the training data of one kind holds, before any image is decoded."""

    kind: str
    default_image_size: int  # side the model gets when no --image-size is given
    channels: int  # 1 or 3; for two domains, 3 if either is RGB (both are loaded with it)
    num_classes: int | None  # None when the source has no labels (and for two domains)
    train_size: int  # examples in one pass over the train split: the default epoch length


def check_data_kind(kind: str) -> str:
    if kind not in DATA_KINDS:
        raise KerasGenError(f"unknown data kind {kind!r}; a model's data_kind is one of {', '.join(DATA_KINDS)}")
    return kind


def _two_domain_source(data) -> str | None:
    """"paired" or "unpaired" for a source that holds two domains by itself (a bundled two-domain
    set, a two-domain TFDS set), "folder" for a folder (its layout says), None otherwise."""
    from keras_gen.data import tfds_source, translation_sets

    kind, name = resolve_source(data)
    if kind == "translation":
        return translation_sets.translation_kind(name)
    if kind == "tfds" and tfds_source.is_two_domain(name):
        return "unpaired"
    return kind if kind in ("folder", "shards") else None  # a packed folder: its pairs say


def _check_sources(kind: str, data, data_b) -> None:
    """Refuse a source that cannot give `kind`, saying what it needs."""
    if data_b is not None and kind != "unpaired":
        raise KerasGenError(
            f"--data-b is the second domain of unpaired models, but this model trains on {kind}; drop --data-b"
            + (f" and pass {_PAIRED_LAYOUT} as --data." if kind == "paired" else ".")
        )
    holds = _two_domain_source(data)
    source, name = resolve_source(data)
    if source == "tfds" and name.split("/")[0].lower() == "pix2pix":
        from keras_gen.data.tfds_source import no_paired_tfds_message

        raise KerasGenError(no_paired_tfds_message(name))
    if kind in TWO_DOMAIN_KINDS and data_b is None and holds is None:
        layout = _PAIRED_LAYOUT if kind == "paired" else _UNPAIRED_LAYOUT
        raise KerasGenError(f"this model trains on {kind} images from two domains, and --data {data!r} is a "
                            f"single-domain data set; pass {layout}.")
    if kind == "paired" and holds == "unpaired":
        raise KerasGenError(f"this model trains on pairs, and --data {data!r} holds two unpaired domains; pass "
                            f"{_PAIRED_LAYOUT}.")
    if holds in TWO_DOMAIN_KINDS and (kind not in TWO_DOMAIN_KINDS or data_b is not None):
        raise KerasGenError(f"--data {data!r} is a {holds} set of two domains, for translation models (pix2pix, "
                            "cyclegan); this model trains on "
                            + (f"{kind}: pass a single-domain source." if data_b is None else
                               "two sources: pass one domain each as --data and --data-b."))


def _two_domain_folders(kind: str, root: Path) -> tuple[Path, Path] | None:
    """The (A, B) folders of a two-domain folder, or None for side-by-side pairs (paired only)."""
    layouts = [("A", "B")] if kind == "paired" else [("trainA", "trainB"), ("A", "B")]
    if kind == "unpaired":
        is_cyclegan_layout(root)  # trainA and trainB without testA and testB: said now, not at the first preview
    for a, b in layouts:
        if (root / a).is_dir() and (root / b).is_dir():
            return root / a, root / b
    if kind == "unpaired":
        raise KerasGenError(f"{str(root)!r} is not an unpaired data set; pass {_UNPAIRED_LAYOUT}.")
    return None


def _folder_facts(folder: Path, whole: bool) -> tuple[int, int]:
    """(channels, train images) of an image folder; `whole`: the folder is a split of its own."""
    index = folders.scan_folder(folder)
    return folders.default_channels(index), len(index.files) if whole else len(index.splits["train"])


def describe_training_data(kind: str, data, data_b=None, *, data_dir=None) -> TrainingDataInfo:
    """Channels, classes, default size and epoch length of the data a model of `kind` trains on.

    Raises KerasGenError, saying what to pass, when the sources cannot give that kind: a
    labelled model on a source without labels, a two-domain model on a single-domain set.
    """
    kind = check_data_kind(kind)
    data = "digits" if data is None else data
    _check_sources(kind, data, data_b)
    if kind == "attributes":
        _check_attribute_source(data)
    if kind == "captioned":
        _check_caption_source(data)
    if kind in ("images", "labelled", "indexed", "attributes", "degraded", "captioned"):
        info = describe(data, data_dir=data_dir)
        if kind == "indexed" and info.split_sizes["train"] > MAX_INDEXED_IMAGES:
            raise KerasGenError(
                f"--data {data!r} has {info.split_sizes['train']} train images, and this model keeps one latent "
                f"variable per image: at most {MAX_INDEXED_IMAGES}. Pass a smaller source (a folder holding a "
                "subset of the images).")
        if kind == "labelled" and not info.has_labels:
            raise KerasGenError(
                f"this model trains on images with labels, and --data {data!r} has none. Pass a labelled source: "
                "digits, shapes, photos, textures, a labelled tfds:NAME, or a folder with one subfolder per class."
            )
        return TrainingDataInfo(kind, info.default_image_size, info.channels,
                                None if kind == "captioned" else info.num_classes, info.split_sizes["train"])
    if data_b is not None:
        infos = [describe(source, data_dir=data_dir) for source in (data, data_b)]
        return TrainingDataInfo(kind, infos[0].default_image_size, max(i.channels for i in infos), None,
                                max(i.split_sizes["train"] for i in infos))
    if resolve_source(data)[0] == "shards":  # pairs packed by `keras-gen data pack --paired` (data/shards.py)
        return _packed_pairs_info(kind, data)
    if _two_domain_source(data) in TWO_DOMAIN_KINDS:  # a bundled set, or a TFDS one
        from keras_gen.data import tfds_source

        source, name = resolve_source(data)
        info = tfds_source.describe_tfds_domains(name, data_dir) if source == "tfds" else describe(data)
        return TrainingDataInfo(kind, info.default_image_size, info.channels, None, info.split_sizes["train"] or 1)
    root = Path(data).expanduser()
    if not root.is_dir():
        raise KerasGenError(f"two-domain data folder {str(root)!r} does not exist or is not a folder")
    domains = _two_domain_folders(kind, root)
    if domains is None:  # side-by-side pairs: the halves share their file's channels
        split_folder = root / "train" if (root / "train").is_dir() else None
        facts = [_folder_facts(split_folder or root, whole=split_folder is not None)]
    elif kind == "paired":  # A/ and B/: every file has its pair, or one line says which has none
        from keras_gen.data.paired import scan_pairs

        index_a, index_b, _ = scan_pairs(root)
        facts = [(folders.default_channels(index), len(index.splits["train"])) for index in (index_a, index_b)]
    else:
        whole = domains[0].name.startswith("train")  # the CycleGAN layout has its splits as folders
        facts = [_folder_facts(folder, whole) for folder in domains]
    return TrainingDataInfo(kind, folders.DEFAULT_IMAGE_SIZE, max(c for c, _ in facts), None,
                            min(n for _, n in facts) if kind == "paired" else max(n for _, n in facts))


def _packed_pairs_info(kind: str, data) -> TrainingDataInfo:
    from keras_gen.data.shards import read_index

    index = read_index(data)
    if kind != "paired" or index["kind"] != "paired":
        raise KerasGenError(f"--data {data!r} is a packed set of {index['kind']} images; this model trains on {kind} "
                            "images (pack A/B pairs with keras-gen data pack --paired; two unpaired domains as two "
                            "packed sets, --data A --data-b B).")
    height, width, channels = index["image_shape"]
    return TrainingDataInfo(kind, height if height == width else (height, width),
                            max(channels, index["image_shape_b"][2]), None, int(index["splits"]["train"]["count"]))


def side_shapes(kind: str, shapes=None, image_size=None, channels=None) -> list[tuple]:
    """((H, W) or a side, channels) of each image of a `kind` example: from `shapes` ((H, W, C)
    per side, a model's data_shapes()) or from one image_size and channels shared by every side."""
    sides = 2 if kind in TWO_SIDED_KINDS else 1
    if shapes is None:
        return [(image_size, channels)] * sides
    if len(shapes) != sides:
        raise KerasGenError(f"a {kind} example holds {sides} image(s), but {len(shapes)} shapes were given")
    out = []
    for height, width, c in shapes:
        out.append((height if height == width else (height, width), c))
    return out


def training_dataset(kind: str, data, data_b=None, *, image_size=None, channels=None, batch_size: int, seed: int,
                     data_dir=None, shapes=None, degradation=None, text=None):
    """A repeated, seeded-shuffled `tf.data.Dataset` of full batches in the shape `kind` declares
    (module docstring), from the train split, each image at its side's shape. Same arguments,
    same batches. `degradation`: a "degraded" model's (its `degradation()`); `text`: a "captioned"
    model's caption input (InputSpec: vocabulary, max_words)."""
    kind = check_data_kind(kind)
    data = "digits" if data is None else data
    _check_sources(kind, data, data_b)
    sides = side_shapes(kind, shapes, image_size, channels)
    if kind == "degraded":
        from keras_gen.data.degradations import degraded_dataset

        return degraded_dataset(data, _sides_as_shapes(sides), degradation, batch_size=batch_size, seed=seed,
                                data_dir=data_dir)
    image_size, channels = sides[0]
    if kind == "indexed":
        describe_training_data(kind, data, data_dir=data_dir)  # the clear error for too many images
        from keras_gen.data.loading import _load_uint8

        images, _, _ = _load_uint8(data, "train", image_size, channels, None, seed, data_dir, None)
        return _in_memory_dataset((images, np.arange(len(images), dtype=np.int64)), batch_size, seed)
    if kind == "captioned":
        images, captions = caption_arrays(data, "train", image_size=image_size, channels=channels, seed=seed,
                                          as_float=False)
        return _in_memory_dataset((images, caption_ids(captions, text)), batch_size, seed)
    if kind == "attributes":
        from keras_gen.data.bundled import load_shapes_attributes

        _check_attribute_source(data)
        images, labels, drawn = load_shapes_attributes("train", image_size, channels, None, seed)
        return _in_memory_dataset((images, labels, _attribute_matrix(drawn)), batch_size, seed)
    if kind in ("images", "labelled"):
        if kind == "labelled":
            describe_training_data(kind, data, data_dir=data_dir)  # the clear error for unlabelled data
        return load_dataset(data, split="train", image_size=image_size, channels=channels, batch_size=batch_size,
                            shuffle=True, seed=seed, with_labels=kind == "labelled", repeat=True,
                            drop_remainder=True, data_dir=data_dir)
    images_a, images_b = _two_domain_arrays(kind, data, data_b, "train", sides, seed=seed, data_dir=data_dir)
    return pair_dataset(images_a, images_b, batch_size=batch_size, shuffle=True, seed=seed,
                        paired=kind == "paired", repeat=True, drop_remainder=True)


def _check_attribute_source(data) -> None:
    if data not in ATTRIBUTE_SOURCES:
        raise KerasGenError(
            f"this model trains on images with the attributes they were drawn with ({', '.join(ATTRIBUTES)}), and "
            f"--data {data!r} has none. Pass --data {' or '.join(ATTRIBUTE_SOURCES)}.")


def attribute_arrays(data, split: str, *, image_size: int, channels: int, seed: int, limit=None):
    """(images float32 [-1, 1], labels int64 (N,), attributes float32 (N, len(ATTRIBUTES))) of one
    split of a source whose drawing attributes are known; KerasGenError for any other source."""
    from keras_gen.data.bundled import load_shapes_attributes
    from keras_gen.images import from_uint8

    _check_attribute_source(data)
    images, labels, drawn = load_shapes_attributes(split, image_size, channels, limit, seed)
    return from_uint8(images), np.asarray(labels, np.int64), _attribute_matrix(drawn)


CAPTION_SOURCES = ("shapes", "a folder with a caption beside each image (NAME.txt next to NAME.png, or a "
                   "metadata.jsonl of {\"file_name\", \"text\"} lines)")


def _check_caption_source(data) -> None:
    if data != "shapes" and resolve_source(data)[0] != "folder":
        raise KerasGenError(f"this model trains on images with captions, and --data {data!r} has none. Pass --data "
                            f"{' or '.join(CAPTION_SOURCES)}.")


def caption_arrays(data, split: str, *, image_size, channels: int, seed: int, limit=None, as_float: bool = True):
    """(images, captions: list of str) of one split of a captioned source: `shapes` captioned from
    its drawing attributes (data/captions.py), or a folder's caption files. Images float32 [-1, 1]
    (uint8 with `as_float=False`)."""
    from keras_gen.data.captions import captioned_folder, shapes_captions
    from keras_gen.data.common import split_seed
    from keras_gen.images import from_uint8

    _check_caption_source(data)
    if data == "shapes":
        from keras_gen.data.bundled import load_shapes_attributes

        images, _, drawn = load_shapes_attributes(split, image_size, channels, limit, seed)
        captions = shapes_captions(drawn, split_seed(seed, split))
    else:
        index, chosen, every = captioned_folder(data, split)
        chosen, every = chosen[:limit], every[:limit]
        images, kept = folders.decode_files([index.root / index.files[i] for i in chosen], image_size, channels,
                                            folders.split_where(index, split))
        captions = [every[i] for i in kept]
    return (from_uint8(images) if as_float else images), captions


def caption_ids(captions, text) -> np.ndarray:
    """Training captions as token ids over the model's caption input `text`: longer ones cut to its
    max_words (with one warning), unknown words as UNK."""
    import warnings

    from keras_gen.core.text import tokenize, words

    if text is None:
        raise KerasGenError("a captioned data set needs the model's caption input (its text_spec()).")
    long = sum(len(words(c)) > text.max_words for c in captions)
    if long:
        warnings.warn(f"{long} of {len(captions)} captions have more than {text.max_words} words and are cut to "
                      f"their first {text.max_words} (--set max_words=N reads longer ones).", stacklevel=2)
    return tokenize(captions, text.vocabulary, text.max_words, truncate=True)[0]


def caption_facts(data, split_seed_value: int = 0) -> tuple[tuple, list]:
    """(vocabulary, example captions) of a captioned source, which a new run records in its model's
    options: shapes' caption grammar and one caption per colour and shape; a folder's train
    words (those seen twice or more when there are many) and its first test captions."""
    from keras_gen.core.text import build_vocabulary, normalise
    from keras_gen.data.captions import SHAPES_VOCABULARY, captioned_folder, example_captions

    _check_caption_source(data)
    if data == "shapes":
        return SHAPES_VOCABULARY, example_captions()
    _, _, train = captioned_folder(data, "train")
    vocabulary = build_vocabulary(train, min_count=2 if len(train) > 2000 else 1)
    try:
        _, _, test = captioned_folder(data, "test")
    except KerasGenError:
        test = train
    return vocabulary, [normalise(c) for c in test[:16]]


def _attribute_matrix(drawn: dict) -> np.ndarray:
    return np.stack([np.asarray(drawn[name], np.float32) for name in ATTRIBUTES], axis=1)  # (N, A)


def _in_memory_dataset(arrays: tuple, batch_size: int, seed: int):
    """Repeated, seeded-shuffled full batches of in-memory arrays (reshuffled each pass); the
    images, first, stay uint8 until batched (4x less memory) and come out float32 in [-1, 1]."""
    import tensorflow as tf

    from keras_gen.images import from_uint8

    count = len(arrays[0])
    if count < batch_size:
        raise KerasGenError(f"the train split has {count} images, fewer than batch_size={batch_size}; lower "
                            "--batch-size.")
    dataset = tf.data.Dataset.from_tensor_slices(arrays).shuffle(count, seed=int(seed), reshuffle_each_iteration=True)
    dataset = dataset.repeat().batch(int(batch_size), drop_remainder=True)
    return dataset.map(lambda images, *rest: (from_uint8(images), *rest)).prefetch(tf.data.AUTOTUNE)


def _two_domain_arrays(kind: str, data, data_b, split: str, sides, *, seed: int, data_dir=None, limit=None):
    """(images_a, images_b) of one split of a paired or unpaired source, float32 [-1, 1], each
    side at its (size, channels)."""
    if data_b is not None:
        # Distinct sample seeds, so two generated sets (shapes and shapes) are not the same images.
        return tuple(load_arrays(source, split, image_size=size, channels=channels, limit=limit,
                                 seed=(seed + k) % 2**32, data_dir=data_dir)[0]
                     for k, (source, (size, channels)) in enumerate(zip((data, data_b), sides)))
    (size_a, channels_a), (size_b, channels_b) = sides
    sizes = dict(image_size=size_a, channels=channels_a, image_size_b=size_b, channels_b=channels_b, limit=limit)
    if kind == "paired":
        if resolve_source(data)[0] == "shards":
            from keras_gen.data.shards import load_shards_pairs

            return load_shards_pairs(data, split, **sizes)
        return load_paired(data, split, **sizes)
    if _two_domain_source(data) == "folder":
        _two_domain_folders(kind, Path(data).expanduser())  # the layout error before loading
    return load_unpaired(data, split, **sizes, data_dir=data_dir)


def preview_examples(kind: str, data, data_b=None, *, shapes, n: int, seed: int, data_dir=None,
                     degradation=None) -> tuple:
    """The first `n` test examples of the data, one float32 [-1, 1] array per domain (the first for
    one-domain kinds; A and B for two; a degraded model's inputs and targets), each cycled to n and
    at its side's shape: the fixed examples a model's per-epoch preview shows (GenerativeModel.preview)."""
    kind = check_data_kind(kind)
    data = "digits" if data is None else data
    sides = side_shapes(kind, shapes)
    if kind == "degraded":
        from keras_gen.data.degradations import degraded_examples

        return degraded_examples(data, "test", _sides_as_shapes(sides), degradation, n=n, seed=seed, data_dir=data_dir)
    if kind in TWO_DOMAIN_KINDS:
        domains = _two_domain_arrays(kind, data, data_b, "test", sides, seed=seed, data_dir=data_dir, limit=n)
    else:
        (size, channels), = sides
        domains = (load_arrays(data, "test", image_size=size, channels=channels, limit=n, seed=seed,
                               data_dir=data_dir)[0],)
    return tuple(images[np.arange(n) % len(images)] for images in domains)


def _sides_as_shapes(sides) -> list[tuple]:
    """side_shapes' ((H, W) or a side, channels) back to (H, W, C) per side."""
    from keras_gen.core.images import image_hw

    return [(*image_hw(size), channels) for size, channels in sides]
