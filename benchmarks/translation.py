"""Image-to-image translation on the bundled sets: pix2pix's Table 1 in miniature, CycleGAN on
unpaired digits, and the latency of the translation endpoints per megapixel.

Three tables, every figure beside a baseline measured in the same run:

  pix2pix        on shapes_maps (label map -> rendering, 32 px), the rows of Isola et al.'s Table 1:
                 L1 only, cGAN only, L1 + cGAN, beside the real renderings of the same maps.
                 Columns: the "FCN score" (the shapes domain classifier's accuracy on the
                 translations against the class of each label map; the paper's FCN-8s on
                 Cityscapes), per-pixel L1 against the true rendering, sharpness (mean gradient
                 magnitude over the real rendering's: L1 alone blurs) and colour saturation on the
                 shape (over the real one's: L1 averages the eight possible colours towards gray),
                 and domain FID against real renderings (the shapes classifier's features, beside the
                 real-vs-real floor).
  cyclegan       on digits_ink (thin dark digits A <-> thick bright digits B, 32 px, unpaired), A -> B:
                 the share of translations judged B by a domain judge trained with style-augmented copies
                 of both domains (so it judges the polarity, not "anything but crisp dark ink", which the
                 plain real-A-vs-real-B judge, also shown, calls B), the share whose digit the project's
                 digits classifier (trained on B's rendering) reads as the source's class, the same read
                 by a reader of either domain's form, the share both judged B and digit kept, and the
                 cycle PSNR (a -> b -> a and b -> a -> b); rows: real B (the floor), CycleGAN with the
                 small-image settings (CYCLEGAN), CycleGAN with the paper's settings at 32 px
                 (CYCLEGAN_PAPER, same networks and steps), and the baselines identity (the input
                 unchanged) and colour inversion (255 - x, no learning at all). Both CycleGAN rows train
                 for CYCLEGAN_STEPS planned steps (`--cyclegan-steps`), so the learning rate falls
                 linearly to 0 over the second half of the run they actually make.
  latency        ms per megapixel of the a_to_b endpoint of each trained model, Keras (eager call and
                 tf.function), the SavedModel signature (the ratio's baseline) and onnxruntime (the
                 edge runner), at two sizes (one not square, neither a multiple of the networks').

    python benchmarks/translation.py --minutes 6 --results docs/BENCHMARKS.md
    python benchmarks/translation.py --stage train --rows cyclegan,cyclegan_paper       # the CycleGAN rows
    python benchmarks/translation.py --stage evaluate --tables cyclegan --section "translation cyclegan" \
        --results docs/BENCHMARKS.md                                                    # their table alone
    python benchmarks/translation.py --stage evaluate --results docs/BENCHMARKS.md       # score what is there
    python benchmarks/translation.py --quick                                              # smoke run

Each pix2pix row trains for a budget of a 2-core machine (`--minutes` M: M x 60 x 2 seconds of the
training process's CPU time, checked at the end of each epoch of STEPS_PER_EPOCH steps) into OUT/ROW; CPU
time rather than wall time, so that other jobs on the shared machine stretch the wall time instead of
cutting the training. The CycleGAN rows train for a planned number of steps (their schedule needs the
run's length in advance), with `--cyclegan-minutes` of CPU time as a cap that the table would show.
The issue's targets: FCN score >= 90% for L1 + cGAN; CycleGAN's A -> B judged B >= 90% and digit
kept >= 90%. The tables say which are met.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.docs_sections import write_section  # noqa: E402
from benchmarks.run_budget import TimeBudget  # noqa: E402

CORES = 2
SIZE = 32
STEPS_PER_EPOCH = 100
PIX2PIX = {"filters": 64}  # the paper's widths; a 5-level U-Net at 32 px, a 7 x 7 PatchGAN
# CycleGAN at 32 px (docs/models/translation.md, "CycleGAN on small images"): a PatchGAN that sees the whole
# digit (2 stride-2 layers, a 34 px patch: polarity is a property of the whole image, and a 7 px patch cannot tell a
# dark stroke on gray from the dark gap between two bright strokes), no identity loss (it holds G near the
# identity, i.e. keeps A's polarity) and one downsampling (a generator whose field is about a stroke's
# neighbourhood, not a 256 px network's whole image, so it redraws strokes where they are instead of hiding the
# digit in the cycle). The paper's settings at 32 px are the row beside it.
CYCLEGAN_NETWORK = {"filters": 16, "blocks": 3, "flip": False}  # digits are not mirrored
CYCLEGAN = {**CYCLEGAN_NETWORK, "patch_layers": 2, "identity_weight": 0.0, "downsamplings": 1}
CYCLEGAN_PAPER = {**CYCLEGAN_NETWORK, "patch_layers": -1, "identity_weight": 0.5, "downsamplings": 2}
CYCLEGAN_STEPS = 1500  # planned: the rate is constant for 750 steps, then falls linearly to 0
ROWS = {
    "l1": {"model": "pix2pix", "data": "shapes_maps", "options": {**PIX2PIX, "adversarial_weight": 0.0},
           "label": "L1 only", "batch_size": 16},
    "cgan": {"model": "pix2pix", "data": "shapes_maps", "options": {**PIX2PIX, "l1_weight": 0.0},
             "label": "cGAN only", "batch_size": 16},
    "l1_cgan": {"model": "pix2pix", "data": "shapes_maps", "options": dict(PIX2PIX), "label": "L1 + cGAN",
                "batch_size": 16},
    "cyclegan": {"model": "cyclegan", "data": "digits_ink", "options": dict(CYCLEGAN), "label": "CycleGAN",
                 "batch_size": 8},
    "cyclegan_paper": {"model": "cyclegan", "data": "digits_ink", "options": dict(CYCLEGAN_PAPER),
                       "label": "CycleGAN, the paper's settings", "batch_size": 8},
}
QUICK = {"pix2pix": {"filters": 8}, "cyclegan": {"filters": 8, "blocks": 1}}
TARGETS = {"fcn": 0.90, "judged_target": 0.90, "digit_kept": 0.90}
LATENCY_SIZES = ((72, 72), (200, 264))  # height, width: square and not, neither a multiple of 32


# -- training ------------------------------------------------------------------------------------
def train_row(out: Path, row: str, minutes: float, seed: int, quick: bool, steps: int = 0) -> dict:
    """Train ROWS[row] into OUT/ROW for `minutes` of CPU time, or, given `steps`, for that many
    steps planned as the run's length (its epochs x steps per epoch: what a model's learning-rate
    schedule follows, CycleGAN's linear decay over the second half), `minutes` then only a cap."""
    from keras_gen.training import RunConfig, train

    spec = ROWS[row]
    options = {**spec["options"], **(QUICK[spec["model"]] if quick else {})}
    run = out / row
    shutil.rmtree(run, ignore_errors=True)
    budget = TimeBudget(minutes * 60 * CORES)
    steps_per_epoch = 2 if quick else STEPS_PER_EPOCH
    epochs = max(1, -(-steps // steps_per_epoch)) if steps else 100000  # no plan: until the budget ends
    started, cpu = time.time(), time.process_time()
    summary = train(run, RunConfig(spec["model"], data=spec["data"], image_size=SIZE, epochs=epochs, options=options,
                                   seed=seed, batch_size=spec["batch_size"], steps_per_epoch=steps_per_epoch),
                    callbacks=[budget], verbose=0)
    last = {k: v[-1] for k, v in summary["history"].items()}
    record = {"row": row, "model": spec["model"], "options": options, "wall_s": time.time() - started,
              "cpu_s": time.process_time() - cpu, "cpu_budget_s": minutes * 60 * CORES, "steps": budget.steps,
              "planned_steps": epochs * steps_per_epoch if steps else None,
              "batch_size": spec["batch_size"], "load_average": os.getloadavg(), "last_epoch": last,
              "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    (run / "benchmark.json").write_text(json.dumps(record, indent=1))
    print(f"{row}: {budget.steps} steps in {record['wall_s']:.0f} s wall ({record['cpu_s']:.0f} CPU s)", flush=True)
    return record


# -- pix2pix: Table 1 ----------------------------------------------------------------------------
def gradient_energy(images: np.ndarray) -> float:
    """Mean gradient magnitude of the luminance (float images in [-1, 1]): how much edge there is."""
    gray = images.mean(-1)
    dy, dx = np.diff(gray, axis=1)[:, :, :-1], np.diff(gray, axis=2)[:, :-1, :]
    return float(np.sqrt(dx**2 + dy**2).mean())


def saturation(images: np.ndarray, masks: np.ndarray) -> float:
    """Mean HSV saturation (max - min) / max of the pixels inside `masks` (the shape)."""
    rgb = (images + 1.0) / 2.0
    high, low = rgb.max(-1), rgb.min(-1)
    s = (high - low) / np.maximum(high, 1e-3)
    return float(s[masks].mean())


def translate(model, images: np.ndarray, direction: str = "a_to_b", batch: int = 100) -> np.ndarray:
    with model.ema_weights():
        return np.concatenate([model.translate_images(images[i:i + batch], direction)
                               for i in range(0, len(images), batch)])


def pix2pix_rows(out: Path, trained: dict, n: int, cache_dir: str) -> list[dict]:
    from keras_gen.data import translation_sets as ts
    from keras_gen.evaluation import Evaluator
    from keras_gen.images import from_uint8
    from keras_gen.runs import load_run

    maps, renders, labels, _ = ts.load_translation_set("shapes_maps", "test", image_size=SIZE, limit=n,
                                                       with_labels=True)
    a, b = from_uint8(maps), from_uint8(renders)
    masks = (maps != 0).any(-1)  # the shape, from its label map
    ev = Evaluator("shapes", image_size=SIZE, channels=3, n_real=n, cache_dir=cache_dir)
    real_sharpness, real_saturation = gradient_energy(b), saturation(b, masks)

    def score(name, images, steps=None):
        predicted = np.argmax(ev.extractor(images)["logits"], axis=-1)
        fid = ev.evaluate(images, ("fid",))["metrics"]["fid"]
        row = {"name": name, "fcn": float(np.mean(predicted == labels)), "l1": float(np.abs(images - b).mean() / 2),
               "sharpness": gradient_energy(images) / real_sharpness,
               "saturation": saturation(images, masks) / real_saturation, "fid": fid["generated_matched"],
               "fid_floor": fid["floor"], "steps": steps}
        print(f"{name}: FCN {row['fcn']:.3f}, L1 {row['l1']:.4f}, sharpness {row['sharpness']:.2f}, "
              f"FID {row['fid']:.2f}", flush=True)
        return row

    rows = [score("real renderings (ground truth)", b)]
    for key in ("l1", "cgan", "l1_cgan"):
        if key in trained:
            model, _ = load_run(out / key)
            rows.append(score(ROWS[key]["label"], translate(model, a), trained[key]["steps"]))
    return rows


# -- cyclegan ------------------------------------------------------------------------------------
def style_augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image (float, [-1, 1], (N, H, W, 1)) under a random change of everything that tells
    digits_ink's domains apart except their polarity: stroke thickness (a 2 x 2 max or min filter:
    thicker or thinner strokes), softness (a Gaussian blur, sigma 0 to 1.5) or crispness (tanh
    contrast), contrast and level (x c + o, c in [0.25, 1], so a ground can turn gray but stays on
    its side of the strokes) and noise (sigma up to 0.08)."""
    from scipy import ndimage

    out = np.empty_like(images)
    for i, image in enumerate(images[..., 0]):
        kind = rng.integers(3)
        if kind == 1:
            image = ndimage.maximum_filter(image, size=2)
        elif kind == 2:
            image = ndimage.minimum_filter(image, size=2)
        image = ndimage.gaussian_filter(image, rng.uniform(0.0, 1.5))
        if rng.random() < 0.5:
            k = rng.uniform(1.5, 4.0)
            image = np.tanh(k * image) / np.tanh(k)
        c = rng.uniform(0.25, 1.0)
        image = c * image + rng.uniform(-(1.0 - c), 1.0 - c)
        out[i, ..., 0] = np.clip(image + rng.normal(0.0, rng.uniform(0.0, 0.08), image.shape), -1.0, 1.0)
    return out


def train_classifier(x: np.ndarray, y: np.ndarray, classes: int, seed: int, epochs: int = 15):
    """The project's small domain classifier (keras_gen.features.classifier's network) trained on
    x, y; returns images -> predicted classes."""
    from keras_gen.features.classifier import build_domain_classifier

    keras.utils.set_random_seed(seed)
    model = build_domain_classifier(x.shape[1], x.shape[-1], classes, width=16)
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    return lambda images: np.argmax(model.predict(images, batch_size=256, verbose=0), axis=-1)


def train_judges(train_a: np.ndarray, train_b: np.ndarray, labels_a, labels_b, seed: int) -> dict:
    """The three classifiers the CycleGAN table scores with, each trained here on digits_ink's
    train split (the test split is what they score):

    - plain: A (0) vs B (1) on the real images only. It learns the cheapest cue, crisp dark ink on
      white against everything else, so a translation that only softens A's strokes passes (last
      round's 100% "judged B" of a G(a) that kept A's polarity).
    - domain: A vs B on the real images and two style_augment copies of each, drawn alike for
      both domains: thickness, softness, contrast, level and noise no longer tell the domains
      apart, so what it judges is the polarity (bright strokes on a darker ground is B), and a
      gray ground with dark strokes is A however soft it is.
    - any-form reader: the digit (10 classes) of A and B images and their style_augment copies: it
      reads a digit in either domain's form, so "digit survived" does not depend on the
      translation having reached B's form (the digits classifier, trained on B's form, does)."""
    rng = np.random.default_rng(seed)
    domains = np.repeat([0, 1], [len(train_a), len(train_b)])
    real = np.concatenate([train_a, train_b])
    augmented = np.concatenate([real, style_augment(real, rng), style_augment(real, rng)])
    return {"plain": train_classifier(real, domains, 2, seed),
            "domain": train_classifier(augmented, np.tile(domains, 3), 2, seed, epochs=8),
            "reader": train_classifier(augmented, np.tile(np.concatenate([labels_a, labels_b]), 3), 10, seed,
                                       epochs=8)}


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(np.mean(((x - y) / 2.0) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def cyclegan_rows(out: Path, trained: dict, seed: int, cache_dir: str) -> dict:
    """A -> B scored four ways (what each classifier sees: train_judges): judged B by the plain
    and the domain judge, the source digit kept as the digits classifier reads it (trained on
    `digits`, B's own rendering, so it sees each G(a) as a B image, which a translation should
    be) and as the any-form reader reads it, and "translated": judged B by the domain judge and
    digit kept, both, per image."""
    from keras_gen.data import translation_sets as ts
    from keras_gen.features.classifier import load_domain_classifier
    from keras_gen.images import from_uint8
    from keras_gen.runs import load_run

    train_a, train_b, train_la, train_lb = ts.load_translation_set("digits_ink", "train", image_size=SIZE,
                                                                   with_labels=True)
    a, b, labels_a, labels_b = ts.load_translation_set("digits_ink", "test", image_size=SIZE, with_labels=True)
    a, b = from_uint8(a), from_uint8(b)
    judges = train_judges(from_uint8(train_a), from_uint8(train_b), train_la, train_lb, seed)
    digits = load_domain_classifier("digits", SIZE, 1, cache_dir=cache_dir)

    def read_digit(images):
        return np.argmax(digits(images)["logits"], axis=-1)

    def score(name, as_b, as_a, cycle=None, steps=None, source_labels=labels_a):
        judged, kept = judges["domain"](as_b) == 1, read_digit(as_b) == source_labels
        row = {"name": name, "judged_b_plain": float(np.mean(judges["plain"](as_b) == 1)),
               "judged_b": float(np.mean(judged)), "digit_kept": float(np.mean(kept)),
               "digit_any_form": float(np.mean(judges["reader"](as_b) == source_labels)),
               "translated": float(np.mean(judged & kept)),
               "judged_a": None if as_a is None else float(np.mean(judges["domain"](as_a) == 0)),
               "cycle_psnr_a": None if cycle is None else cycle[0], "cycle_psnr_b": None if cycle is None else cycle[1],
               "steps": steps}
        print(f"{name}: judged B {row['judged_b']:.3f} (plain judge {row['judged_b_plain']:.3f}), digit kept "
              f"{row['digit_kept']:.3f} (any form {row['digit_any_form']:.3f}), translated {row['translated']:.3f}",
              flush=True)
        return row

    rows = [score("real B images (the floor)", b, a, source_labels=labels_b)]  # B's own digits: the classifier's floor
    for key in ("cyclegan", "cyclegan_paper"):
        if key in trained:
            model, _ = load_run(out / key)
            ab, ba = translate(model, a, "a_to_b"), translate(model, b, "b_to_a")
            cycle = (psnr(translate(model, ab, "b_to_a"), a), psnr(translate(model, ba, "a_to_b"), b))
            rows.append(score(ROWS[key]["label"], ab, ba, cycle, trained[key]["steps"]))
    rows.append(score("identity (x unchanged)", a, b, (float("inf"), float("inf"))))
    rows.append(score("colour inversion (255 - x)", -a, -b, (float("inf"), float("inf"))))
    accuracy = {name: float(np.mean(np.concatenate([judges[name](a) == 0, judges[name](b) == 1])))
                for name in ("plain", "domain")}
    accuracy["reader"] = float(np.mean(np.concatenate([judges["reader"](a) == labels_a,
                                                       judges["reader"](b) == labels_b])))
    return {"rows": rows, "judge_accuracy": accuracy, "digits_classifier": digits.metadata.get("path"), "n": len(a)}


# -- latency -------------------------------------------------------------------------------------
def latency_rows(out: Path, trained: dict, rounds: int, batch: int) -> list[dict]:
    """ms per megapixel of a_to_b at LATENCY_SIZES on each runtime, rounds rotated so contention
    hits every runtime alike; the SavedModel is the ratio's baseline."""
    import tensorflow as tf

    from export import export_model
    from keras_gen.core.edge import EdgeModel
    from keras_gen.runs import load_run

    table = []
    for key in ("l1_cgan", "cyclegan"):
        if key not in trained:
            continue
        model, _ = load_run(out / key)
        exports = out / "exports"
        shutil.rmtree(exports / key, ignore_errors=True)
        version = export_model(model, exports, name=key)
        saved = tf.saved_model.load(str(version)).signatures["a_to_b"]
        edge = EdgeModel.from_path(version)
        generator = model.translator("a_to_b")
        compiled = tf.function(lambda x: generator(x, training=False))
        for height, width in LATENCY_SIZES:
            x = np.random.default_rng(0).uniform(-1, 1, (batch, height, width, model.channels)).astype(np.float32)
            runtimes = {"keras (eager call)": lambda: generator(x, training=False),
                        "keras (tf.function)": lambda: compiled(x),
                        "savedmodel": lambda: saved(image=tf.constant(x)),
                        "onnxruntime (edge)": lambda: edge.run_endpoint("a_to_b", image=x)}
            for fn in runtimes.values():
                fn()  # warm-up: tracing, session start
            times = {name: [] for name in runtimes}
            names = list(runtimes)
            for r in range(rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    start = time.perf_counter()
                    runtimes[name]()
                    times[name].append(time.perf_counter() - start)
            megapixels = batch * height * width / 1e6
            base = statistics.median(times["savedmodel"])
            for name, values in times.items():
                median = statistics.median(values)
                table.append({"model": key, "size": f"{height}x{width}", "batch": batch, "runtime": name,
                              "ms_per_mp": 1000 * median / megapixels, "vs_savedmodel": base / median})
                print(f"{key} {height}x{width} {name}: {table[-1]['ms_per_mp']:.1f} ms/MP", flush=True)
    return table


# -- tables --------------------------------------------------------------------------------------
def fmt(value, spec=".3f"):
    if value is None:
        return "-"
    if value == float("inf"):
        return "exact"
    return format(value, spec)


def markdown(results: dict) -> str:
    out = []
    tabled = {"pix2pix": results.get("pix2pix"), "cyclegan": results.get("cyclegan")}  # rows of the tables made
    trained = {row: t for row, t in results["trained"].items() if tabled[t["model"]] or results.get("latency")}
    if trained:
        out += ["### Training runs (CPU time counted against each row's budget)", "",
                "| row | model | options | steps (batch) | planned steps | wall s | CPU s | budget CPU s |",
                "|---|---|---|---|---|---|---|---|"]
        for row, t in trained.items():
            options = ", ".join(f"{k}={v}" for k, v in t["options"].items())
            out.append(f"| {ROWS[row]['label']} | {t['model']} | {options} | {t['steps']} ({t['batch_size']}) | "
                       f"{t.get('planned_steps') or '- (budget)'} | {t['wall_s']:.0f} | {t['cpu_s']:.0f} | "
                       f"{t['cpu_budget_s']:.0f} |")
        out.append("")
    if results.get("pix2pix"):
        out += [f"### pix2pix on shapes_maps ({SIZE} px, {results['n']} test maps): Table 1 in miniature", "",
                "| loss | FCN score (shapes classifier) | per-pixel L1 | sharpness / real | saturation / real | "
                "FID | FID floor |", "|---|---|---|---|---|---|---|"]
        for r in results["pix2pix"]:
            out.append(f"| {r['name']} | {r['fcn']:.3f} | {r['l1']:.4f} | {r['sharpness']:.2f} | {r['saturation']:.2f} | "
                       f"{r['fid']:.2f} | {r['fid_floor']:.2f} |")
        out.append("")
    if results.get("cyclegan"):
        c, accuracy = results["cyclegan"], results["cyclegan"]["judge_accuracy"]
        out += [f"### CycleGAN on digits_ink ({SIZE} px, {c['n']} test images a domain), A -> B", "",
                f"On the real test images the plain A-vs-B judge is right {accuracy['plain']:.1%} of the time, the "
                f"domain judge (trained with style-augmented copies of both domains: what is left to judge is the "
                f"polarity) {accuracy['domain']:.1%}, and the any-form digit reader {accuracy['reader']:.1%}. "
                "\"digit kept\" is the project's digits classifier (trained on `digits`, B's own rendering) on G(a); "
                "\"translated\" counts the images that are both judged B by the domain judge and digit kept.", "",
                "| translation | judged B | judged B (plain judge) | digit kept | digit kept (any-form reader) | "
                "translated | B -> A judged A | cycle PSNR a->b->a | cycle PSNR b->a->b |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in c["rows"]:
            out.append(f"| {r['name']} | {r['judged_b']:.3f} | {r['judged_b_plain']:.3f} | {r['digit_kept']:.3f} | "
                       f"{r['digit_any_form']:.3f} | {r['translated']:.3f} | {fmt(r['judged_a'])} | "
                       f"{fmt(r['cycle_psnr_a'], '.2f')} | {fmt(r['cycle_psnr_b'], '.2f')} |")
        out.append("")
    if results.get("latency"):
        out += [f"### Latency of the a_to_b endpoint (batch {results['latency'][0]['batch']}, median of rounds)", "",
                "| model | size | runtime | ms / megapixel | speed vs SavedModel |", "|---|---|---|---|---|"]
        for r in results["latency"]:
            out.append(f"| {r['model']} | {r['size']} | {r['runtime']} | {r['ms_per_mp']:.1f} | "
                       f"{r['vs_savedmodel']:.2f}x |")
        out.append("")
    out += ["Targets of the issue:", ""] + [f"- {line}" for line in targets(results)]
    return "\n".join(out).rstrip() + "\n"


def targets(results: dict) -> list[str]:
    met = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    lines = []
    full = next((r for r in results.get("pix2pix") or [] if r["name"] == "L1 + cGAN"), None)
    if full:
        lines.append(f"L1 + cGAN FCN score at least {TARGETS['fcn']:.0%}: {full['fcn']:.1%}, "
                     f"{met(full['fcn'] >= TARGETS['fcn'])}")
    cycle = next((r for r in (results.get("cyclegan") or {}).get("rows", []) if r["name"] == "CycleGAN"), None)
    if cycle:
        lines.append(f"CycleGAN A -> B judged B at least {TARGETS['judged_target']:.0%}: {cycle['judged_b']:.1%}, "
                     f"{met(cycle['judged_b'] >= TARGETS['judged_target'])}")
        lines.append(f"CycleGAN digit kept at least {TARGETS['digit_kept']:.0%}: {cycle['digit_kept']:.1%}, "
                     f"{met(cycle['digit_kept'] >= TARGETS['digit_kept'])} (judged B and digit kept on the same "
                     f"image: {cycle['translated']:.1%})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("all", "train", "evaluate"), default="all")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--minutes", type=float, default=6.0, help="each pix2pix row's budget in minutes of a "
                        f"{CORES}-core machine (x 60 x {CORES} CPU s)")
    parser.add_argument("--cyclegan-minutes", type=float, default=12.0, help="the cyclegan row's budget (a cap "
                        "when --cyclegan-steps is set)")
    parser.add_argument("--cyclegan-steps", type=int, default=CYCLEGAN_STEPS, help="the cyclegan row's planned run "
                        "in steps (its learning rate falls linearly to 0 over the second half); 0: train for "
                        "--cyclegan-minutes, the rate constant")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: its choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=500, help="test maps of the pix2pix table")
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds of the latency table")
    parser.add_argument("--latency-batch", type=int, default=4)
    parser.add_argument("--out", default="benchmarks/out/translation", help="run folders (ignored by git)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny networks, seconds of training")
    parser.add_argument("--reuse", action="store_true", help="stage all: keep rows already trained in --out")
    parser.add_argument("--tables", default="pix2pix,cyclegan,latency")
    parser.add_argument("--results", default=None, help="write the tables into this Markdown file's section")
    parser.add_argument("--section", default="translation", help="the section of --results to write (its "
                        "<!-- NAME benchmark: start/end --> markers), e.g. 'translation cyclegan' with "
                        "--tables cyclegan")
    parser.add_argument("--json", default=None, help="also write every figure here")
    args = parser.parse_args()
    out = Path(args.out)
    os.environ.setdefault("KERAS_GEN_CACHE", str(out / "cache"))  # the drawn sets and the classifiers
    cache_dir = os.environ["KERAS_GEN_CACHE"]
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if args.quick:
        args.minutes = args.cyclegan_minutes = 0.02
        args.n, args.rounds = min(args.n, 150), min(args.rounds, 3)
    if args.stage in ("all", "train"):
        for row in args.rows.split(","):
            if not (args.reuse and (out / row / "benchmark.json").is_file()):
                cyclegan = ROWS[row]["model"] == "cyclegan"
                train_row(out, row, args.cyclegan_minutes if cyclegan else args.minutes, args.seed, args.quick,
                          steps=(min(args.cyclegan_steps, 4) if args.quick else args.cyclegan_steps) if cyclegan else 0)
    if args.stage == "train":
        return
    started = time.time()
    trained = {row: json.loads((out / row / "benchmark.json").read_text())
               for row in ROWS if (out / row / "benchmark.json").is_file()}
    tables = args.tables.split(",")
    results = {"trained": trained, "n": args.n, "load_average_start": os.getloadavg()}
    if "pix2pix" in tables:
        results["pix2pix"] = pix2pix_rows(out, trained, args.n, cache_dir)
    if "cyclegan" in tables:
        results["cyclegan"] = cyclegan_rows(out, trained, args.seed, cache_dir)
    if "latency" in tables:
        results["latency"] = latency_rows(out, trained, args.rounds, args.latency_batch)
    results["evaluate_wall_s"], results["load_average"] = time.time() - started, os.getloadavg()
    table = markdown(results)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    if args.results:
        command = "python benchmarks/translation.py " + shlex.join(sys.argv[1:])
        load = ", ".join(f"{v:.1f}" for v in results["load_average"])
        start = ", ".join(f"{v:.1f}" for v in results["load_average_start"])
        header = (f"## {args.section.capitalize()}: `{command.strip()}`\n\nMade on {time.strftime('%Y-%m-%d %H:%M')} UTC on "
                  f"{os.cpu_count()} CPU cores (load average at the start {start}, at the end {load}: other jobs "
                  "shared the cores, so "
                  "seconds are wall time under contention; the ratios within a table are measured in the same "
                  f"process); evaluation took {results['evaluate_wall_s'] / 60:.0f} min.\n\n")
        write_section(Path(args.results), header + table, args.section)
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
