"""Quality of every registered model on bundled data, each figure beside its floor and baselines.

Each model is trained for a fixed budget (BUDGETS; 16 px unless a row names its own `image_size`,
a few minutes on a 2-core CPU each),
then scored with every default metric it can feed (keras_gen.evaluation.metrics_for), in up to
three tables:

  samples        domain FID/KID and precision/recall (features of the project's classifier of
                 the data set), and for class-conditional models label accuracy (overall and
                 the worst class), beside the real-vs-real floor (the test split against the
                 train split) and two trivial baselines (Gaussian noise; the mean training image
                 plus per-pixel noise). FID is also given as a ratio to the floor and to the
                 mean-image baseline.
  likelihood     test NLL in bits/dim of likelihood models (VAE: importance-weighted, k samples;
                 PixelCNN: exact), beside the independent-pixel model (one 256-level histogram
                 per pixel position of the train split) and the uniform 8 bits; the ratio says
                 how many times fewer bits the model needs than the independent-pixel model.
  reconstruction PSNR/SSIM of test images reconstructed by autoencoders (and VQ-VAE's codebook
                 perplexity and usage on the test split), beside the mean-image baseline.
  classification test accuracy of models that are also classifiers (ssgan's D, from all or a few
                 labels per class) on the whole test split, beside the domain classifier (all labels).

    python benchmarks/quality.py [--models dcgan,vae] [--epochs 5] [--n 1000] [--results docs/RESULTS.md [--merge]]

--merge replaces (or adds) only the rows this run scored in --results's tables and keeps the
others, so that a few models can be added to a full run's file.

Models that train on two domains (faceswap) are listed as skipped: their check is the face-swap
test and notebook, not a distribution metric.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_gen import registry  # noqa: E402
from keras_gen.data import load_arrays  # noqa: E402
from keras_gen.core.errors import KerasGenError  # noqa: E402
from keras_gen.evaluation import Evaluator, metrics_for  # noqa: E402
from keras_gen.training import RunConfig, train  # noqa: E402

SIZE = 16  # budgets train at 16 px unless they say otherwise: digits are 8x8 originals, so nothing is lost
# Budgets per row: what a 2-core CPU trains in a few minutes. A row is a registered model with
# options; `data` defaults to digits, `image_size` to SIZE (a row at another size is scored in its
# own table, against the floor and baselines at that size). Registered models without a row get
# DEFAULT_BUDGET.
BUDGETS = {
    "dcgan": {"epochs": 60},
    "cdcgan": {"epochs": 60},
    "autoencoder": {"epochs": 30},
    # the default decoder is the discretised logistic; the other two are the likelihoods it replaced
    "vae": {"epochs": 60},
    "vae (gaussian likelihood)": {"model": "vae", "epochs": 60, "options": {"likelihood": "gaussian"}},
    "vae (bernoulli likelihood)": {"model": "vae", "epochs": 60, "options": {"likelihood": "bernoulli"}},
    "cvae": {"epochs": 60},
    "vqvae": {"epochs": 40},
    # CPU-sized PixelCNNs (the default 64 filters take ~3x longer a step)
    "pixelcnn": {"epochs": 30, "options": {"filters": 32}},
    "cpixelcnn": {"epochs": 30, "options": {"filters": 32}},
    "glo": {"epochs": 60},
    # 5 critic updates per generator update: 150 epochs are 660 generator steps
    "wgan": {"epochs": 150},
    "wgan_gp": {"epochs": 150},
    # at 32 px, the shapes classifier's own size: at 16 px small stars and crosses lose their corners
    "chairs": {"epochs": 80, "data": "shapes", "image_size": 32},
    # the adversarial family at DCGAN's budget; ssgan also with few labels (its classification table)
    "acgan": {"epochs": 60},
    "infogan": {"epochs": 60},
    "ssgan": {"epochs": 60},
    "ssgan (10 labels per class)": {"model": "ssgan", "epochs": 60, "options": {"labels_per_class": 10}},
    "ssgan (50 labels per class)": {"model": "ssgan", "epochs": 60, "options": {"labels_per_class": 50}},
    # the grown GANs at DCGAN's budget (60 epochs = 1,320 steps = 84k images). LAPGAN's coarsest level
    # must be 8 px: 2 levels (8, 16) at 16 px. StyleGAN's defaults (widths 32-128, 4 mapping layers)
    # are CPU-sized already. ProGAN builds and runs every stage each step with WGAN-GP (~1.6 s a step
    # under load, 25x DCGAN): half the budget, and at 16 px it is fully grown after 4 phases of
    # 3,000 images, 12k images (epoch 9 of 30), so 72% of the budget trains the 16 px stage.
    "lapgan": {"epochs": 60, "options": {"levels": 2}},
    "progan": {"epochs": 30, "options": {"phase_images": 3000}},
    "stylegan": {"epochs": 60},
}
DEFAULT_BUDGET = {"epochs": 20}
TWO_DOMAIN_KINDS = ("paired", "unpaired")


def trivial_baselines(data: str, n: int, channels: int, seed: int, size: int = SIZE) -> dict[str, np.ndarray]:
    train_images, _, _ = load_arrays(data, "train", image_size=size, channels=channels)
    rng = np.random.default_rng(seed)
    mean, std = train_images.mean(0), train_images.std(0)
    shape = (n, size, size, channels)
    return {
        "baseline: gaussian noise": np.clip(rng.normal(0.0, 0.5, shape), -1, 1).astype(np.float32),
        "baseline: mean image + noise": np.clip(mean + std * rng.standard_normal(shape), -1, 1).astype(np.float32),
    }


def table_name(data: str, size: int) -> str:
    """What a table of rows on `data` at `size` px is called: the data alone at SIZE."""
    return data if size == SIZE else f"{data} at {size} px"


def rows_to_run(selected: list[str] | None) -> dict[str, dict]:
    """{row name: budget} for the registered models (all, or those named), each budget filled in."""
    known = set(registry.names())
    rows = {name: {"model": name, **budget} for name, budget in BUDGETS.items()}
    rows = {k: v for k, v in rows.items() if v["model"] in known}
    for name in sorted(known - {v["model"] for v in rows.values()}):
        rows[name] = {"model": name, **DEFAULT_BUDGET}
    if selected:
        unknown = [s for s in selected if s not in known]
        if unknown:
            raise SystemExit(f"unknown model(s) {', '.join(unknown)}; registered: {', '.join(sorted(known))}")
        rows = {k: v for k, v in rows.items() if v["model"] in selected}
    return rows


def codebook_statistics(model, images) -> dict | None:
    """VQ-VAE codebook perplexity exp(H(codes)) and usage (share of codes used) on `images`."""
    if not callable(getattr(model, "encode", None)) or not hasattr(getattr(model, "options", None), "num_codes"):
        return None
    codes = np.asarray(model.encode(images)).reshape(-1)
    p = np.bincount(codes, minlength=model.options.num_codes) / codes.size
    entropy = -np.sum(p[p > 0] * np.log(p[p > 0]))
    return {"perplexity": float(np.exp(entropy)), "usage": float(np.mean(p > 0)), "num_codes": model.options.num_codes}


class Tables:
    """The three tables' rows, filled as models are scored, printed as Markdown."""

    def __init__(self):
        self.samples: dict[str, list] = {}  # data set -> rows
        self.floors: dict[str, dict] = {}  # data set -> floor figures
        self.likelihood, self.reconstruction, self.classification, self.notes = [], [], [], []

    def add(self, data: str, name: str, report: dict, seconds: float | None = None, codebook: dict | None = None):
        m = report["metrics"]
        if "fid" in m:
            label = m.get("label_accuracy")
            per_class = [v for v in (label or {}).get("per_class", []) if v is not None]
            self.samples.setdefault(data, []).append({
                "name": name, "seconds": seconds, **{k: m[k]["generated_matched"] for k in ("fid", "kid")},
                **{k: m[k]["generated_matched"] for k in ("precision", "recall") if k in m},
                "label_acc": label["generated"] if label else None,
                "worst_class": min(per_class) if per_class else None})
            self.floors.setdefault(data, {
                "fid": m["fid"]["floor"], "kid": m["kid"]["floor"], "precision": m.get("precision", {}).get("floor"),
                "recall": m.get("recall", {}).get("floor"),
                "label_acc": label["floor"] if label else None})
            if label and self.floors[data]["label_acc"] is None:
                self.floors[data]["label_acc"] = label["floor"]
        if "bpd" in m:
            self.likelihood.append({"name": name, "data": data, "bpd": m["bpd"]["generated"],
                                    "independent": m["bpd"]["floor"], "seconds": seconds})
        if "psnr" in m:
            self.reconstruction.append({"name": name, "data": data, "psnr": m["psnr"]["generated"],
                                        "psnr_floor": m["psnr"]["floor"], "ssim": m.get("ssim", {}).get("generated"),
                                        "ssim_floor": m.get("ssim", {}).get("floor"), "codebook": codebook,
                                        "seconds": seconds})

    def markdown(self, evaluators: dict) -> str:
        out = []
        for data, rows in self.samples.items():
            ev, floor = evaluators[data], self.floors[data]
            baseline = next((r for r in rows if r["name"] == "baseline: mean image + noise"), None)
            mean_fid = baseline["fid"] if baseline else float("nan")
            labels = any(r["label_acc"] is not None for r in rows)
            n = min(ev.n_real, len(ev.test["features"]))
            out += [f"### Samples on {data} (domain features)", "",
                    f"Features: the {data} classifier (test accuracy {ev.extractor.test_accuracy:.3f}); every figure on "
                    f"n={n} samples against {len(ev.train['features'])} train images.", "",
                    "| generator | FID | KID x1000 | precision | recall |"
                    + (" label acc | worst class |" if labels else "") + " FID / floor | FID / mean-image baseline | train s |",
                    "|---|---|---|---|---|" + ("---|---|" if labels else "") + "---|---|---|"]

            def cells(r):
                label = (f" {r['label_acc']:.3f} | {r['worst_class']:.3f} |" if r.get("label_acc") is not None
                         else " - | - |") if labels else ""
                fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
                secs = f"{r['seconds']:.0f}" if r.get("seconds") else "-"
                return (f"| {r['name']} | {r['fid']:.2f} | {r['kid'] * 1000:.2f} | {fmt(r.get('precision'), '.3f')} | "
                        f"{fmt(r.get('recall'), '.3f')} |{label} {r['fid'] / floor['fid']:.1f} | "
                        f"{r['fid'] / mean_fid:.3f} | {secs} |")

            floor_row = {"name": "floor: test split vs train", **floor, "worst_class": None}
            if labels and floor["label_acc"] is not None:
                floor_row["worst_class"] = min(v for v in ev.label_floor["per_class"] if not np.isnan(v))
            out += [cells(floor_row), *map(cells, rows), ""]
        if self.likelihood:
            out += ["### Likelihood (test split, bits/dim; lower is better)", "",
                    "| model | data | bits/dim | independent-pixel model | uniform | independent / model | train s |",
                    "|---|---|---|---|---|---|---|"]
            for r in self.likelihood:
                secs = f"{r['seconds']:.0f}" if r.get("seconds") else "-"
                out.append(f"| {r['name']} | {r['data']} | {r['bpd']:.3f} | {r['independent']:.3f} | 8.000 | "
                           f"{r['independent'] / r['bpd']:.2f}x | {secs} |")
            out.append("")
        if self.reconstruction:
            out += ["### Reconstruction (test split)", "",
                    "| model | data | PSNR dB | SSIM | PSNR of the mean image | codebook perplexity / K | codes used | train s |",
                    "|---|---|---|---|---|---|---|---|"]
            for r in self.reconstruction:
                cb = r["codebook"]
                secs = f"{r['seconds']:.0f}" if r.get("seconds") else "-"
                ssim = "-" if r["ssim"] is None else f"{r['ssim']:.3f}"
                out.append(f"| {r['name']} | {r['data']} | {r['psnr']:.2f} | {ssim} | {r['psnr_floor']:.2f} | "
                           + (f"{cb['perplexity']:.1f} / {cb['num_codes']} | {cb['usage']:.2f} |" if cb else "- | - |")
                           + f" {secs} |")
            out.append("")
        if self.classification:
            out += ["### Classification (test split)", "",
                    "| model | data | labels per class | test accuracy | domain classifier (all labels) | train s |",
                    "|---|---|---|---|---|---|"]
            for r in self.classification:
                secs = f"{r['seconds']:.0f}" if r.get("seconds") else "-"
                out.append(f"| {r['name']} | {r['data']} | {r['labels']} | {r['accuracy']:.3f} | "
                           f"{r['reference']:.3f} | {secs} |")
            out.append("")
        out += [f"- {note}" for note in self.notes]
        return "\n".join(out).rstrip() + "\n"


def _row_name(line: str) -> str | None:
    """A Markdown table row's first cell, or None for other lines (and header/separator rows)."""
    if not line.startswith("| ") or line.startswith("|---"):
        return None
    return line.split("|")[1].strip()


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def merge_tables(old: str, new: str) -> str:
    """`old` with each table row of `new` put in place of the row of the same name under the same
    ### heading (or after that table's last row), its cells put under `old`'s columns of the same
    name ("-" where `new` has none); sections `old` lacks are added before its notes."""
    lines = old.splitlines()
    sections: dict[str, list[str]] = {}
    heading = None
    for line in new.splitlines():
        if line.startswith("### "):
            heading = line
            sections[heading] = []
        elif heading is not None and (line or sections[heading]):
            sections[heading].append(line)
    for heading, body in sections.items():
        if heading not in lines:
            end = next((i for i, line in enumerate(lines) if line.startswith("- ") or line.startswith("Lower ")),
                       len(lines))
            body = [b for b in body if not b.startswith("- ")]
            while body and not body[-1]:
                body.pop()
            lines[end:end] = [heading, "", *body, ""]
            continue
        start = lines.index(heading) + 1
        table = [i for i in range(start, len(lines)) if lines[i].startswith("|")]
        table = [i for k, i in enumerate(table) if i == table[0] + k]  # the first table under the heading
        new_header = next(b for b in body if b.startswith("|"))
        old_columns, new_columns = _cells(lines[table[0]]), _cells(new_header)
        for row in (b for b in body if _row_name(b) and b != new_header):
            if new_columns != old_columns:  # e.g. a run with no conditional model has no label-accuracy columns
                values = dict(zip(new_columns, _cells(row)))
                row = "| " + " | ".join(values.get(column, "-") for column in old_columns) + " |"
            name = _row_name(row)
            hit = next((i for i in table if _row_name(lines[i]) == name), None)
            if hit is not None:
                lines[hit] = row
            elif _row_name(lines[table[0]]) != name and "|---" not in row:
                lines.insert(table[-1] + 1, row)
                table.append(table[-1] + 1)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated registered names (default: every model)")
    parser.add_argument("--epochs", type=int, default=None, help="override every model's epoch budget")
    parser.add_argument("--n", type=int, default=2000, help="generated samples per model (and real images at most)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/out/quality", help="run folders (ignored by git)")
    parser.add_argument("--results", default=None, help="also write the tables into this Markdown file")
    parser.add_argument("--merge", action="store_true", help="with --results: replace or add only this run's rows "
                                                             "in the file's tables, keep the rest")
    args = parser.parse_args()

    rows = rows_to_run(args.models.split(",") if args.models else None)
    tables, evaluators = Tables(), {}

    def evaluator_for(data: str, size: int) -> Evaluator:
        key = table_name(data, size)
        if key not in evaluators:
            channels = 1 if data == "digits" else 3
            evaluators[key] = ev = Evaluator(data, image_size=size, channels=channels, n_real=args.n, seed=args.seed)
            for name, images in trivial_baselines(data, args.n, channels, args.seed, size).items():
                tables.add(key, name, ev.evaluate(images, ("fid", "kid", "pr")))
        return evaluators[key]

    from keras_gen.runs import load_run

    for row, budget in rows.items():
        model_name, data, size = budget["model"], budget.get("data", "digits"), budget.get("image_size", SIZE)
        spec = registry.get(model_name)
        if spec.data_kind in TWO_DOMAIN_KINDS:
            tables.notes.append(f"{row}: trains on two domains ({spec.data_kind}); not scored here.")
            continue
        epochs = args.epochs or budget["epochs"]
        run = Path(args.out) / row.replace(" ", "_").replace("(", "").replace(")", "")
        shutil.rmtree(run, ignore_errors=True)
        start = time.time()
        try:
            train(run, RunConfig(model_name, data=data, image_size=size, epochs=epochs,
                                 options=dict(budget.get("options", {})), seed=args.seed), verbose=0)
        except KerasGenError as err:
            tables.notes.append(f"{row}: not trained on {data}: {err}")
            continue
        seconds = time.time() - start
        model, _ = load_run(run)
        ev = evaluator_for(data, size)
        report = ev.evaluate_model(model, metrics_for(model), n=args.n, seed=args.seed + 1)
        codebook = codebook_statistics(model, ev.real_test)
        tables.add(table_name(data, size), f"{row} ({epochs} epochs)", report, seconds, codebook)
        if callable(getattr(model, "test_accuracy", None)):  # a classifier too: score it on the whole test split
            test_images, test_labels, _ = load_arrays(data, "test", image_size=size, channels=ev.image_shape[-1])
            reference = ev.classifier.predict(test_images)
            per_class = model.options.labels_per_class
            tables.classification.append({
                "name": f"{row} ({epochs} epochs)", "data": data, "labels": per_class or "all",
                "accuracy": model.test_accuracy(test_images, test_labels),
                "reference": float(np.mean(np.asarray(reference) == np.asarray(test_labels))), "seconds": seconds})
        print(f"{row}: {', '.join(k for k in report['metrics'])} in {time.time() - start:.0f} s", flush=True)

    table = tables.markdown(evaluators)
    print(table)
    if args.results:
        command = "python benchmarks/quality.py " + " ".join(sys.argv[1:])
        if args.merge and Path(args.results).exists():
            old = Path(args.results).read_text()
            made = old.splitlines().index(next(line for line in old.splitlines() if line.startswith("Made with")))
            text = merge_tables(old, table).splitlines()
            text[made] += f" Rows of {', '.join(rows)} from `{command.strip()}` on {time.strftime('%Y-%m-%d')}."
            Path(args.results).write_text("\n".join(text) + "\n")
            print(f"\nmerged into {args.results}")
            return
        text = (f"# Results\n\nMade with `{command.strip()}` on {time.strftime('%Y-%m-%d')} "
                f"({os.cpu_count()} CPU cores).\n\n{table}\n"
                "Lower FID/KID and bits/dim are better; the floor is what fresh real images score with the same "
                "sample size. Domain figures compare only with domain figures on the same data and classifier. "
                f"Bits/dim of {math.log2(256):.0f} is a uniform distribution over the 256 levels.\n")
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(text)
        print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
