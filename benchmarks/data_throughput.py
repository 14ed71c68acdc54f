"""Input images/s beside training images/s: the input pipeline must outrun the step.

    python benchmarks/data_throughput.py [--source digits] [--models dcgan,vae,ddpm,pixelcnn]
                                         [--image-size 32] [--batch-size 64] [--batches 40]
                                         [--shard-mb 0.5] [--json benchmarks/out/data_throughput.json]

The input side is `keras-gen train`'s own pipeline (keras_gen.data.training_dataset: shuffled,
batched, resized to the model's shape, prefetched) read on its own for `--batches` batches after a
warm-up, from the source in memory (`--data digits`) and from the same source packed into TFRecord
shards (`keras-gen data pack`; `--data SHARDS/`: interleaved, decoded, cached where the split fits).
The first `--batches` batches of a fresh pipeline are timed on their own ("fresh": start-up,
reading and parsing, the shuffle buffer filling, before any cache holds the images), then the
next `--batches` ("steady"). The training side is each model's `fit` step on an
in-memory batch (benchmarks/scale_common.py), at its default options. "margin" is input images/s
over training images/s: above 1 the step never waits for data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale_common import build_model, device_name, train_images_per_s  # noqa: E402


def input_images_per_s(data, image_size: int, channels: int, batch_size: int, batches: int) -> dict:
    """images/s of the training pipeline over `data`: its first `batches` batches (a fresh
    pipeline: start-up and the shuffle buffer filling, before any cache), then `batches` more."""
    from keras_gen.data import training_dataset

    dataset = training_dataset("images", data, shapes=((image_size, image_size, channels),), batch_size=batch_size,
                               seed=0)
    iterator = iter(dataset)
    rates = []
    for _ in range(2):
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        rates.append(batch_size * batches / (time.perf_counter() - start))
    return {"fresh": rates[0], "steady": rates[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="digits")
    parser.add_argument("--models", default="dcgan,vae,ddpm,pixelcnn")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shard-mb", type=float, default=0.5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import tensorflow as tf

    from keras_gen.data.shards import pack

    print(f"Input vs training throughput on {device_name()}, TF {tf.__version__}: {args.source} at "
          f"{args.image_size} px x{args.channels}, batch {args.batch_size}")
    with tempfile.TemporaryDirectory(prefix="keras-gen-shards-") as tmp:
        shards = Path(tmp) / "shards"
        started = time.perf_counter()
        index = pack(args.source, shards, shard_mb=args.shard_mb)
        pack_s = time.perf_counter() - started
        files = len(index["splits"]["train"]["files"])
        print(f"  packed {index['splits']['train']['count']} train images into {files} shard(s) in {pack_s:.1f} s")
        inputs = {"in memory": input_images_per_s(args.source, args.image_size, args.channels, args.batch_size,
                                                  args.batches),
                  "shards": input_images_per_s(str(shards), args.image_size, args.channels, args.batch_size,
                                               args.batches)}
    for name, rate in inputs.items():
        print(f"  input from {name}: {rate['fresh']:.0f} images/s fresh, {rate['steady']:.0f} steady")

    slowest = min(min(rate.values()) for rate in inputs.values())
    rows = {}
    for name in args.models.split(","):
        model = build_model(name, args.image_size, args.batch_size, args.channels)
        rows[name] = train_images_per_s(model, args.batch_size, args.steps, args.repeats, jit_compile=False)
        print(f"  {name}: {rows[name]['images_per_s']:.0f} training images/s", flush=True)

    print(f"\n| model | training images/s | input images/s (in memory, fresh / steady) | input images/s (shards, "
          f"fresh / steady) | margin (slowest input / step) |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        memory, packed = inputs["in memory"], inputs["shards"]
        print(f"| {name} | {row['images_per_s']:.0f} | {memory['fresh']:.0f} / {memory['steady']:.0f} | "
              f"{packed['fresh']:.0f} / {packed['steady']:.0f} | {slowest / row['images_per_s']:.1f}x |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "inputs": inputs, "training": rows,
                                               "pack_s": pack_s}, indent=1))


if __name__ == "__main__":
    main()
