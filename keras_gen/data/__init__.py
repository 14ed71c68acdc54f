"""Every way images come in: bundled offline sets, TFDS names, image folders, two-domain sets.

    from keras_gen.data import load_dataset, load_arrays, describe

    ds = load_dataset("digits", batch_size=64)                  # float32 (64, 32, 32, 1) in [-1, 1]
    ds = load_dataset("shapes", with_labels=True)               # (images, int64 labels)
    x, y, info = load_arrays("photos", split="test", limit=256)
    info = describe("tfds:cifar10", data_dir="/data/tfds")       # DataInfo
    ds = training_dataset("labelled", "digits", image_size=16, channels=1, batch_size=64, seed=0)
                                                                # what a model's train_step takes

Sources: "digits", "shapes", "photos", "textures" (offline, bundled), "tfds:NAME" and folder
paths. Each module's docstring says how its source is built and split.
"""

from keras_gen.data.common import SPLITS, DataInfo
from keras_gen.data.folders import MIN_SOURCE_SIDE, UnreadableImagesWarning
from keras_gen.data.loading import SOURCES, describe, load_arrays, load_dataset, resolve_source
from keras_gen.data.paired import load_paired, load_unpaired, pair_dataset
from keras_gen.data.shapes import draw_shapes
from keras_gen.data.training_data import (DATA_KINDS, TrainingDataInfo, describe_training_data, preview_examples,
                                         training_dataset)

__all__ = [
    "DATA_KINDS",
    "DataInfo",
    "MIN_SOURCE_SIDE",
    "SOURCES",
    "SPLITS",
    "TrainingDataInfo",
    "UnreadableImagesWarning",
    "describe",
    "describe_training_data",
    "draw_shapes",
    "load_arrays",
    "load_dataset",
    "load_paired",
    "load_unpaired",
    "pair_dataset",
    "preview_examples",
    "resolve_source",
    "training_dataset",
]
