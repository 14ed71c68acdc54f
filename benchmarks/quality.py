"""Sample quality of every registered generator on the bundled digits, with context.

Each generator is trained for a fixed budget, then scored with domain FID/KID and precision /
recall (features of the project's digits classifier) beside:
  - the floor: the test split scored against the train split (a perfect model's figure);
  - trivial baselines: Gaussian noise, and the mean training image plus per-pixel noise.
Every model row also gives its FID as a ratio to the floor and to the mean-image baseline, so
the figures mean something without a reference table. A class-conditional model (one that
declares an input of kind "label") also gets label accuracy: how often the digits classifier
names the class its samples were drawn for, beside the classifier's accuracy on real test digits.

    python benchmarks/quality.py [--epochs 40] [--n 1000] [--results docs/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_gen import registry  # noqa: E402
from keras_gen.data import load_arrays  # noqa: E402
from keras_gen.evaluation import LABELS, Evaluator, capabilities  # noqa: E402
from keras_gen.training import RunConfig, train  # noqa: E402

# Budgets per model: what a 2-core CPU trains in a few minutes on digits.
BUDGETS = {"dcgan": {"epochs": 60, "options": {}}, "cdcgan": {"epochs": 60, "options": {}}}


def trivial_baselines(n: int, size: int, seed: int) -> dict[str, np.ndarray]:
    train_images, _, _ = load_arrays("digits", "train", image_size=size, channels=1)
    rng = np.random.default_rng(seed)
    mean, std = train_images.mean(0), train_images.std(0)
    return {
        "baseline: gaussian noise": np.clip(rng.normal(0.0, 0.5, (n, size, size, 1)), -1, 1).astype(np.float32),
        "baseline: mean image + noise": np.clip(mean + std * rng.standard_normal((n, size, size, 1)), -1, 1)
        .astype(np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="override every model's epoch budget")
    parser.add_argument("--n", type=int, default=2000, help="generated samples per model (and real images at most)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/out/quality", help="run folders (ignored by git)")
    parser.add_argument("--results", default=None, help="also write the table into this Markdown file")
    args = parser.parse_args()

    size = 16  # every budget trains at 16 px: digits are 8x8 originals, so nothing is lost
    evaluator = Evaluator("digits", image_size=size, channels=1, n_real=args.n, seed=args.seed)
    metrics = ("fid", "kid", "pr")
    rows = []

    def add_row(name, report, seconds=None):
        report = report["metrics"]
        label = report.get("label_accuracy")
        rows.append({"name": name, "fid": report["fid"]["generated_matched"], "kid": report["kid"]["generated_matched"],
                     "precision": report["precision"]["generated_matched"],
                     "recall": report["recall"]["generated_matched"], "seconds": seconds,
                     "label_acc": label["generated"] if label else None,
                     "floor": {k: report[k]["floor"] for k in ("fid", "kid", "precision", "recall")}})

    for name, images in trivial_baselines(args.n, size, args.seed).items():
        add_row(name, evaluator.evaluate(images, metrics))
    for name in registry.names():
        budget = BUDGETS.get(name, {"epochs": 20, "options": {}})
        run = Path(args.out) / name
        shutil.rmtree(run, ignore_errors=True)
        start = time.time()
        train(run, RunConfig(name, data="digits", image_size=size, epochs=args.epochs or budget["epochs"],
                             options=dict(budget["options"]), seed=args.seed), verbose=0)
        seconds = time.time() - start
        from keras_gen.runs import load_run

        model, _ = load_run(run)
        # The evaluator draws what the model can feed: a conditional model samples every class in turn.
        names = [*metrics, *(["label_acc"] if LABELS in capabilities(model) else [])]
        add_row(f"{name} ({args.epochs or budget['epochs']} epochs)",
                evaluator.evaluate_model(model, names, n=args.n, seed=args.seed + 1), seconds)

    floor = rows[0]["floor"]
    mean_fid = rows[1]["fid"]
    n_matched = min(args.n, len(evaluator.test["features"]))
    # A label-accuracy column only when some model is conditional; its floor is the classifier on real digits.
    with_labels = any(r["label_acc"] is not None for r in rows)
    label_col = lambda value: (f" {value:.3f} |" if value is not None else " - |") if with_labels else ""  # noqa: E731
    lines = [
        f"Domain features: digits classifier (test accuracy {evaluator.extractor.test_accuracy:.3f}); "
        f"every figure on n={n_matched} samples against {len(evaluator.train['features'])} train images.",
        "",
        "| generator | FID | KID x1000 | precision | recall |" + (" label acc |" if with_labels else "")
        + " FID / floor | FID / mean-image baseline | train s |",
        "|---|---|---|---|---|" + ("---|" if with_labels else "") + "---|---|---|",
        f"| floor: test split vs train | {floor['fid']:.2f} | {floor['kid'] * 1000:.2f} | {floor['precision']:.3f} | "
        f"{floor['recall']:.3f} |" + label_col(evaluator.label_floor["accuracy"] if with_labels else None)
        + f" 1.00 | {floor['fid'] / mean_fid:.3f} | - |",
    ]
    for r in rows:
        secs = f"{r['seconds']:.0f}" if r["seconds"] else "-"
        lines.append(f"| {r['name']} | {r['fid']:.2f} | {r['kid'] * 1000:.2f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} |" + label_col(r["label_acc"])
                     + f" {r['fid'] / floor['fid']:.1f} | {r['fid'] / mean_fid:.3f} | {secs} |")
    table = "\n".join(lines)
    print(table)
    if args.results:
        command = "python benchmarks/quality.py " + " ".join(sys.argv[1:])
        text = (f"# Results\n\n## Sample quality on digits (domain features)\n\nMade with `{command.strip()}` "
                f"on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} CPU cores).\n\n{table}\n\n"
                "Lower FID/KID is better; the floor is what fresh real images score with the same sample "
                "size. Domain figures compare only with domain figures on the same data and classifier.\n")
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(text)
        print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
