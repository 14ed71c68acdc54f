"""Diffusion on digits: training speed, the sampler's speed/quality trade-off, and guidance.

Three tables, every figure beside a baseline measured in the same run:

  training       images/s of a ddpm train step against dcgan's (the project's GAN baseline), timed
                 back to back in this process on the same batches, and the wall time each benchmark
                 run trained for.
  samplers       seconds per image and domain FID/KID, precision/recall of ddpm sampled by DDPM's
                 ancestral chain over all T = 1000 steps against DDIM with 100/50/20/10 steps
                 at the library's default eta (DEFAULT_ETA, 0.5: the default request, whatever eta
                 the run's config recorded), beside the real-vs-real floor and DCGAN's samples: FID / floor,
                 FID / DCGAN's, FID / DDPM-1000's and the speed-up over DDPM-1000, and the share of
                 samples rougher than every real test image (mean |Laplacian|, speckle noise).
                 `--sampler-row ddpm_cosine` measures the CPU-sized model of docs/models/diffusion.md instead (16 px,
                 cosine schedule, 30 x 64 steps: the configuration in which DDIM left one sample in
                 eight as speckle noise, issue 27), into its own section with `--section`.
                 `--ddim-etas 0,1` adds DDIM-50 rows at those eta (0: the deterministic chain);
                 every DDIM row names its eta. `--noise-seeds 0,1,2,3` scores DDIM-50 (default eta)
                 and DDPM-50 again at those samples' seeds, and the targets read DDIM-50's gap to
                 DDPM-T (at the default eta; the other eta rows' gaps beside it) against that seed
                 noise of FID at the same n.
  guidance       cddpm sampled by DDIM-50 (default eta) at guidance scale 0 (unconditional), 1 (conditional),
                 3 and 5: per-class accuracy of the domain classifier (mean and worst class), FID
                 and recall (diversity): guidance buys class fidelity with variety.

    python benchmarks/diffusion.py --minutes 30 [--n 500] [--n-ddpm 100] [--results docs/BENCHMARKS.md]
    python benchmarks/diffusion.py --stage train --rows ddpm --minutes 45   # train one row (background jobs)
    python benchmarks/diffusion.py --stage evaluate --results docs/BENCHMARKS.md   # score trained rows
    python benchmarks/diffusion.py --quick                                   # smoke run, ~minutes
    python benchmarks/diffusion.py --stage evaluate --tables guidance --json B.json   # one table per process
    python benchmarks/diffusion.py --stage evaluate --merge A.json B.json --results docs/BENCHMARKS.md
    python benchmarks/diffusion.py --stage train --rows ddpm_cosine      # docs/models/diffusion.md's 16 px cosine run
    python benchmarks/diffusion.py --stage evaluate --tables samplers --sampler-row ddpm_cosine \
        --ddim-etas 0,1 --noise-seeds 0,1,2,3 --section "diffusion cosine" --results docs/BENCHMARKS.md

Each row trains for a budget of the issue's 2-core machine (`--minutes` M: M x 60 x 2 seconds of the
training process's CPU time; a callback stops it at the end of an epoch) into OUT/ROW. CPU time
rather than wall time, so that other jobs on the machine mostly stretch the wall time instead of
cutting the training (threads that spin-wait under contention still cost some of the budget;
`--threads 1` has none, and runs a row on one core, so two rows can train side by side).
A row with its own `epochs` x `steps_per_epoch` (ddpm_cosine: docs/models/diffusion.md's run) trains exactly
that many steps instead. `--stage evaluate` (or `all` with `--reuse`) scores what is there. The issue's
targets (32 px digits, 30 CPU minutes of training on 2 cores): DDPM's FID at most 2x the floor;
DDIM-50 within 16% of DDPM-1000's FID at 15x less sampling time or better; guided per-class
accuracy of at least 95%. The tables say which are met.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.docs_sections import write_section  # noqa: E402
from benchmarks.run_budget import TimeBudget  # noqa: E402
from keras_gen.core.samplers.ddim import DEFAULT_ETA  # noqa: E402

CORES = 2  # the machine: a training budget of M minutes is M x 60 x 2 CPU seconds
SIZE = 32  # the issue's; --image-size 16 when the CPU is shared (digits are 8 px originals)
# A CPU-sized U-Net (Ho et al.'s is 128 wide with 2 blocks a level): ~1.1 M parameters, ~4 ms an
# image a step on one core. sample_steps only sets the per-epoch preview grid's DDIM steps.
UNET = {"filters": 32, "channel_multipliers": "1,2,2", "blocks": 1, "attention_resolution": 8, "groups": 8,
        "sample_steps": 10}
# The CPU-sized model of docs/models/diffusion.md (`keras-gen train ddpm --data digits --image-size 16 --set filters=32
# --set channel_multipliers=1,2 --set blocks=1 --set schedule=cosine`, 30 epochs of 64 steps); it predicts v and
# trains with Min-SNR-5 loss weights, the cosine schedule's defaults (prediction=auto, loss_weighting=auto;
# docs/BENCHMARKS.md, "third look": epsilon's DDIM-50 scored 5.29, v's 3.55; "fourth look": min-SNR's)
README_UNET = {"filters": 32, "channel_multipliers": "1,2", "blocks": 1, "schedule": "cosine"}
ROWS = {
    "ddpm": {"model": "ddpm", "options": UNET},
    "ddpm_cosine": {"model": "ddpm", "options": README_UNET, "image_size": 16, "epochs": 30, "steps_per_epoch": 64},
    "cddpm": {"model": "cddpm", "options": UNET},
    "dcgan": {"model": "dcgan", "options": {}},
}
QUICK_UNET = {"filters": 8, "channel_multipliers": "1,2", "blocks": 1, "attention_resolution": 8, "groups": 4,
              "sample_steps": 3}
STEPS_PER_EPOCH = 100  # preview grids and checkpoints every 100 steps, not every pass over 1.4k digits
DDIM_STEPS = (100, 50, 20, 10)
GUIDANCE = (0.0, 1.0, 3.0, 5.0)
TARGETS = {"fid_over_floor": 2.0, "ddim50_fid_gap": 0.16, "ddim50_speedup": 15.0, "guided_accuracy": 0.95,
           "rough": 0.0}


def train_row(out: Path, row: str, minutes: float, seed: int, quick: bool, size: int = SIZE) -> dict:
    """Train `row` for `minutes` of the 2-core machine (minutes x 60 x CORES CPU seconds), or for
    the row's own epochs x steps_per_epoch, into out/row; its record goes to out/row/benchmark.json."""
    from keras_gen.training import RunConfig, train

    spec = ROWS[row]
    options = dict(spec["options"])
    size = spec.get("image_size", size)
    fixed = "epochs" in spec  # a fixed number of steps, not a CPU budget
    if quick and spec["model"] != "dcgan":
        options.update(QUICK_UNET, timesteps=100)
    elif quick:
        options["base_filters"] = 8
    run = out / row
    shutil.rmtree(run, ignore_errors=True)
    budget = TimeBudget(float("inf") if fixed and not quick else minutes * 60 * CORES)
    epochs, steps_per_epoch = (spec["epochs"], spec["steps_per_epoch"]) if fixed else (100000, STEPS_PER_EPOCH)
    started, cpu = time.time(), time.process_time()
    train(run, RunConfig(spec["model"], data="digits", image_size=size, epochs=epochs, options=options, seed=seed,
                         steps_per_epoch=2 if quick else steps_per_epoch), callbacks=[budget], verbose=0)
    record = {"row": row, "model": spec["model"], "options": options, "image_size": size,
              "wall_s": time.time() - started, "steps": budget.steps, "batch_size": 64,
              "load_average": os.getloadavg(), "cpu_s": time.process_time() - cpu,
              "cpu_budget_s": None if fixed else minutes * 60 * CORES,
              "intra_op_threads": tf_threads(), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    (run / "benchmark.json").write_text(json.dumps(record, indent=1))
    print(f"{row}: {record['steps']} steps in {record['wall_s']:.0f} s wall ({record['cpu_s']:.0f} CPU s)", flush=True)
    return record


def tf_threads() -> int:
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads()


# -- training throughput -------------------------------------------------------------------------
def throughput(rows: list[str], steps: int, quick: bool, seed: int, size: int = SIZE) -> list[dict]:
    """images/s of each row's train step, timed back to back on the same random batches of 64."""
    import tensorflow as tf

    from keras_gen.registry import build

    table = []
    for row in rows:
        spec, options = ROWS[row], dict(ROWS[row]["options"])
        if quick:
            options.update(QUICK_UNET if spec["model"] != "dcgan" else {"base_filters": 8})
        keras.utils.set_random_seed(seed)
        conditional = spec["model"].startswith("c")
        model = build(spec["model"], image_size=spec.get("image_size", size), channels=1, num_classes=10 if conditional else None, **options)
        model.compile()
        rng = np.random.default_rng(seed)
        images = rng.uniform(-1, 1, (64, *model.image_shape)).astype(np.float32)
        batch = (images, rng.integers(0, 10, 64)) if conditional else images
        data = tf.data.Dataset.from_tensors(batch).repeat()
        model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)  # warm-up: tracing
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
        seconds = time.perf_counter() - start
        table.append({"row": row, "images_per_s": 64 * steps / seconds, "params": model.count_params()})
        print(f"throughput {row}: {table[-1]['images_per_s']:.1f} images/s", flush=True)
    return table


# -- sampling ------------------------------------------------------------------------------------
def timed_samples(model, n: int, seed: int, **request) -> tuple[np.ndarray, float]:
    """`model.sample` under its EMA weights, and the seconds it took (an untimed warm-up of the
    same request with one step traces the loop first, so the time is sampling only)."""
    with model.ema_weights():
        model.sample(n, seed, **{**request, **({"steps": 1} if "steps" in request else {})})
        start = time.perf_counter()
        images = model.sample(n, seed, **request)
        return images, time.perf_counter() - start


def score(ev, images, labels=None) -> dict:
    """Domain FID/KID/precision/recall (and label accuracy), and `rough`: the share of samples
    noisier than every real test image (mean |Laplacian|, keras_gen.metrics.roughness)."""
    from keras_gen.metrics.roughness import rougher_than

    metrics = ("fid", "kid", "pr") + (("label_acc",) if labels is not None else ())
    m = ev.evaluate(images, metrics, labels=labels)["metrics"]
    row = {k: m[k]["generated_matched"] for k in ("fid", "kid", "precision", "recall")}
    row["rough"] = rougher_than(images, ev.real_test)
    row.update({f"{k}_floor": m[k]["floor"] for k in ("fid", "kid", "precision", "recall")})
    if labels is not None:
        per_class = [v for v in m["label_accuracy"]["per_class"] if v is not None]
        row.update(accuracy=m["label_accuracy"]["generated"], worst_class=min(per_class),
                   accuracy_floor=m["label_accuracy"]["floor"])
    return row


def sampler_name(sampler: str, steps: int, eta: float | None) -> str:
    """A row's name: DDIM's says its eta (the default request's included), DDPM's has none."""
    return f"{sampler.upper()}-{steps}" + (f", eta {eta:g}" if sampler == "ddim" else "")


def sampler_rows(model, ev, n: int, n_ddpm: int, seed: int, conditions: dict, partial: Path | None = None,
                 etas: tuple = ()) -> list[dict]:
    """DDIM at the default eta (DEFAULT_ETA) at each of DDIM_STEPS, DDIM-50 at each other eta of
    `etas` (0: deterministic, 1: DDPM's variance), then DDPM over all T steps (the slow one last;
    with `partial`, the rows so far are written there after each); DDPM's row comes first. The
    eta is passed, not read from the run: a run saved while the default was 0 recorded eta 0."""
    T = model.options.timesteps
    rows = []
    plan = [*[("ddim", s, n, DEFAULT_ETA) for s in DDIM_STEPS if s <= T],
            *[("ddim", 50, n, float(e)) for e in etas if 50 <= T and float(e) != DEFAULT_ETA],
            ("ddpm", T, n_ddpm, None)]
    for sampler, steps, count, eta in plan:
        given = {k: (v[:count] if isinstance(v, np.ndarray) else v) for k, v in conditions.items()}
        eta_given = {} if eta is None else {"eta": eta}
        images, seconds = timed_samples(model, count, seed, sampler=sampler, steps=steps, **eta_given, **given)
        rows.append({"name": sampler_name(sampler, steps, eta), "steps": steps, "eta": eta, "n": count,
                     "default": eta is None or eta == DEFAULT_ETA, "s_per_image": seconds / count,
                     **score(ev, images)})
        print(f"{rows[-1]['name']}: {seconds / count:.3f} s/image, FID {rows[-1]['fid']:.2f}", flush=True)
        if partial:
            partial.write_text(json.dumps(rows, indent=1, default=float))
    return rows[-1:] + rows[:-1]


def seed_noise_rows(model, ev, n: int, seeds: list[int], conditions: dict) -> list[dict]:
    """FID of DDIM-50 (default eta) and DDPM-50 at each of `seeds` (the sampler table's seed among them):
    how far FID at this n moves with the samples' seed alone, against which a gap between two rows
    of the table is read. DDPM-1000 itself is too slow to repeat; DDPM-50 is the same ancestral
    sampler over 50 of its steps."""
    from keras_gen.metrics.roughness import rougher_than

    rows = []
    for sampler in ("ddim", "ddpm"):
        for seed in seeds:
            given = {k: (v[:n] if isinstance(v, np.ndarray) else v) for k, v in conditions.items()}
            eta = DEFAULT_ETA if sampler == "ddim" else None
            with model.ema_weights():
                images = model.sample(n, seed, sampler=sampler, steps=50, **({} if eta is None else {"eta": eta}),
                                      **given)
            m = ev.evaluate(images, ("fid",))["metrics"]["fid"]
            rows.append({"name": sampler_name(sampler, 50, eta), "eta": eta, "seed": seed, "n": n, "fid": m["generated_matched"],
                         "rough": rougher_than(images, ev.real_test)})
            print(f"seed noise {rows[-1]['name']} seed {seed}: FID {rows[-1]['fid']:.2f}", flush=True)
    return rows


def noise_summary(rows: list[dict]) -> dict:
    """{sampler name: (mean, sample sd, min, max, seeds)} of seed_noise_rows."""
    out = {}
    for name in dict.fromkeys(r["name"] for r in rows):
        fids = np.array([r["fid"] for r in rows if r["name"] == name])
        out[name] = (float(fids.mean()), float(fids.std(ddof=1)) if len(fids) > 1 else 0.0, float(fids.min()),
                     float(fids.max()), [r["seed"] for r in rows if r["name"] == name])
    return out


def guidance_rows(model, ev, n: int, steps: int, seed: int) -> list[dict]:
    labels = np.arange(n) % model.num_classes
    rows = []
    for w in GUIDANCE:
        images, seconds = timed_samples(model, n, seed, sampler="ddim", steps=steps, eta=DEFAULT_ETA, label=labels,
                                        guidance=w)
        rows.append({"guidance": w, "s_per_image": seconds / n, **score(ev, images, labels)})
        print(f"guidance {w}: accuracy {rows[-1]['accuracy']:.3f}, FID {rows[-1]['fid']:.2f}", flush=True)
    return rows


# -- tables --------------------------------------------------------------------------------------
def markdown(results: dict) -> str:
    out = []
    trained = results["trained"]
    if results.get("throughput"):
        base = next((r for r in results["throughput"] if r["row"] == "dcgan"), None)
        out += [f"### Training throughput ({results['image_size']} px digits, batch 64, timed back to back)", "",
                "| model | parameters | images/s | / dcgan | benchmark run: steps | wall s | CPU s |",
                "|---|---|---|---|---|---|---|"]
        for r in results["throughput"]:
            t = trained.get(r["row"], {})
            ratio = f"{r['images_per_s'] / base['images_per_s']:.3f}" if base else "-"
            run = f"{t['steps']} | {t['wall_s']:.0f} | {t['cpu_s']:.0f}" if t else "- | - | -"
            out.append(f"| {r['row']} | {r['params']:,} | {r['images_per_s']:.1f} | {ratio} | {run} |")
        out.append("")
    if results.get("samplers"):
        rows, gan = results["samplers"], results.get("dcgan")
        ddpm = rows[0]
        out += [f"### Samplers of {results['sampler_model']} (domain features, EMA weights; the default "
                f"request: DDIM at eta {results.get('default_eta', 0.0):g})", "",
                "| sampler | n | s / image | speed-up | FID | KID x1000 | precision | recall | FID / floor | "
                "FID / DDPM-T | FID / DCGAN | rougher than real |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        floor_row = {"name": "floor: test vs train", "n": ddpm["n"], "s_per_image": None, "fid": ddpm["fid_floor"],
                     "kid": ddpm["kid_floor"], "precision": ddpm["precision_floor"], "recall": ddpm["recall_floor"],
                     "fid_floor": ddpm["fid_floor"], "rough": None}
        for r in [floor_row, *rows, *([{"name": "DCGAN (1 network call)", **gan}] if gan else [])]:
            speed = "-" if not r.get("s_per_image") else f"{ddpm['s_per_image'] / r['s_per_image']:.1f}x"
            secs = "-" if not r.get("s_per_image") else f"{r['s_per_image']:.4f}"
            vs_gan = f"{r['fid'] / gan['fid']:.2f}" if gan else "-"
            out.append(f"| {r['name']} | {r['n']} | {secs} | {speed} | {r['fid']:.2f} | {r['kid'] * 1000:.2f} | "
                       f"{r['precision']:.3f} | {r['recall']:.3f} | {r['fid'] / r['fid_floor']:.1f} | "
                       f"{r['fid'] / ddpm['fid']:.2f} | {vs_gan} | {_share(r.get('rough'))} |")
        out.append("")
    if results.get("seed_noise"):
        out += [f"### FID over sample seeds (n = {results['seed_noise'][0]['n']}, the same model, EMA weights, "
                f"DDIM at eta {results.get('default_eta', 0.0):g})", "",
                "| sampler | seeds | FID at each seed | mean | sd | range | rougher than real (each seed) |",
                "|---|---|---|---|---|---|---|"]
        for name, (mean, sd, low, high, seeds) in noise_summary(results["seed_noise"]).items():
            each = [r for r in results["seed_noise"] if r["name"] == name]
            fids = ", ".join(f"{r['fid']:.2f}" for r in each)
            rough = ", ".join(_share(r["rough"]) for r in each)
            out.append(f"| {name} | {','.join(map(str, seeds))} | {fids} | {mean:.2f} | {sd:.2f} | {low:.2f}-{high:.2f} | "
                       f"{rough} |")
        out.append("")
    if results.get("guidance"):
        out += [f"### Classifier-free guidance of cddpm (DDIM-{results['guidance_steps']}, eta "
                f"{results.get('guidance_eta', 0.0):g})", "",
                "| guidance | label accuracy | worst class | FID | KID x1000 | precision | recall | FID / floor | "
                "s / image |", "|---|---|---|---|---|---|---|---|---|"]
        g0 = results["guidance"][0]
        out.append(f"| floor: test vs train | {g0['accuracy_floor']:.3f} | - | {g0['fid_floor']:.2f} | "
                   f"{g0['kid_floor'] * 1000:.2f} | {g0['precision_floor']:.3f} | {g0['recall_floor']:.3f} | 1.0 | - |")
        for r in results["guidance"]:
            out.append(f"| {r['guidance']:g} | {r['accuracy']:.3f} | {r['worst_class']:.3f} | {r['fid']:.2f} | "
                       f"{r['kid'] * 1000:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                       f"{r['fid'] / r['fid_floor']:.1f} | {r['s_per_image']:.4f} |")
        out.append("")
    out += ["Targets of the issue:", ""] + [f"- {line}" for line in targets(results)]
    return "\n".join(out).rstrip() + "\n"


def _share(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def targets(results: dict) -> list[str]:
    lines = []
    met = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    rows = results.get("samplers") or []
    if rows:
        ddpm = rows[0]
        ratio = ddpm["fid"] / ddpm["fid_floor"]
        lines.append(f"{ddpm['name']} FID at most {TARGETS['fid_over_floor']:g}x the floor: {ratio:.1f}x, "
                     f"{met(ratio <= TARGETS['fid_over_floor'])}")
        # the default request's DDIM-50 (tables made before the eta was named: "DDIM-50", eta 0)
        default_eta = results.get("default_eta", 0.0)
        fifty = [r for r in rows if r.get("steps") == 50 and r["name"].startswith("DDIM-")]
        d50 = next((r for r in fifty if (r.get("eta") or 0.0) == default_eta), None)
        if d50:
            gap, speed = d50["fid"] / ddpm["fid"] - 1, ddpm["s_per_image"] / d50["s_per_image"]
            lines.append(f"DDIM-50 (eta {default_eta:g}, the default) within {TARGETS['ddim50_fid_gap']:.0%} of "
                         f"{ddpm['name']}'s FID at {TARGETS['ddim50_speedup']:g}x less time: {gap:+.0%} at {speed:.1f}x, "
                         f"{met(gap <= TARGETS['ddim50_fid_gap'] and speed >= TARGETS['ddim50_speedup'])}")
            others = [r for r in fifty if r is not d50]
            if others:
                lines.append("for comparison, not the default: " + "; ".join(
                    f"{r['name']} {r['fid'] / ddpm['fid'] - 1:+.0%} at {ddpm['s_per_image'] / r['s_per_image']:.1f}x"
                    for r in others))
            noise = noise_summary(results.get("seed_noise") or [])
            name = d50["name"]
            if noise.get(name, (0, 0))[1] > 0 and noise.get("DDPM-50", (0, 0))[1] > 0:
                diff = d50["fid"] - ddpm["fid"]
                # sd of a difference of two FIDs: DDIM-50's seed sd and DDPM-50's (standing in for
                # DDPM-T's, the same ancestral sampler) added in quadrature
                sd = (noise[name][1] ** 2 + noise["DDPM-50"][1] ** 2) ** 0.5
                lines.append(f"{name} - {ddpm['name']} = {diff:+.2f} FID; seed sd of FID at n = {d50['n']}: "
                             f"{name} {noise[name][1]:.2f}, DDPM-50 {noise['DDPM-50'][1]:.2f} (seeds "
                             f"{','.join(map(str, noise[name][4]))}), so a difference has sd {sd:.2f}: "
                             f"{diff / sd:+.1f} sd, " + ("inside the seed noise (within 2 sd)" if abs(diff) <= 2 * sd
                                                          else "outside the seed noise (more than 2 sd)"))
        if all("rough" in r for r in rows):
            worst = max(rows, key=lambda r: r["rough"])
            lines.append(f"no sampler leaves samples noisier than every real image (mean |Laplacian|): worst "
                         f"{worst['name']} {worst['rough']:.1%}, {met(worst['rough'] <= TARGETS['rough'])}")
    if results.get("guidance"):
        best = max(results["guidance"], key=lambda r: r["accuracy"])
        lines.append(f"guided per-class accuracy at least {TARGETS['guided_accuracy']:.0%}: best {best['accuracy']:.3f} "
                     f"(guidance {best['guidance']:g}), {met(best['accuracy'] >= TARGETS['guided_accuracy'])}")
    return lines


def evaluate(out: Path, args) -> dict:
    from keras_gen.evaluation import Evaluator
    from keras_gen.runs import load_run

    ev = Evaluator("digits", image_size=args.image_size, channels=1, n_real=args.n, seed=args.seed)
    evaluators = {args.image_size: ev}

    def evaluator_for(model):  # a row of its own image size (ddpm_cosine) is scored against digits at that size
        if model.image_size not in evaluators:
            evaluators[model.image_size] = Evaluator("digits", image_size=model.image_size, channels=1,
                                                     n_real=args.n, seed=args.seed)
        return evaluators[model.image_size]

    trained = {row: json.loads((out / row / "benchmark.json").read_text())
               for row in ROWS if (out / row / "benchmark.json").is_file()}
    results = {"trained": trained, "image_size": args.image_size, "load_average": os.getloadavg()}
    tables = args.tables.split(",")
    results["throughput"] = [] if "throughput" not in tables else throughput([r for r in args.throughput_rows.split(",") if r in ROWS],
                                       args.throughput_steps, args.quick, args.seed, args.image_size)
    if "dcgan" in trained and ("samplers" in tables or "dcgan" in tables):  # "dcgan": its row alone, to merge
        gan, _ = load_run(out / "dcgan")
        images, seconds = timed_samples(gan, args.n, args.seed)
        results["dcgan"] = {"n": args.n, "s_per_image": seconds / args.n, **score(ev, images)}
    sampler_row = args.sampler_row if args.sampler_row in trained else next((r for r in ("ddpm", "cddpm")
                                                                              if r in trained), None)
    if sampler_row and "samplers" in tables:
        model, _ = load_run(out / sampler_row)
        conditions = {}
        if model.conditional:  # a conditional model: every class in turn, guidance 1 (the conditional model)
            conditions = {"label": np.arange(args.n) % model.num_classes, "guidance": 1.0}
        options = ", ".join(f"{k} {v}" for k, v in trained[sampler_row]["options"].items())
        results["sampler_model"] = (f"{sampler_row} ({model.image_size} px, {options}; "
                                    f"{trained[sampler_row]['steps']} training steps)"
                                    + (" at guidance 1, labels cycling 0-9" if conditions else ""))
        results["default_eta"] = DEFAULT_ETA
        results["samplers"] = sampler_rows(model, evaluator_for(model), args.n, args.n_ddpm or args.n, args.seed, conditions,
                                          Path(args.json + ".samplers") if args.json else None,
                                          etas=[float(v) for v in args.ddim_etas.split(",") if v])
        if args.noise_seeds:
            seeds = [int(v) for v in args.noise_seeds.split(",")]
            results["seed_noise"] = seed_noise_rows(model, evaluator_for(model), args.n, seeds, conditions)
    if "cddpm" in trained and "guidance" in tables:
        model, _ = load_run(out / "cddpm")
        results["guidance_steps"] = min(args.guidance_steps, model.options.timesteps)
        results["guidance"] = guidance_rows(model, ev, args.n, results["guidance_steps"], args.seed)
        results["guidance_eta"] = DEFAULT_ETA
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("all", "train", "evaluate"), default="all")
    parser.add_argument("--rows", default="ddpm,cddpm,dcgan",
                        help=f"comma-separated, of {', '.join(ROWS)} (ddpm_cosine: with --sampler-row ddpm_cosine)")
    parser.add_argument("--minutes", type=float, default=30.0,
                        help=f"training budget of each row in minutes of a {CORES}-core machine (x 60 x {CORES} CPU s)")
    parser.add_argument("--dcgan-minutes", type=float, default=None, help="the dcgan row's budget (default --minutes)")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads, with 1 inter-op thread (0: TensorFlow's choice of both)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=SIZE)
    parser.add_argument("--out", default="benchmarks/out/diffusion", help="run folders (ignored by git)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny networks, seconds of training")
    parser.add_argument("--reuse", action="store_true", help="stage all: keep rows already trained in --out")
    parser.add_argument("--n", type=int, default=500, help="samples per row (FID needs more than 128)")
    parser.add_argument("--n-ddpm", type=int, default=None, help="samples of the T-step DDPM row (default --n)")
    parser.add_argument("--sampler-row", default="ddpm", help="the trained row whose samplers are compared")
    parser.add_argument("--ddim-etas", default="",
                        help=f"also DDIM-50 at these eta (comma-separated, e.g. 0,1; the DDIM rows are at the "
                             f"default {DEFAULT_ETA:g}): what the chain's noise buys")
    parser.add_argument("--noise-seeds", default="",
                        help="samples' seeds (comma-separated, e.g. 0,1,2,3,4) at which DDIM-50 and DDPM-50 are "
                             "scored again: the seed noise of FID at --n, against which the table's gaps are read")
    parser.add_argument("--guidance-steps", type=int, default=50, help="DDIM steps of the guidance table")
    parser.add_argument("--throughput-rows", default="ddpm,dcgan")
    parser.add_argument("--throughput-steps", type=int, default=10)
    parser.add_argument("--results", default=None, help="write the tables into this Markdown file's diffusion section")
    parser.add_argument("--json", default=None, help="also write every figure here")
    parser.add_argument("--section", default="diffusion",
                        help="the section of --results to write (its <!-- NAME benchmark: start/end --> markers)")
    parser.add_argument("--tables", default="throughput,samplers,guidance",
                        help="which to measure (separate processes may measure separate tables; dcgan: the "
                             "samplers table's DCGAN row alone, for a samplers run that started before dcgan "
                             "had trained)")
    parser.add_argument("--merge", nargs="+", default=None,
                        help="instead of measuring: the tables of these --json files, merged")
    args = parser.parse_args()
    out = Path(args.out)
    rows = args.rows.split(",")
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if args.quick:
        args.minutes = min(args.minutes, 0.05)
        args.n = max(129, min(args.n, 150))
        args.throughput_steps = min(args.throughput_steps, 2)
    if args.stage in ("all", "train"):
        for row in rows:
            if not (args.reuse and (out / row / "benchmark.json").is_file()):
                minutes = args.dcgan_minutes if row == "dcgan" and args.dcgan_minutes is not None else args.minutes
                train_row(out, row, minutes if not args.quick else args.minutes, args.seed, args.quick,
                          args.image_size)
    if args.stage == "train":
        return
    started = time.time()
    if args.merge:
        results = {}
        for path in args.merge:
            part = json.loads(Path(path).read_text())
            results.update({k: v for k, v in part.items() if v or k not in results})
    else:
        results = evaluate(out, args)
        results["evaluate_wall_s"] = time.time() - started
    table = markdown(results)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    if args.results:
        command = "python benchmarks/diffusion.py " + " ".join(sys.argv[1:])
        load = ", ".join(f"{v:.1f}" for v in results["load_average"])
        header = (f"## {args.section.capitalize()}: `{command.strip()}`\n\nMade on {time.strftime('%Y-%m-%d %H:%M')} UTC on "
                  f"{os.cpu_count()} CPU cores (load average at the end {load}: other jobs shared the cores, so "
                  "seconds are wall time under contention; ratios within one table are measured in the same "
                  f"process); evaluation took {results['evaluate_wall_s'] / 60:.0f} min.\n\n")
        write_section(Path(args.results), header + table, args.section)
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
