"""onnxruntime tuning for the fast stylizer: one image through fast_style (Johnson et al.'s widths,
fresh weights unless --run gives a trained one) on Keras, the SavedModel and onnxruntime opened
three ways, all in one process, rounds interleaved so that a shared machine's load falls on all
alike:

  ort plain    model.onnx with onnxruntime's default options (spinning worker threads), as any
               onnxruntime user opens the file
  edge before  the edge runner's session options (no spinning) on the file as it is: what
               `keras-gen sample` / `serve` ran before the narrow-Conv rewrite
  edge         the runner's session now (keras_gen.core.edge.tuning.tuned_model + its options)

Per runtime: the median and the minimum wall time of a call, and the median process CPU time
(time.process_time: every thread of this process; on a loaded machine wall time mostly measures
the load, CPU time the work). Ratios are against the SavedModel's median (wall) and CPU time.

    python benchmarks/style_ort.py [--run runs/fast_style] [--sizes 256,512] [--repeats 5] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import tensorflow as tf


def _runtimes(model, version: Path, threads: int) -> dict:
    import onnx
    import onnxruntime as ort

    from keras_gen.core.edge.runner import CPU, make_session
    from keras_gen.core.edge.tuning import count_ops, session_options, tuned_model

    path = str(version / "model.onnx")
    channels, n = model.channels, model.num_styles
    keras_fn = tf.function(lambda x, w: model.transformer([x, w], training=False),
                           input_signature=[tf.TensorSpec([None, None, None, channels]), tf.TensorSpec([None, n])])
    signature = tf.saved_model.load(str(version)).signatures["generate"]
    plain = ort.InferenceSession(path, providers=[CPU])
    before = ort.InferenceSession(path, session_options(True, threads), providers=[CPU])
    edge = make_session(path, providers=[CPU], threads=threads)
    rewritten, counts = tuned_model(onnx.load(path))
    print(f"narrow-Conv rewrite: {counts}; Conv {count_ops(rewritten, 'Conv')}, SpaceToDepth "
          f"{count_ops(rewritten, 'SpaceToDepth')}")
    feed = lambda s: lambda x, w: s.run(None, {"image": x, "style": w})
    return {"Keras": lambda x, w: keras_fn(x, w).numpy(),
            "SavedModel": lambda x, w: signature(image=tf.constant(x), style=tf.constant(w))["images"].numpy(),
            "ort plain": feed(plain), "edge before": feed(before), "edge": feed(edge)}


def measure(runtimes: dict, x, w, repeats: int) -> dict:
    """{name: (median wall, min wall, median CPU)}, rounds interleaved, after one warm-up each."""
    walls = {name: [] for name in runtimes}
    cpus = {name: [] for name in runtimes}
    outputs = {name: np.asarray(fn(x, w)).reshape(-1) for name, fn in runtimes.items()}
    for name in runtimes:
        assert np.abs(outputs[name] - outputs["SavedModel"]).max() <= 1e-4, name  # the same network everywhere
    for _ in range(repeats):
        for name, fn in runtimes.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn(x, w)
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return {name: (statistics.median(walls[name]), min(walls[name]), statistics.median(cpus[name])) for name in runtimes}


def main() -> None:
    from style import _fast_model

    from export import export_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=None)
    parser.add_argument("--sizes", default="256,512", help="comma-separated sides in pixels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: one per core)")
    args = parser.parse_args()
    model = _fast_model(args.run)
    with tempfile.TemporaryDirectory(prefix="style-ort-") as tmp:
        version = Path(export_model(model, tmp, name="fast_style", training_info={"data": "none", "steps": 0}))
        runtimes = _runtimes(model, version, args.threads)
        print(f"fast_style, one image, {args.repeats} interleaved rounds; filters {model.options.filters}, "
              f"{model.options.residual_blocks} residual blocks; onnxruntime threads {args.threads or 'auto'}; "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"{'px':>5} {'runtime':>12} {'wall s':>8} {'min s':>8} {'CPU s':>8} {'wall/SM':>8} {'CPU/SM':>7}")
        for size in [int(s) for s in args.sizes.split(",")]:
            x = np.random.default_rng(0).uniform(-1, 1, (1, size, size, model.channels)).astype("float32")
            w = np.eye(model.num_styles, dtype="float32")[:1]
            rows = measure(runtimes, x, w, args.repeats)
            sm = rows["SavedModel"]
            for name, (wall, low, cpu) in rows.items():
                print(f"{size:>5} {name:>12} {wall:>8.3f} {low:>8.3f} {cpu:>8.3f} {wall / sm[0]:>8.2f} {cpu / sm[2]:>7.2f}")
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
