"""What the scale benchmarks share (jit_table.py, data_throughput.py, gpu.py): a model's training
images/s through `fit`, the way `keras-gen train` steps it, on an in-memory batch of the shapes its
data kind yields, so the figure is the step's alone (the input pipeline is measured on its own by
data_throughput.py).
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def synthetic_batch(model, batch_size: int, seed: int = 0):
    """One batch shaped as the model's data kind yields it (images in [-1, 1], labels, pairs)."""
    rng = np.random.default_rng(seed)
    shapes = model.data_shapes()
    images = rng.uniform(-1, 1, (batch_size, *shapes[0])).astype("float32")
    kind = model.data_kind
    if kind == "labelled":
        return images, (np.arange(batch_size) % model.num_classes).astype("int64")
    if kind in ("paired", "unpaired"):
        return images, rng.uniform(-1, 1, (batch_size, *shapes[1])).astype("float32")
    if kind == "indexed":
        return images, (np.arange(batch_size) % model.options.num_images).astype("int64")
    if kind == "attributes":
        from keras_gen.data.training_data import attribute_arrays

        _, labels, attributes = attribute_arrays("shapes", "train", image_size=model.image_size, channels=1,
                                                 seed=seed, limit=batch_size)
        return images, labels, attributes
    return images


def build_model(name: str, image_size, batch_size: int, channels: int = 1, **options):
    """The registered model `name` compiled, with its number of classes / table rows for its data kind."""
    import keras

    from keras_gen import registry

    spec = registry.get(name)
    extra = {"num_images": max(batch_size, 64)} if spec.data_kind == "indexed" else {}
    classes = {"labelled": 10, "attributes": 4}.get(spec.data_kind)
    keras.utils.set_random_seed(0)
    model = registry.build(name, image_size=image_size, channels=channels, num_classes=classes,
                           **{**extra, **options})
    model.compile()
    return model


def train_images_per_s(model, batch_size: int, steps: int, repeats: int, jit_compile: bool,
                       warmup: int = 2) -> dict:
    """Median images/s of `repeats` fits of `steps` steps each, after `warmup` steps (tracing and
    XLA compilation), and the spread of the repeats (max - min) / median."""
    import tensorflow as tf

    model.jit_compile = jit_compile
    model.make_train_function(force=True)  # a new jit choice needs a new train function
    data = tf.data.Dataset.from_tensors(synthetic_batch(model, batch_size)).repeat()
    model.fit(data, epochs=1, steps_per_epoch=warmup, verbose=0, shuffle=False)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {"images_per_s": batch_size * steps / median, "spread": (max(seconds) - min(seconds)) / median,
            "step_s": median / steps}


def device_name() -> str:
    from keras_gen.xla import device_kind

    import os

    kind = device_kind()
    return kind if kind != "cpu" else f"cpu ({os.cpu_count()} cores)"
