"""DCGAN training throughput (images/s), tf.function graph vs XLA (`jit_compile=True`).

Both configurations run in the same process on the same data, so the ratio is meaningful even
on a noisy machine; each is timed over several repeats after a warm-up (which absorbs tracing
and XLA compilation) and the median is reported.

    python benchmarks/train_throughput.py [--image-size 32] [--batch-size 64] [--steps 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_gen.registry import build  # noqa: E402


def measure(jit_compile: bool, args) -> dict:
    keras.utils.set_random_seed(0)
    model = build("dcgan", image_size=args.image_size, channels=args.channels, base_filters=args.base_filters)
    model.compile(jit_compile=jit_compile)
    data = np.random.default_rng(0).uniform(-1, 1, (args.batch_size * args.steps, args.image_size,
                                                    args.image_size, args.channels)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(args.batch_size).cache().repeat().prefetch(4)
    model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)  # warm-up: tracing / XLA compile
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0, shuffle=False)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {"jit_compile": jit_compile, "seconds_median": median,
            "images_per_s": args.batch_size * args.steps / median,
            "steps_per_s": args.steps / median, "spread": (max(seconds) - min(seconds)) / median}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--base-filters", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"DCGAN train throughput: {args.image_size}px x{args.channels}, base_filters {args.base_filters}, "
          f"batch {args.batch_size}, {args.steps} steps x {args.repeats} repeats, {device}, TF {tf.__version__}")
    rows = [measure(False, args), measure(True, args)]
    baseline = rows[0]["images_per_s"]
    print(f"\n| {'configuration':24s} | {'images/s':>9s} | {'steps/s':>8s} | {'spread':>6s} | {'ratio':>6s} |")
    print(f"|{'-' * 26}|{'-' * 11}|{'-' * 10}|{'-' * 8}|{'-' * 8}|")
    for row in rows:
        name = "tf.function + XLA" if row["jit_compile"] else "tf.function (baseline)"
        print(f"| {name:24s} | {row['images_per_s']:9.1f} | {row['steps_per_s']:8.2f} | "
              f"{row['spread']:6.1%} | {row['images_per_s'] / baseline:5.2f}x |")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "device": device, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
