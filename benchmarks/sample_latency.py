"""Sampling latency of one DCGAN generator on each runtime it is deployed to.

    python benchmarks/sample_latency.py                      # fresh DCGAN, 32px grayscale
    python benchmarks/sample_latency.py --run runs/dcgan     # a trained run
    python benchmarks/sample_latency.py --json benchmarks/out/sample_latency.json

The model is exported to a temporary folder exactly as `keras-gen export` does (parity check
included), then latents -> float images is timed at batch 1 and 64 for:

    keras-call       model(z) in eager mode (what a notebook does)
    keras-tf.function the export endpoint as a traced tf.function (graph mode, in-process)
    savedmodel       the reloaded SavedModel's `generate` signature (what TF Serving runs)
    onnxruntime      model.onnx in onnxruntime (the edge path; CUDA provider when usable)

Each cell: warm-up calls, then the median of repeated calls (at least --repeats rounds, more
while under --min-seconds), taken round-robin across runtimes so that background load on a
shared machine affects them alike; results are synchronised to host numpy so GPU work counts.
The ratio column is keras-call's median divided by the runtime's (above 1: faster than Keras).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def _time_interleaved(fns: dict, warmup: int, repeats: int, min_seconds: float) -> dict[str, list[float]]:
    """Per-call times of each fn, taken round-robin so background load hits every runtime alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or (time.perf_counter() - start < min_seconds and rounds < 50 * repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
        rounds += 1
    return times


def _model(args):
    if args.run:
        from keras_gen.runs import load_run

        model, _ = load_run(args.run)
        return model
    from keras_gen import registry

    return registry.build("dcgan", image_size=args.image_size, channels=args.channels,
                          latent_dim=args.latent_dim, base_filters=args.base_filters)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="training run folder (--out of `keras-gen train`); default: a fresh DCGAN")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--base-filters", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--min-seconds", type=float, default=3.0, help="keep timing each batch size at least this long")
    parser.add_argument("--json", help="also write the results here (e.g. benchmarks/out/sample_latency.json)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from export import export_model
    from keras_gen.latents import gaussian_latents
    from keras_gen.edge import EdgeModel

    model = _model(args)
    endpoints = model.export_endpoints()
    name = next(k for k, ep in endpoints.items() if ep.onnx)
    ep = endpoints[name]
    endpoint_fn = tf.function(ep.fn, input_signature=list(ep.input_signature))
    meta = model.export_metadata()

    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
        t0 = time.perf_counter()
        version_dir = export_model(model, tmp, name="bench")
        export_s = time.perf_counter() - t0
        parity = json.loads((version_dir / "manifest.json").read_text())["parity"]
        signature = tf.saved_model.load(str(version_dir)).signatures[name]
        edge = EdgeModel.from_path(version_dir)
        input_name = ep.input_signature[0].name

        runtimes = {
            "keras-call": lambda z: model(z, training=False).numpy(),
            "keras-tf.function": lambda z: endpoint_fn(z)["images"].numpy(),
            "savedmodel": lambda z: signature(**{input_name: z})["images"].numpy(),
            f"onnxruntime ({edge.provider.replace('ExecutionProvider', '')})": lambda z: edge.generate(z=z),
        }
        rows = []
        for batch in args.batches:
            z_np = gaussian_latents(batch, int(meta["latent_dim"]), seed=0)
            z_tf = tf.constant(z_np)
            calls = {rt: (lambda fn=fn, z=(z_np if rt.startswith("onnxruntime") else z_tf): fn(z))
                     for rt, fn in runtimes.items()}
            for runtime, times in _time_interleaved(calls, args.warmup, args.repeats, args.min_seconds).items():
                median = statistics.median(times)
                rows.append({"runtime": runtime, "batch": batch, "median_ms": median * 1e3,
                             "images_per_s": batch / median, "calls": len(times)})

    for row in rows:
        base = next(r for r in rows if r["batch"] == row["batch"] and r["runtime"] == "keras-call")
        row["speedup_vs_keras_call"] = base["median_ms"] / row["median_ms"]

    print(f"\nDCGAN {meta['image_size']}px x{meta['channels']} latent_dim={meta['latent_dim']} "
          f"({'run ' + args.run if args.run else 'fresh weights'}); export with parity check {export_s:.1f} s, "
          f"parity max |diff| {parity['max_abs_diff']:.2e}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}\n")
    header = f"{'runtime':26s} {'batch':>5s} {'median ms':>10s} {'images/s':>10s} {'vs keras-call':>14s}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['runtime']:26s} {r['batch']:5d} {r['median_ms']:10.3f} {r['images_per_s']:10.1f} "
              f"{r['speedup_vs_keras_call']:13.2f}x")
    result = {"model": meta, "run": args.run, "export_seconds": export_s, "parity": parity, "rows": rows,
              "cpus": os.cpu_count(), "tensorflow": tf.__version__, "onnxruntime_provider": edge.provider}
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {out}")
    return result


if __name__ == "__main__":
    main()
