"""FID after the same training steps in float32 and in mixed precision (issue 30, part 4): they
must agree within the metric's noise, measured here as the spread between training seeds.

    python benchmarks/precision_fid.py [--model dcgan] [--steps 300] [--seeds 0,1] [--n 500]
                                       [--mixed mixed_bfloat16] [--json benchmarks/out/precision_fid.json]

Each (precision, seed) is a `keras-gen train` run (keras_gen.training.train) on 16 px digits,
scored by `keras-gen evaluate`'s domain FID (keras_gen.evaluation.evaluate_path, EMA weights where
kept). The noise is the largest FID difference between two seeds of one precision; the verdict
compares the mean FIDs of the two precisions with it. On a CPU mixed_bfloat16 is the mixed policy
worth timing (float16 is emulated there); on a GPU pass --mixed mixed_float16 (loss scaling).
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--n", type=int, default=500, help="samples per FID")
    parser.add_argument("--mixed", default="mixed_bfloat16", choices=("mixed_float16", "mixed_bfloat16"))
    parser.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                        help="model options (repeatable); default base_filters=32")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    args.set = args.set or ["base_filters=32"]

    from keras_gen import registry
    from keras_gen.evaluation import evaluate_path
    from keras_gen.training import RunConfig, train

    options = registry.parse_options(registry.get(args.model), args.set)
    seeds = [int(s) for s in args.seeds.split(",")]
    epochs, steps_per_epoch = max(1, args.steps // 100), min(args.steps, 100)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kg-precision-fid-") as tmp:
        for precision in ("float32", args.mixed):
            for seed in seeds:
                run = Path(tmp) / f"{precision}-{seed}"
                started = time.time()
                train(run, RunConfig(args.model, data="digits", image_size=args.image_size, batch_size=args.batch_size,
                                     epochs=epochs, steps_per_epoch=steps_per_epoch, seed=seed, options=options,
                                     precision=precision), verbose=0)
                seconds = time.time() - started
                fid = float(evaluate_path(run, metrics="fid", n=args.n, seed=0)["metrics"]["fid"]["generated"])
                rows.append({"precision": precision, "seed": seed, "fid": fid, "train_s": seconds})
                print(f"  {precision} seed {seed}: FID {fid:.3f} after {epochs * steps_per_epoch} steps "
                      f"({seconds:.0f} s)", flush=True)

    by = {p: [r["fid"] for r in rows if r["precision"] == p] for p in ("float32", args.mixed)}
    noise = max(max(v) - min(v) for v in by.values()) if len(seeds) > 1 else float("nan")
    gap = abs(statistics.mean(by[args.mixed]) - statistics.mean(by["float32"]))
    print(f"\n{args.model} {args.image_size} px digits, {epochs * steps_per_epoch} steps of batch {args.batch_size}, "
          f"{' '.join(args.set)}, domain FID of {args.n} samples (EMA weights where kept)\n")
    print("| precision | " + " | ".join(f"FID seed {s}" for s in seeds) + " | mean | train s (mean) |")
    print("|---|" + "---:|" * (len(seeds) + 2))
    for precision, values in by.items():
        seconds = statistics.mean(r["train_s"] for r in rows if r["precision"] == precision)
        print(f"| {precision} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {statistics.mean(values):.3f} | "
              f"{seconds:.0f} |")
    verdict = "agree" if gap <= noise else "DIFFER"
    print(f"\nmean FID gap {gap:.3f} vs seed-to-seed noise {noise:.3f}: {verdict} within the metric's noise")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows, "gap": gap, "noise": noise}, indent=1))


if __name__ == "__main__":
    main()
