"""Sampling latency of one DCGAN generator on each runtime it is deployed to, and its ONNX variants.

    python benchmarks/sample_latency.py                      # fresh DCGAN, 32px grayscale
    python benchmarks/sample_latency.py --run runs/dcgan     # a trained run (its data for the FID)
    python benchmarks/sample_latency.py --json benchmarks/out/sample_latency.json

The model is exported to a temporary folder exactly as `keras-gen export --onnx-variants fp16,int8`
does (parity check, variant sizes, parity and domain FID included), then latents -> float images
is timed at batch 1, 16 and 64 for:

    keras-call        model(z) in eager mode (what a notebook does)
    keras-tf.function the export endpoint as a traced tf.function (graph mode, in-process)
    savedmodel        the reloaded SavedModel's `generate` signature (what TF Serving runs)
    ort-default       model.onnx in onnxruntime with its default session options
    ort-tuned         the edge runner's session (keras_gen.core.edge.tuning: ConvTranspose rewritten in
                      memory, spinning off); what `keras-gen sample EXPORT` and `serve` run
    ort-tuned-1thread the same with one intra-op thread (without --threads)
    ort-fp16/int8     model.fp16.onnx / model.int8.onnx in the tuned session

With --threads N every runtime gets N intra-op threads (TF: N intra, 1 inter); by default each
library picks its own. Each cell: warm-up calls, then repeated calls taken round-robin across all runtimes (every runtime
once per round, the order rotated each round), at least --repeats rounds and more while under
--min-seconds, so background load on a shared machine hits every row alike. Reported: the median
and the 10th percentile (the least-disturbed calls) per call, and the median process CPU time
per call (all threads; spinning counts); results are synchronised to host
numpy. The ratio columns are the SavedModel's time divided by the runtime's (above 1: faster
than the SavedModel), for the median and the 10th percentile.
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

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

BASELINE = "savedmodel"


def _time_interleaved(fns: dict, warmup: int, repeats: int, min_seconds: float) -> tuple[dict, dict]:
    """Per-call wall and process-CPU times of each fn, round-robin (order rotated per round) so
    load hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    times, cpu = {name: [] for name in fns}, {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or (time.perf_counter() - start < min_seconds and rounds < 50 * repeats):
        for name in names[rounds % len(names):] + names[:rounds % len(names)]:
            c0, t0 = time.process_time(), time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
        rounds += 1
    return times, cpu


def _model(args):
    if args.run:
        from keras_gen.runs import load_run

        model, config = load_run(args.run)
        return model, {"data": config["data"], "data_dir": config.get("data_dir"), "seed": config.get("seed")}
    from keras_gen import registry

    model = registry.build("dcgan", image_size=args.image_size, channels=args.channels,
                           latent_dim=args.latent_dim, base_filters=args.base_filters)
    return model, {"data": args.data, "seed": 0}


def _graph_facts(version_dir: Path, tmp: str) -> dict:
    """Transpose and ConvTranspose counts: model.onnx, after the runner's rewrite, and in
    onnxruntime's own optimised graph of each (ORT_ENABLE_ALL, saved via optimized_model_filepath)."""
    import onnx
    import onnxruntime as ort

    from keras_gen.core.edge.tuning import count_ops, tuned_model

    plain = onnx.load(str(version_dir / "model.onnx"))
    rewritten, rewrites = tuned_model(plain)
    facts = {"rewrites": rewrites}
    for label, proto in (("model.onnx", plain), ("tuned", rewritten)):
        options = ort.SessionOptions()
        options.log_severity_level = 3  # not the warning that NCHWc-optimised graphs are machine-specific
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = os.path.join(tmp, f"optimised-{label}.onnx")
        ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        optimised = onnx.load(options.optimized_model_filepath)
        facts[label] = {op: {"graph": count_ops(proto, op), "ort_optimised": count_ops(optimised, op)}
                        for op in ("Transpose", "ConvTranspose", "Conv")}
    return facts


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="training run folder (--out of `keras-gen train`); default: a fresh DCGAN")
    parser.add_argument("--data", default="digits", help="data whose domain classifier scores the variants' FID "
                                                         "(a run's own data when --run is given)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--base-filters", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--min-seconds", type=float, default=3.0, help="keep timing each batch size at least this long")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per runtime (TF intra-op, onnxruntime intra-op); 0: each library's default")
    parser.add_argument("--fid-n", type=int, default=512, help="samples per side for the variants' domain FID")
    parser.add_argument("--json", help="also write the results here (e.g. benchmarks/out/sample_latency.json)")
    args = parser.parse_args(argv)

    import onnxruntime as ort
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from export import export_model
    from keras_gen.core.edge import make_session, run_onnx

    model, training = _model(args)
    endpoints = model.export_endpoints()
    name = next(k for k, ep in endpoints.items() if ep.onnx)
    ep = endpoints[name]
    endpoint_fn = tf.function(ep.fn, input_signature=list(ep.input_signature))
    meta = model.export_metadata()

    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
        t0 = time.perf_counter()
        version_dir = export_model(model, tmp, name="bench", training_info=training, onnx_variants="fp16,int8",
                                   fid_n=args.fid_n)
        export_s = time.perf_counter() - t0
        manifest = json.loads((version_dir / "manifest.json").read_text())
        parity, variants = manifest["parity"], manifest["onnx_variants"]
        graph = _graph_facts(version_dir, tmp)
        signature = tf.saved_model.load(str(version_dir)).signatures[name]
        default_options = ort.SessionOptions()
        default_options.log_severity_level = 3
        default_options.intra_op_num_threads = args.threads
        sessions = {"ort-default": ort.InferenceSession(str(version_dir / "model.onnx"), default_options,
                                                        providers=["CPUExecutionProvider"]),
                    "ort-tuned": make_session(version_dir / "model.onnx", providers=["CPUExecutionProvider"],
                                              threads=args.threads)}
        if not args.threads:  # the same tuned session with one intra-op thread, beside the default
            sessions["ort-tuned-1thread"] = make_session(version_dir / "model.onnx", providers=["CPUExecutionProvider"],
                                                         threads=1)
        for variant in ("fp16", "int8"):
            if variants[variant]["status"] == "written":
                sessions[f"ort-{variant}"] = make_session(version_dir / f"model.{variant}.onnx",
                                                          providers=["CPUExecutionProvider"], threads=args.threads)
        names = [s.name for s in ep.inputs]
        rows = []
        for batch in args.batches:
            feeds = {k: np.asarray(v) for k, v in model.parity_inputs(batch, seed=0).items()}
            tf_feeds = {k: tf.constant(v) for k, v in feeds.items()}
            calls = {
                "keras-call": lambda f=tf_feeds: model(f[names[0]], training=False).numpy(),  # defaults for options
                "keras-tf.function": lambda f=tf_feeds: endpoint_fn(*[f[n] for n in names])["images"].numpy(),
                BASELINE: lambda f=tf_feeds: signature(**f)["images"].numpy(),
                **{label: (lambda s=s, f=feeds: run_onnx(s, f)) for label, s in sessions.items()},
            }
            wall, cpu = _time_interleaved(calls, args.warmup, args.repeats, args.min_seconds)
            for runtime, times in wall.items():
                median, q10 = statistics.median(times), float(np.quantile(times, 0.1))
                rows.append({"runtime": runtime, "batch": batch, "median_ms": median * 1e3, "p10_ms": q10 * 1e3,
                             "cpu_ms": statistics.median(cpu[runtime]) * 1e3, "images_per_s": batch / median,
                             "calls": len(times)})

    for row in rows:
        base = next(r for r in rows if r["batch"] == row["batch"] and r["runtime"] == BASELINE)
        row["vs_savedmodel"] = base["median_ms"] / row["median_ms"]
        row["vs_savedmodel_p10"] = base["p10_ms"] / row["p10_ms"]

    print(f"\nDCGAN {meta['image_size']}px x{meta['channels']} latent_dim={meta['latent_dim']} "
          f"({'run ' + args.run if args.run else 'fresh weights'}); export with parity check and variants "
          f"{export_s:.1f} s, parity max |diff| {parity['max_abs_diff']:.2e}, tuned vs plain onnxruntime "
          f"{max(parity['tuned_vs_plain'].values()):.1e}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"threads per runtime: {args.threads or 'library default'}, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}, TF {tf.__version__}, onnxruntime {ort.__version__}\n")
    header = (f"{'runtime':18s} {'batch':>5s} {'median ms':>10s} {'p10 ms':>9s} {'CPU ms':>8s} {'images/s':>9s} "
              f"{'vs SavedModel':>13s} {'(p10)':>7s}")
    print(header)
    print("-" * len(header))
    for r in sorted(rows, key=lambda r: r["batch"]):
        print(f"{r['runtime']:18s} {r['batch']:5d} {r['median_ms']:10.3f} {r['p10_ms']:9.3f} {r['cpu_ms']:8.2f} "
              f"{r['images_per_s']:9.1f} "
              f"{r['vs_savedmodel']:12.2f}x {r['vs_savedmodel_p10']:6.2f}x")

    rewrites = graph["rewrites"]
    print(f"\nGraph: the runner rewrites {rewrites['matmul']} ConvTranspose as MatMul and {rewrites['subpixel']} as "
          "sub-pixel Convs + DepthToSpace (keras_gen.core.edge.tuning)")
    for label in ("model.onnx", "tuned"):
        print(f"  {label:10s} " + ", ".join(f"{op} {c['graph']} (ORT-optimised {c['ort_optimised']})"
                                            for op, c in graph[label].items()))

    size32 = (manifest["files"]["model.onnx"]["size"])
    print(f"\nONNX variants (CPU latency: the tuned session at batch {max(args.batches)}; FID: domain features, "
          f"{variants.get('fp16', {}).get('fid', {}).get('n', args.fid_n)} samples per side, vs the "
          f"training split of {training.get('data')})")
    vheader = f"{'file':18s} {'bytes':>9s} {'size':>6s} {'max|diff|':>10s} {'median ms':>10s} {'FID':>9s} {'FID change':>10s}"
    print(vheader)
    print("-" * len(vheader))
    big = max(args.batches)
    latency = {r["runtime"]: r["median_ms"] for r in rows if r["batch"] == big}
    fp32_fid = next((v["fid"]["float32"] for v in variants.values() if isinstance(v, dict) and "float32" in v.get("fid", {})),
                    None)
    print(f"{'model.onnx':18s} {size32:9d} {1:6.0%} {0:10.1e} {latency['ort-tuned']:10.3f} "
          f"{fp32_fid if fp32_fid is not None else float('nan'):9.3f} {'':>10s}")
    for variant in ("fp16", "int8"):
        entry = variants[variant]
        fid = entry.get("fid") or {}
        if entry["status"] != "written" and "size" not in entry:  # the tool itself failed
            print(f"{variant:18s} {entry['reason']}")
            continue
        label = f"model.{variant}.onnx" if entry["status"] == "written" else f"{variant} (refused)"
        print(f"{label:18s} {entry['size']:9d} {entry['size_ratio']:6.0%} {entry['max_abs_diff']:10.1e} "
              f"{latency.get(f'ort-{variant}', float('nan')):10.3f} {fid.get('variant', float('nan')):9.3f} "
              f"{fid.get('relative_change', float('nan')):+10.2%}")
        if entry["status"] != "written":
            print(f"  {entry['reason']}")

    result = {"model": meta, "run": args.run, "export_seconds": export_s, "parity": parity, "rows": rows,
              "graph": graph, "onnx_variants": variants, "cpus": os.cpu_count(), "load_average": os.getloadavg(),
              "tensorflow": tf.__version__, "onnxruntime": ort.__version__}
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str))
        print(f"\nwrote {out}")
    return result


if __name__ == "__main__":
    main()
