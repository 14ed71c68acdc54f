"""A small domain classifier trained by the project: an offline feature space and a class judge.

Where ImageNet InceptionV3 weights cannot be downloaded, or the images (32 px digits, shapes)
are far from ImageNet, a CNN trained on the labelled data set itself gives the feature space
for "domain FID/KID": the penultimate `features` layer plays the role of Inception's pool3.
This is the same idea as the LeNet-feature FID used for MNIST in several GAN papers; numbers
are comparable only between runs that use the same cached classifier. Its class predictions
give the accuracy of class-conditional samples (a generated "3" should be classified as 3).

Cache: `<cache_dir>/classifiers/<source>_<size>px_<channels>ch.keras` plus a `.json` of
metadata (test accuracy, epochs, seed, ...). `cache_dir` defaults to `$KERAS_GEN_CACHE`, else
`./cache`. The `.keras` file holds standard layers only and loads with `safe_mode=True`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import PIXEL_RANGE, convert_channels
from keras_gen.core.fileio import atomic_path, write_json_atomic
from keras_gen.features._common import batched, check_images, resize_images

FEATURES_LAYER = "features"
LOGITS_LAYER = "logits"
LABELLED_SOURCES_HINT = (
    "digits, shapes, photos, textures, a folder with one sub-folder per class, or a labelled "
    "TFDS set such as tfds:mnist or tfds:cifar10"
)


def default_cache_dir() -> Path:
    """$KERAS_GEN_CACHE if set, else ./cache (relative to the working directory)."""
    return Path(os.environ.get("KERAS_GEN_CACHE") or "cache")


def _safe_name(source: str) -> str:
    """A file-name-safe key for a data source; folders get a hash of their absolute path so
    two folders both called `images/` do not share a classifier."""
    source = str(source)
    if os.sep in source or os.path.isdir(source):
        resolved = str(Path(source).expanduser().resolve())
        stem = re.sub(r"[^A-Za-z0-9]+", "_", Path(resolved).name).strip("_") or "folder"
        return f"folder_{stem}_{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
    return re.sub(r"[^A-Za-z0-9]+", "_", source).strip("_") or "data"


def classifier_path(source: str, image_size: int, channels: int, cache_dir=None) -> Path:
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return cache / "classifiers" / f"{_safe_name(source)}_{int(image_size)}px_{int(channels)}ch.keras"


def _labelled_info(source: str, data_dir=None):
    from keras_gen.data import describe

    info = describe(source, data_dir=data_dir)
    if not info.num_classes or info.num_classes < 2:
        raise KerasGenError(
            f"data set {source!r} has no class labels, and the domain classifier needs them; "
            f"use a labelled set: {LABELLED_SOURCES_HINT}"
        )
    return info


DOMAIN_FEATURE_DIM = 128  # the "features" layer: FID needs more samples than this per side


def build_domain_classifier(
    image_size: int, channels: int, num_classes: int, width: int = 32, feature_dim: int = DOMAIN_FEATURE_DIM
):
    """Small CNN: [conv3x3-BN-ReLU x2, max-pool] stages (width, 2*width, 4*width, ...), global
    average pooling, Dense(feature_dim, ReLU) named "features", Dense(num_classes) "logits".

    The number of pooling stages shrinks the map to about 4x4 (at most 4 stages), so 8 px and
    64 px inputs both work. Standard Keras layers only: `.keras` files load in safe mode.
    """
    import keras
    from keras import layers

    if image_size < 4 or channels not in (1, 3) or num_classes < 2:
        raise KerasGenError(
            f"classifier needs image_size >= 4, channels 1 or 3 and >= 2 classes; got "
            f"{image_size}, {channels}, {num_classes}"
        )
    stages = max(1, min(4, int(math.log2(image_size / 4))))
    inputs = keras.Input((image_size, image_size, channels), name="images")
    x = inputs
    for s in range(stages):
        for j in range(2):
            x = layers.Conv2D(width * 2**s, 3, padding="same", use_bias=False, name=f"conv{s + 1}_{j + 1}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{s + 1}_{j + 1}")(x)
            x = layers.ReLU(name=f"relu{s + 1}_{j + 1}")(x)
        x = layers.MaxPooling2D(name=f"pool{s + 1}")(x)  # (B, H / 2^(s+1), W / 2^(s+1), C)
    x = layers.GlobalAveragePooling2D(name="gap")(x)  # (B, C)
    x = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)  # (B, feature_dim)
    x = layers.Dropout(0.3, name="dropout")(x)
    logits = layers.Dense(num_classes, name=LOGITS_LAYER)(x)  # (B, K)
    return keras.Model(inputs, logits, name="domain_classifier")


def _save_atomic(model, path: Path, metadata: dict) -> None:
    """Write `.keras` and `.json` under temporary names, then rename: a reader never sees a
    half-written classifier."""
    with atomic_path(path) as tmp:
        model.save(tmp)
    write_json_atomic(path.with_suffix(".json"), metadata)


def train_domain_classifier(
    source: str,
    image_size: int | None = None,
    channels: int | None = None,
    data_dir=None,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    cache_dir=None,
    force: bool = False,
    verbose: int = 2,  # one line an epoch: it also trains inside `evaluate`, whose output goes to logs
    width: int = 16,
    learning_rate: float = 3e-3,
    save: bool = True,
):
    """Train the domain classifier on `source`'s train split; report accuracy on its test split.

    Seeds Keras/TF/numpy globally with `seed` (training is deterministic on CPU). Light
    augmentation (random translation by up to 1/8 of the size) lives in a training-only
    wrapper, so the saved model is the plain classifier. Adam with cosine learning-rate decay.

    Returns (model, metadata) and, with `save`, writes both to the cache. With `force=False`
    an existing cached classifier is returned instead of retraining.
    """
    import keras

    from keras_gen.data import load_arrays, load_dataset

    info = _labelled_info(source, data_dir)
    image_size = int(image_size or info.default_image_size)
    channels = int(channels or info.channels)
    path = classifier_path(source, image_size, channels, cache_dir)
    if save and not force and path.is_file() and path.with_suffix(".json").is_file():
        loaded = load_domain_classifier(source, image_size, channels, cache_dir, train_if_missing=False)
        return loaded.model, loaded.metadata

    keras.utils.set_random_seed(seed)
    train = load_dataset(
        source, split="train", image_size=image_size, channels=channels, batch_size=batch_size,
        shuffle=True, seed=seed, with_labels=True, drop_remainder=False, data_dir=data_dir,
    )
    test_x, test_y, _ = load_arrays(source, split="test", image_size=image_size, channels=channels,
                                    seed=seed, data_dir=data_dir)
    if test_y is None or len(test_x) == 0:
        raise KerasGenError(f"data set {source!r} has no labelled test split to measure accuracy on")

    model = build_domain_classifier(image_size, channels, info.num_classes, width=width)
    shift = 1.0 / 8.0
    trainer = keras.Sequential(
        [keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed, name="augment"), model],
        name="domain_classifier_trainer",
    )
    steps_per_epoch = int(train.cardinality())
    if steps_per_epoch < 0:  # unknown length (e.g. a filtered folder): count one pass
        steps_per_epoch = sum(1 for _ in train)
    steps = steps_per_epoch * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, steps))
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    # tf.data already shuffles; shuffle=False keeps Keras from warning that it ignores its own
    history = trainer.fit(train, epochs=epochs, verbose=verbose, shuffle=False)
    train_time = time.time() - start

    logits = model.predict(test_x, batch_size=256, verbose=0)
    test_accuracy = float(np.mean(np.argmax(logits, axis=-1) == np.asarray(test_y)))
    metadata = {
        "source": str(source),
        "image_size": image_size,
        "channels": channels,
        "num_classes": int(info.num_classes),
        "class_names": list(info.class_names) if info.class_names else None,
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "width": int(width),
        "feature_dim": int(model.get_layer(FEATURES_LAYER).units),
        "seed": int(seed),
        "test_accuracy": test_accuracy,
        "test_size": int(len(test_x)),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "train_time_s": round(train_time, 2),
        "keras_version": keras.__version__,
    }
    if save:
        _save_atomic(model, path, metadata)
        metadata["path"] = str(path)
    return model, metadata


def load_domain_classifier(
    source: str,
    image_size: int | None = None,
    channels: int | None = None,
    cache_dir=None,
    train_if_missing: bool = True,
    data_dir=None,
    **train_kwargs,
) -> "DomainFeatures":
    """The cached classifier for (source, size, channels) as DomainFeatures; trains and caches
    it first when missing (unless `train_if_missing=False`)."""
    import keras

    if image_size is None or channels is None:
        info = _labelled_info(source, data_dir)
        image_size = image_size or info.default_image_size
        channels = channels or info.channels
    path = classifier_path(source, image_size, channels, cache_dir)
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        if not train_if_missing:
            raise KerasGenError(
                f"no domain classifier cached at {path}; train it with "
                f"`keras-gen train classifier --data {source} --image-size {image_size}`"
            )
        train_domain_classifier(source, image_size, channels, data_dir=data_dir, cache_dir=cache_dir, **train_kwargs)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
        metadata = json.loads(meta_path.read_text())
    except Exception as exc:  # a corrupt or foreign file: tell the user how to rebuild it
        raise KerasGenError(
            f"cannot load the domain classifier {path} ({exc}); delete it (or pass force=True / "
            "--force) to retrain"
        ) from exc
    metadata["path"] = str(path)
    return DomainFeatures(model, metadata)


class DomainFeatures:
    """Callable images -> {"features": (N, D), "logits": (N, K), "probs": (N, K)}.

    Input images ([-1, 1], any size, 1/3/4 channels) are converted to the classifier's
    channels and resized to its size (antialiased bilinear, float) first.
    """

    def __init__(self, model, metadata: dict):
        import keras
        import tensorflow as tf

        self.model = model
        self.metadata = dict(metadata)
        self.source = metadata.get("source")
        self.image_size = int(model.input_shape[1])
        self.channels = int(model.input_shape[-1])
        self.num_classes = int(model.output_shape[-1])
        self.test_accuracy = metadata.get("test_accuracy")
        self.class_names = metadata.get("class_names")
        features = model.get_layer(FEATURES_LAYER).output
        two_heads = keras.Model(model.inputs, [features, model.outputs[0]])
        spec = tf.TensorSpec([None, self.image_size, self.image_size, self.channels], tf.float32)

        @tf.function(input_signature=[spec])
        def run(x):
            feats, logits = two_heads(x, training=False)
            return {"features": feats, "logits": logits, "probs": tf.nn.softmax(logits)}

        self._run = run

    @property
    def feature_dim(self) -> int:
        return int(self.model.get_layer(FEATURES_LAYER).units)

    def _prepare(self, batch):
        import tensorflow as tf

        x = convert_channels(tf.constant(batch), self.channels, value_range=PIXEL_RANGE)
        return resize_images(x, self.image_size)

    def __call__(self, images, batch_size: int = 256) -> dict[str, np.ndarray]:
        import tensorflow as tf

        x = check_images(images)
        if isinstance(x, tf.Tensor):
            x = x.numpy()
        out = batched(lambda b: self._run(self._prepare(b)), x, batch_size)
        return {k: v.astype(np.float32) for k, v in out.items()}

    def predict(self, images, batch_size: int = 256) -> np.ndarray:
        """Predicted class ids (N,) int64."""
        return np.argmax(self(images, batch_size)["logits"], axis=-1).astype(np.int64)

    def accuracy(self, images, labels, batch_size: int = 256) -> float:
        """Share of `images` classified as their `labels` (e.g. conditional samples' classes)."""
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise KerasGenError(f"got {len(images)} images but {len(labels)} labels")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise KerasGenError(f"labels must be in [0, {self.num_classes}), got {labels.min()}..{labels.max()}")
        return float(np.mean(self.predict(images, batch_size) == labels))
