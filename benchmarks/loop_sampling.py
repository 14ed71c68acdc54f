"""Sampling speed of a model that samples in a loop (PixelCNN, VQ-VAE with its prior, diffusion),
on each runtime: samples per second, and the ratio against the Keras model in the same run.

    python benchmarks/loop_sampling.py                          # fresh pixelcnn, 16 px digits
    python benchmarks/loop_sampling.py --model vqvae --n 1 16   # another loop model
    python benchmarks/loop_sampling.py --run runs/pixelcnn      # a trained run

The model is exported exactly as `keras-gen export` does (parity check included), then a whole
request (n, seed) -> n images is timed on:

    keras          model.sample(n, seed): the sampler's tf.while_loop as one traced tf.function
    savedmodel     the reloaded SavedModel's `sample` signature: the same loop, what TF Serving runs
    onnxruntime    the edge runner: the sampler's numpy loop calling model.onnx once per step

Untrained weights sample as fast as trained ones (the loop has a fixed number of steps), so the
default is a fresh model at the harness-like size given by --set. Each cell is the median of
--repeats requests after one warm-up (which traces the graph); the three runtimes draw the same
images for the same request, which the script checks before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def _model(args):
    from keras_gen import registry
    from keras_gen.models.base import coerce_option, option_fields

    if args.run:
        from keras_gen.runs import load_run

        return load_run(args.run)[0]
    spec = registry.get(args.model)
    fields = option_fields(spec.model_class.Options)
    options = {}
    for item in args.set:
        key, _, value = item.partition("=")
        options[key] = coerce_option(fields[key], value)
    return registry.build(args.model, image_size=args.image_size, channels=args.channels, **options)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="pixelcnn", help="a registered model that samples in a loop")
    parser.add_argument("--run", help="a training run folder instead of fresh weights")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="model option key=value (fresh model)")
    parser.add_argument("--n", type=int, nargs="+", default=[1, 16], help="request sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here (e.g. benchmarks/out/loop_sampling.json)")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from export import export_model
    from keras_gen.core import inputs as kinds
    from keras_gen.core.edge import EdgeModel
    from keras_gen.images import to_uint8

    model = _model(args)
    sampler = model.sampler()
    if sampler is None:
        raise SystemExit(f"{type(model).__name__} samples with one network call, not a loop: "
                         "use benchmarks/sample_latency.py")
    with tempfile.TemporaryDirectory(prefix="kg-loop-bench-") as tmp:
        version_dir = export_model(model, tmp, name="bench")
        signature = tf.saved_model.load(str(version_dir)).signatures["sample"]
        edge = EdgeModel.from_path(version_dir)
        request = model.request_specs()

        def savedmodel(n):  # the signature takes every condition: the request's defaults, spelled out
            conditions = kinds.resolve_conditions(request, n, 0)
            return signature(n=tf.constant(n, tf.int32), seed=tf.constant(0, tf.int64),
                             **{k: tf.constant(v) for k, v in conditions.items()})["images"].numpy()

        runtimes = {
            "keras": lambda n: to_uint8(model.sample(n, seed=0)),
            "savedmodel": savedmodel,
            f"onnxruntime ({edge.provider.replace('ExecutionProvider', '')})": lambda n: edge.sample(n, seed=0),
        }
        rows = []
        for n in args.n:
            outputs = {name: fn(n) for name, fn in runtimes.items()}  # warm-up: traces, and checks agreement
            reference = outputs["keras"].astype(int)
            for name, images in outputs.items():
                worst = int(np.abs(images.astype(int) - reference).max())
                if worst > 1:
                    raise SystemExit(f"{name} disagrees with keras by {worst} levels for n={n}: a parity bug")
            times = {name: [] for name in runtimes}
            for _ in range(args.repeats):
                for name, fn in runtimes.items():  # round-robin: background load hits each alike
                    t0 = time.perf_counter()
                    fn(n)
                    times[name].append(time.perf_counter() - t0)
            base = statistics.median(times["keras"])
            for name, ts in times.items():
                median = statistics.median(ts)
                rows.append({"runtime": name, "n": n, "seconds": median, "samples_per_s": n / median,
                             "vs_keras": base / median})
    meta = model.export_metadata()
    print(f"\n{meta['model']} {model.image_size}px x{model.channels}, sampler {meta['sampler']['name']} "
          f"({'run ' + args.run if args.run else 'fresh weights'}); {os.cpu_count()} CPUs, TF {tf.__version__}\n")
    header = f"{'runtime':22s} {'n':>4s} {'seconds':>9s} {'samples/s':>10s} {'vs keras':>9s}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['runtime']:22s} {r['n']:4d} {r['seconds']:9.3f} {r['samples_per_s']:10.2f} {r['vs_keras']:8.2f}x")
    result = {"model": meta, "run": args.run, "rows": rows, "cpus": os.cpu_count()}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")
    return result


if __name__ == "__main__":
    main()
