"""The explicit-density models side by side on 16 px digits: test bits/dim and sampling time.

Each row trains a registered likelihood model for a fixed number of epochs (ROWS; a bounded
budget, a few CPU minutes each on a 2-core machine), then scores it on the whole test split:

  bits/dim      `keras-gen evaluate --metrics bpd`'s figure: PixelCNN and PixelRNN exact
                (discrete, 256-way softmax), flows from their density over uniformly
                dequantised pixels (an upper bound on a discrete model's NLL, so the figures
                compare), beside the independent-pixel model (a 256-level histogram per pixel
                position of the train split) and the uniform 8 bits;
  sample s/img  seconds per image of a 64-image request through `model.sample` (the Keras
                model; the loop models' tf.while_loop), after one warm-up request that traces it.

    python benchmarks/density.py [--rows realnvp,glow,pixelrnn] [--epochs N] [--out benchmarks/out/density]

Prints a Markdown table; docs/models/density.md holds a run's figures.

    python benchmarks/density.py --sampling [--rows ...] [--n 64] [--rounds 3]

times sampling alone, every row in one process at one thread count (TF_NUM_INTRAOP_THREADS /
TF_NUM_INTEROP_THREADS, printed), so the rows compare under the same load: each row's model is
built at its options (a sample costs the same whatever the weights) and sampled as a traced
graph, as the exports serve it (graph_sampler), warmed up, then timed in `--rounds` interleaved
rounds (every row once a round, so a change of load touches all); the table gives each row's fastest round and median, and the
ratio of PixelCNN's seconds per image to each row's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

SIZE = 16
# Row name -> model and options; CPU-sized networks, epochs of 1,437 digits at batch 64 (22 steps).
ROWS = {
    "realnvp": {"model": "realnvp", "epochs": 10, "options": {}},
    "glow": {"model": "glow", "epochs": 10, "options": {"width": 32, "steps": 4}},
    # the autoregressive models at one budget; PixelCNN's 30-epoch figure is in docs/RESULTS.md
    "pixelrnn (row)": {"model": "pixelrnn", "epochs": 4, "options": {"units": 16, "layers": 2}},
    "pixelrnn (diagonal)": {"model": "pixelrnn", "epochs": 4,
                            "options": {"units": 16, "layers": 2, "lstm": "diagonal"}},
    "pixelcnn": {"model": "pixelcnn", "epochs": 4, "options": {"filters": 32}},
}


def sample_seconds(model, n: int = 64) -> float:
    model.sample(n, seed=0)  # traces the sampler
    start = time.perf_counter()
    model.sample(n, seed=1)
    return (time.perf_counter() - start) / n


def graph_sampler(model):
    """(n, seed) -> images, run as a traced graph for every model, as the exports serve them: the
    loop models' `model.sample` is already a tf.while_loop in a tf.function; a direct model's
    (a flow's one inverse call) is wrapped in one here, where `model.sample` would call it eagerly."""
    import tensorflow as tf

    from keras_gen import inputs as kinds

    if model.sampler() is not None:
        return lambda n, seed: model.sample(n, seed=seed)
    generate = tf.function(lambda values: model.generate(**values))

    def sample(n, seed):
        values = kinds.resolve_inputs(model.request_specs(), n, seed)
        return np.asarray(generate({k: tf.constant(v) for k, v in values.items()}))

    return sample


def sampling_table(rows: list[str], n: int, rounds: int, seed: int) -> list[str]:
    """Markdown lines: each row's seconds per image (fastest and median of `rounds`) and PixelCNN's
    over it, all timed in this process (module docstring)."""
    import statistics

    from keras_gen import registry

    samplers = {}
    for row in rows:
        spec = ROWS[row]
        samplers[row] = graph_sampler(registry.build(spec["model"], image_size=SIZE, channels=1, **spec["options"]))
        samplers[row](n, seed)  # builds the model and traces its sampler at this n
    times = {row: [] for row in rows}
    for round_ in range(rounds):
        for row in rows:
            start = time.perf_counter()
            samplers[row](n, seed + 1 + round_)
            times[row].append((time.perf_counter() - start) / n)
        print(f"round {round_ + 1}: " + ", ".join(f"{row} {times[row][-1]:.4f}" for row in rows), flush=True)
    threads = (f"TF_NUM_INTRAOP_THREADS={os.environ.get('TF_NUM_INTRAOP_THREADS', 'unset')}, "
               f"TF_NUM_INTEROP_THREADS={os.environ.get('TF_NUM_INTEROP_THREADS', 'unset')} (TensorFlow's own settings)")
    lines = [f"sampling {n} images a request, 16 px digits, {rounds} interleaved rounds, one process; threads: {threads}",
             "", "| model | sample s/img (fastest) | median | pixelcnn s/img / this |", "|---|---|---|---|"]
    base = min(times["pixelcnn"]) if "pixelcnn" in times else None
    for row in rows:
        fastest = min(times[row])
        ratio = f"{base / fastest:.0f}x" if base else "- (no pixelcnn row)"
        lines.append(f"| {row} | {fastest:.4f} | {statistics.median(times[row]):.4f} | {ratio} |")
    return lines


def row_folder(row: str) -> str:
    return row.replace(" ", "_").replace("(", "").replace(")", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=None, help=f"comma-separated rows of {', '.join(ROWS)} (default: all)")
    parser.add_argument("--epochs", type=int, default=None, help="override every row's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/out/density", help="run folders (ignored by git)")
    parser.add_argument("--sampling", action="store_true", help="time sampling only (module docstring)")
    parser.add_argument("--n", type=int, default=64, help="--sampling: images a request")
    parser.add_argument("--rounds", type=int, default=3, help="--sampling: interleaved timing rounds")
    args = parser.parse_args()

    from keras_gen.evaluation import Evaluator
    from keras_gen.runs import load_run
    from keras_gen.training import RunConfig, train

    rows = args.rows.split(",") if args.rows else list(ROWS)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row(s) {', '.join(unknown)}; rows: {', '.join(ROWS)}")
    if args.sampling:
        print("\n".join(sampling_table(rows, args.n, args.rounds, args.seed)))
        return
    evaluator = Evaluator("digits", image_size=SIZE, channels=1, n_real=2000, seed=args.seed)
    lines = ["| model | epochs | test bits/dim | independent pixels | uniform | vs independent | train s | "
             "sample s/img |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        spec = ROWS[row]
        epochs = args.epochs or spec["epochs"]
        run = Path(args.out) / row_folder(row)
        shutil.rmtree(run, ignore_errors=True)
        start = time.time()
        train(run, RunConfig(spec["model"], data="digits", image_size=SIZE, epochs=epochs,
                             options=dict(spec["options"]), seed=args.seed), verbose=0)
        seconds = time.time() - start
        model, _ = load_run(run)
        bpd = evaluator.evaluate_model(model, ["bpd"], seed=args.seed + 1)["metrics"]["bpd"]
        per_image = sample_seconds(model)
        gain = 1.0 - bpd["generated"] / bpd["floor"]
        lines.append(f"| {row} | {epochs} | {bpd['generated']:.3f} | {bpd['floor']:.3f} | 8.000 | "
                     f"{abs(100 * gain):.0f}% {'fewer' if gain >= 0 else 'more'} bits | {seconds:.0f} | {per_image:.4f} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
