"""Restoration: super-resolution on the held-out pictures, and inpainting of half-hidden digits.

Tables, every figure beside its baseline measured in the same run:

  degradation    how MATLAB's bicubic (keras_gen/core/resize.py, the papers' degradation) differs
                 from what Python code usually calls bicubic, on one image (chelsea, x4): the
                 PSNR between the low-resolution images, and how much the bicubic baseline's
                 Y-PSNR moves when its input is made the other way
  super-resolution   on `sr_holdout` (chelsea, coffee, brick at full size, in no training set),
                 x2 and x4: Y-PSNR / Y-SSIM (BT.601 luma, `scale` pixels shaved), RGB PSNR and a
                 VGG feature distance (LPIPS-style, lower is better) of bicubic, VDSR (one
                 network, x2 and x4), SRResNet, SRGAN and ESPCN, with the CPU minutes each trained;
                 at x4 the VGG distance per picture and per VGG layer beside it
  inpainting     32 px test digits with the right half hidden: the digits classifier's accuracy
                 on the completions (the originals' accuracy beside it as the ceiling) and
                 masked-region PSNR against the truth, for the mean fill (the mean training digit's
                 right half), the `inpaint` network and the trained `ddpm` completing by RePaint

    python benchmarks/restoration.py --stage train --rows vdsr,srresnet_x4 --threads 1     # rows side by side
    python benchmarks/restoration.py --stage train --rows srgan_x4 --threads 1             # after srresnet_x4
    python benchmarks/restoration.py --stage evaluate --results docs/BENCHMARKS.md
    python benchmarks/restoration.py --quick                                              # smoke run, minutes
    python benchmarks/restoration.py --stage train --rows srgan_x4 --threads 1 --out benchmarks/out/srgan_vgg \
        --init-from benchmarks/out/restoration/srresnet_x4 --set adversarial_weight=0 --minutes 3.5  # a variant
    python benchmarks/sr_photos.py                                                       # 66 photos -> cache/sr_photos
    python benchmarks/restoration.py --stage train --rows srgan_x4 --threads 1 --out benchmarks/out/restoration_photos \
        --train-data cache/sr_photos --init-from benchmarks/out/restoration/srresnet_x4 --steps 1000  # on wider data

`--train-data DIR` gives the super-resolution rows of a call a folder of photos instead of the
bundled ones (sr_holdout stays the test set; the tables name the folder); `--init-from` then also
makes an srresnet row fine-tune that run, and `--steps` trains each row of the call the same
number of steps (rows compared side by side) instead of its CPU budget.

Each row trains for a budget of CPU time (each row's own `minutes`, x 60 CPU seconds of the
training process, all its threads; `--scale-budget` multiplies them), checked at the end of each
epoch of 100 steps, so other jobs on the shared machine stretch the wall time rather than cut
the training. The issue's targets: VDSR >= bicubic + 1.0 dB (Y-PSNR) at x2 and SRResNet >= bicubic
+ 0.5 dB at x4, each within 30 CPU minutes; the classifier names the original class of >= 85% of
`inpaint`'s completions.
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.docs_sections import write_section  # noqa: E402
from benchmarks.run_budget import TimeBudget  # noqa: E402

STEPS_PER_EPOCH = 100
SR_SCALES = (2, 4)
DIGIT_SIZE = 32
TARGETS = {"vdsr_x2_gain": 1.0, "srresnet_x4_gain": 0.5, "inpaint_accuracy": 0.85, "cpu_minutes": 30.0}
# CPU-sized networks: the papers' depth where it matters (VDSR's 20 layers), narrower widths.
ROWS = {
    "vdsr": {"model": "vdsr", "data": "photos", "channels": 1, "image_size": 48, "batch_size": 16, "minutes": 30,
             "options": {"scales": "2,3,4", "depth": 20, "filters": 32, "optimizer": "adam", "learning_rate": 1e-3}},
    "srresnet_x4": {"model": "srresnet", "data": "photos", "channels": 3, "image_size": 64, "batch_size": 16,
                    "minutes": 30, "options": {"scale": 4, "blocks": 8, "filters": 32, "learning_rate": 1e-3}},
    "srresnet_x2": {"model": "srresnet", "data": "photos", "channels": 3, "image_size": 48, "batch_size": 16,
                    "minutes": 15, "options": {"scale": 2, "blocks": 8, "filters": 32, "learning_rate": 1e-3}},
    # SRGAN fine-tunes srresnet_x4 with the paper's two content layers (VGG22 + VGG54) on unit-
    # normalised features and the game at 1e-3; Adam at 2e-5 (the paper's 1e-4 moved every weight
    # of the trained SRResNet at once and lost 1.1 dB and VGG distance in 200 steps, docs/BENCHMARKS.md),
    # D at 5e-6 (at G's rate it won the game, d_fake 0.08) and a pixel MSE term that keeps colour
    # where the texture of the grey brick drifted
    "srgan_x4": {"model": "srgan", "data": "photos", "channels": 3, "image_size": 64, "batch_size": 8, "minutes": 7,
                 "init": "srresnet_x4", "options": {"scale": 4, "blocks": 8, "filters": 32, "d_filters": 32,
                                                    "d_dense": 256, "learning_rate": 2e-5, "d_learning_rate": 5e-6,
                                                    "mse_weight": 1.0, "content_layer": "conv2_2,conv5_3",
                                                    "content_normalize": True}},
    "srgan_x2": {"model": "srgan", "data": "photos", "channels": 3, "image_size": 48, "batch_size": 8, "minutes": 10,
                 "init": "srresnet_x2", "options": {"scale": 2, "blocks": 8, "filters": 32, "d_filters": 32,
                                                    "d_dense": 256, "learning_rate": 1e-4}},
    "espcn_x2": {"model": "espcn", "data": "photos", "channels": 1, "image_size": 48, "batch_size": 16, "minutes": 5,
                 "options": {"scale": 2}},
    "espcn_x4": {"model": "espcn", "data": "photos", "channels": 1, "image_size": 48, "batch_size": 16, "minutes": 5,
                 "options": {"scale": 4}},
    "inpaint": {"model": "inpaint", "data": "digits", "channels": 1, "image_size": DIGIT_SIZE, "batch_size": 32,
                "minutes": 20, "options": {}},
    # the diffusion benchmark's CPU-sized U-Net (benchmarks/diffusion.py), unconditional
    "ddpm": {"model": "ddpm", "data": "digits", "channels": 1, "image_size": DIGIT_SIZE, "batch_size": 64,
             "minutes": 30, "options": {"filters": 32, "channel_multipliers": "1,2,2", "blocks": 1,
                                        "attention_resolution": 8, "groups": 8, "sample_steps": 10}},
}
QUICK = {"vdsr": {"depth": 3, "filters": 4}, "srresnet": {"blocks": 1, "filters": 4},
         "srgan": {"blocks": 1, "filters": 4, "d_filters": 2, "d_dense": 4, "content_layer": "conv2_2"},
         "espcn": {"filters": 4}, "inpaint": {"filters": 4, "dilations": "2", "d_filters": 2},
         "ddpm": {"filters": 8, "channel_multipliers": "1,2", "blocks": 1, "groups": 4, "timesteps": 20,
                  "attention_resolution": 4, "sample_steps": 3}}


def set_threads(threads: int) -> None:
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def train_row(out: Path, row: str, budget_scale: float, seed: int, quick: bool, sets=(), minutes=None,
              init_from=None, train_data=None, steps=None) -> dict:
    """Train `row` for its CPU minutes (times `budget_scale`) into out/row; out/row/benchmark.json
    records steps, CPU and wall seconds, the data and the run it started from. `sets` (--set
    KEY=VALUE) override the row's options, `minutes` its CPU minutes, `init_from` the run a row
    with an `init` starts from (and, given, the run any srresnet row fine-tunes), `train_data` the
    row's training source (a folder of photos, e.g. benchmarks/sr_photos.py's), `steps` a fixed
    number of steps (whole epochs of 100) instead of the CPU budget."""
    from keras_gen import registry
    from keras_gen.errors import KerasGenError
    from keras_gen.training import RunConfig, train

    spec = ROWS[row]
    options = dict(spec["options"])
    if quick:
        options.update(QUICK[spec["model"]])
    try:
        options.update(registry.parse_options(registry.get(spec["model"]), list(sets)))
    except KerasGenError as err:
        raise SystemExit(f"--set for {row} ({spec['model']}): {err}") from None
    init = None
    if spec.get("init") or (init_from and spec["model"] in ("srresnet", "srgan")):
        init = Path(init_from) if init_from else out / spec["init"]
        if not (init / "checkpoints" / "last.keras").is_file():
            raise SystemExit(f"{row} starts from {init}: train the {spec.get('init', 'srresnet')} row first (or pass "
                             "--init-from).")
        options["init_from"] = str(init)
    data = spec["data"]
    if train_data:
        if spec["data"] != "photos":
            raise SystemExit(f"--train-data replaces the photos of the super-resolution rows; {row} trains on "
                             f"{spec['data']}.")
        if not Path(train_data).is_dir():
            raise SystemExit(f"--train-data {train_data}: no such folder (make one with python "
                             "benchmarks/sr_photos.py).")
        data = str(train_data)
    run = out / row
    shutil.rmtree(run, ignore_errors=True)
    minutes = (spec["minutes"] if minutes is None else minutes) * budget_scale * (0.02 if quick else 1.0)
    per_epoch = 2 if quick else STEPS_PER_EPOCH
    budget = TimeBudget(float("inf") if steps else minutes * 60)  # with --steps it only counts them
    epochs = max(1, -(-int(steps) // per_epoch)) if steps else 100000
    started, cpu = time.time(), time.process_time()
    config = RunConfig(spec["model"], data=data, image_size=spec["image_size"], channels=spec["channels"],
                       batch_size=spec["batch_size"], epochs=epochs, options=options, seed=seed,
                       steps_per_epoch=per_epoch)
    summary = train(run, config, callbacks=[budget], verbose=0)
    record = {"row": row, "model": spec["model"], "options": options, "wall_s": time.time() - started,
              "steps": budget.steps, "batch_size": spec["batch_size"], "image_size": spec["image_size"],
              "data": data, "init": _init_record(init),
              "cpu_s": time.process_time() - cpu, "cpu_budget_s": None if steps else minutes * 60,
              "load_average": os.getloadavg(),
              "last_logs": {k: v[-1] for k, v in summary["history"].items()},
              "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    (run / "benchmark.json").write_text(json.dumps(record, indent=1))
    print(f"{row}: {record['steps']} steps in {record['wall_s']:.0f} s wall ({record['cpu_s']:.0f} CPU s); "
          f"last {record['last_logs']}", flush=True)
    return record


def _init_record(init) -> dict | None:
    """What the run a row started from had cost: its path, steps and CPU seconds (None when the
    row trained from scratch)."""
    if init is None:
        return None
    found = json.loads((init / "benchmark.json").read_text()) if (init / "benchmark.json").is_file() else {}
    return {"run": str(init), "steps": found.get("steps"), "cpu_s": found.get("cpu_s"), "data": found.get("data")}


BUNDLED_PHOTOS = "bundled photos"  # data_label of the rows' own training source


def data_label(data) -> str:
    """How a table names a row's training data: the bundled photos, or a folder by its name and
    count of images."""
    if data in (None, "photos"):
        return BUNDLED_PHOTOS
    from keras_gen.core.images import IMAGE_SUFFIXES

    folder = Path(data)
    count = sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else None
    return f"{folder.name}/ ({count} photos)" if count is not None else folder.name


# -- the degradation: MATLAB's bicubic against the other bicubics ------------------------------
def _keys_matrix(in_length: int, out_length: int, a: float) -> np.ndarray:
    """OpenCV's INTER_CUBIC as a matrix: Keys' cubic with parameter a, no antialiasing (the kernel
    keeps its 4-pixel support when shrinking), edge pixels repeated at the border."""
    scale = out_length / in_length
    u = (np.arange(out_length) + 0.5) / scale - 0.5
    left = np.floor(u).astype(int) - 1
    matrix = np.zeros((out_length, in_length))
    for k in range(4):
        index = left + k
        x = np.abs(u - index)
        w = np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                     np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))
        np.add.at(matrix, (np.arange(out_length), np.clip(index, 0, in_length - 1)), w)
    return matrix


def degradation_table(scale: int = 4) -> dict:
    """One image (chelsea) degraded x`scale` by MATLAB's bicubic and by the others."""
    import tensorflow as tf
    from PIL import Image

    from keras_gen.core.resize import imresize
    from keras_gen.data.degradations import degrade, modcrop, sr_holdout
    from keras_gen.metrics import psnr, y_psnr

    name, picture = sr_holdout(3)[0]
    high = modcrop(picture, scale)
    height, width = high.shape[0] // scale, high.shape[1] // scale
    ours = degrade(high, scale)
    as_uint8 = lambda x: np.clip(np.floor(np.asarray(x, np.float64) + 0.5), 0, 255).astype(np.uint8)  # noqa: E731
    variants = {
        "MATLAB imresize (this library): bicubic, antialiased, mirrored border, uint8 after each pass": ours,
        "the same, in float, rounded once (MATLAB on a double image)":
            as_uint8(imresize(high.astype(np.float64), size=(height, width), rounding=None)),
        "Pillow Image.resize BICUBIC (antialiased; border weights renormalised; 8-bit passes)":
            np.asarray(Image.fromarray(high).resize((width, height), Image.BICUBIC)),
        "tf.image.resize bicubic, antialias=True (border weights renormalised)":
            as_uint8(tf.image.resize(high[None].astype(np.float32), (height, width), "bicubic", antialias=True)[0]),
        "tf.image.resize bicubic, antialias=False":
            as_uint8(tf.image.resize(high[None].astype(np.float32), (height, width), "bicubic", antialias=False)[0]),
        "OpenCV INTER_CUBIC (a = -0.75, no antialiasing, edge repeated), emulated":
            as_uint8(np.einsum("oh,hwc->owc", _keys_matrix(high.shape[0], height, -0.75),
                               np.einsum("ow,hwc->hoc", _keys_matrix(high.shape[1], width, -0.75), high.astype(float)))),
    }
    rows = []
    for label, low in variants.items():
        baseline = imresize(low, scale)  # each upsampled back by MATLAB's bicubic, as the papers' baseline
        rows.append({"degradation": label,
                     "psnr_vs_matlab": psnr(low[None], ours[None]),
                     "bicubic_y_psnr": y_psnr(baseline[None], high[None], scale)})
    return {"image": name, "scale": scale, "size": list(high.shape[:2]), "rows": rows}


# -- super-resolution on sr_holdout ----------------------------------------------------------------
def sr_methods(out: Path, scale: int, models=None) -> dict:
    """{label: (row or None, runner)} of the methods that upscale x`scale`: bicubic and every
    trained row built for it. A runner maps a uint8 LR image (h, w, 3) -> uint8 (s h, s w, 3)."""
    from keras_gen.evaluation.super_resolution import bicubic_upscaler, network_upscaler
    from keras_gen.restorers import Upscaler

    methods = {"bicubic (MATLAB)": (None, bicubic_upscaler(scale))}
    for row in ("vdsr", f"srresnet_x{scale}", f"srgan_x{scale}", f"espcn_x{scale}"):
        if not _trained(out, row) or (models and row.split("_x")[0] not in models):
            continue
        upscaler = Upscaler.from_path(out / row)  # as keras-gen upscale and evaluate run it (EMA weights)
        if scale not in upscaler.scales:
            continue
        run = network_upscaler(lambda x, u=upscaler: u.upscale(x, scale), scale, upscaler.channels, upscaler.margin)
        colour = "Y" if upscaler.channels == 1 else "RGB"
        data = _training_record(out, row).get("data")
        label = data_label(data)
        trained_on = "" if label == BUNDLED_PHOTOS else f", {label}"
        methods[f"{row.split('_x')[0]} ({colour}{trained_on})"] = (row, run)
    return methods


def sr_table(out: Path, models=None) -> list[dict]:
    """Each method on `sr_holdout` by keras_gen/evaluation/super_resolution.py (keras-gen
    evaluate's measure of super-resolution models)."""
    from keras_gen.evaluation.super_resolution import score_upscaler, sr_pictures

    rows = []
    pictures = sr_pictures("sr_holdout", channels=3)
    for scale in SR_SCALES:
        for label, (row, run) in sr_methods(out, scale, models).items():
            scores = score_upscaler(run, pictures, scale)
            record = _training_record(out, row) if row else None  # each row its own (runs of several --out merge)
            rows.append({"method": label, "row": row, "scale": scale, "training": record, **scores})
            print(f"x{scale} {label}: Y-PSNR {scores['y_psnr']:.2f} dB, SSIM {scores['y_ssim']:.4f}, "
                  f"VGG {scores['vgg_distance']:.4f}", flush=True)
    return rows


# -- inpainting: the right half of test digits -------------------------------------------------------
def hole_psnr(completed: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    """Mean over images of the PSNR (dB, [-1, 1] images) of the hole's pixels only."""
    mse = ((completed - truth) ** 2 * hole).sum(axis=(1, 2, 3)) / np.maximum(hole.sum(axis=(1, 2, 3)), 1)
    return float(np.mean(10 * np.log10(4.0 / np.maximum(mse, 1e-10))))


def inpaint_table(out: Path, args) -> dict:
    from keras_gen.core.images import from_uint8, to_uint8
    from keras_gen.data import load_arrays
    from keras_gen.features.classifier import load_domain_classifier
    from keras_gen.layers.masks import right_half_mask
    from keras_gen.runs import load_run

    truth, labels, _ = load_arrays("digits", "test", image_size=DIGIT_SIZE, channels=1, limit=args.n_digits)
    train, _, _ = load_arrays("digits", "train", image_size=DIGIT_SIZE, channels=1)
    labels = np.asarray(labels)
    hole = np.repeat(right_half_mask(DIGIT_SIZE, DIGIT_SIZE), len(truth), axis=0)
    classifier = load_domain_classifier("digits", DIGIT_SIZE, 1)
    rows = []

    def add(label, completed, seconds, **extra):
        completed = from_uint8(to_uint8(completed))  # as a saved image is
        rows.append({"method": label, "accuracy": classifier.accuracy(completed, labels),
                     "hole_psnr": hole_psnr(completed, truth, hole), "s_per_image": seconds / len(truth), **extra})
        print(f"inpaint {label}: accuracy {rows[-1]['accuracy']:.3f}, hole PSNR {rows[-1]['hole_psnr']:.2f} dB",
              flush=True)

    add("original digits (the ceiling)", truth, 0.0)
    add("hole left black (the left half alone)", np.where(hole > 0, -1.0, truth), 0.0)
    mean_digit = train.mean(axis=0, keepdims=True)
    add("mean fill (the mean training digit's right half)", np.where(hole > 0, mean_digit, truth), 0.0)
    if _trained(out, "inpaint"):
        model, _ = load_run(out / "inpaint")
        started = time.perf_counter()
        with model.ema_weights():
            completed = model.complete(truth, hole)
        add("inpaint (context encoder)", completed, time.perf_counter() - started, row="inpaint")
    if _trained(out, "ddpm"):
        from keras_gen.core_tf.repaint import complete_keras

        model, _ = load_run(out / "ddpm")
        for resample in (int(r) for r in args.resample.split(",")):
            request = {"sampler": "ddpm", "steps": min(args.ddpm_steps, model.options.timesteps)}
            with model.ema_weights():
                complete_keras(model, truth[:2], hole[:2], 2, args.seed, {**request, "steps": 1}, resample)  # trace
                started = time.perf_counter()
                completed = complete_keras(model, truth, hole, len(truth), args.seed, request, resample)
            add(f"ddpm, RePaint ({request['steps']} DDPM steps, resample {resample})", completed,
                time.perf_counter() - started, row="ddpm", resample=resample)
    return {"n": int(len(truth)), "classifier": classifier.metadata.get("test_accuracy"), "rows": rows}


def _trained(out: Path, row: str) -> bool:
    """The row has a checkpoint: its benchmark.json when its budget ran out, or the last epoch
    saved of a training that was stopped before (its steps are read from state.json)."""
    return (out / row / "checkpoints" / "last.keras").is_file()


def _training_record(out: Path, row: str) -> dict:
    if (out / row / "benchmark.json").is_file():
        return json.loads((out / row / "benchmark.json").read_text())
    state = json.loads((out / row / "state.json").read_text())
    return {"row": row, "steps": state["epoch"] * STEPS_PER_EPOCH, "cpu_s": None, "interrupted": True}


def evaluate(out: Path, args) -> dict:
    trained = {row: _training_record(out, row) for row in ROWS if _trained(out, row)}
    tables = args.tables.split(",")
    results = {"trained": trained, "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                          time.gmtime())}
    if "degradation" in tables:
        results["degradation"] = degradation_table()
    if "sr" in tables:
        results["sr"] = sr_table(out, [r for r in args.sr_models.split(",") if r])
    if "inpaint" in tables:
        results["inpaint"] = inpaint_table(out, args)
    return results


# -- tables ----------------------------------------------------------------------------------------
def _cpu_minutes(trained: dict, row, record=None) -> str:
    """The row's training CPU minutes and steps; a fine-tuned row's as the run it started from's
    plus its own ("30.2 + 2.0 (16800 + 1000 steps)")."""
    record = record or trained.get(row)
    if record is None:
        return "-"
    if record.get("cpu_s") is None:  # stopped before its budget: the steps its last checkpoint holds
        return f"not timed ({record['steps']} steps, stopped early)"
    init = record.get("init") or {}
    if init.get("cpu_s") is not None:
        return f"{init['cpu_s'] / 60:.1f} + {record['cpu_s'] / 60:.1f} ({init['steps']} + {record['steps']} steps)"
    return f"{record['cpu_s'] / 60:.1f} ({record['steps']} steps)"


def markdown(results: dict) -> str:
    out, trained = [], results["trained"]
    if results.get("degradation"):
        d = results["degradation"]
        out += [f"### The degradation: {d['image']} ({d['size'][1]}x{d['size'][0]}) reduced x{d['scale']}", "",
                "| low-resolution image made by | PSNR against MATLAB's (dB) | bicubic baseline Y-PSNR (dB) | "
                "shift (dB) |", "|---|---|---|---|"]
        ref = d["rows"][0]["bicubic_y_psnr"]
        for r in d["rows"]:
            same = r["psnr_vs_matlab"] == float("inf")
            out.append(f"| {r['degradation']} | {'identical' if same else format(r['psnr_vs_matlab'], '.2f')} | "
                       f"{r['bicubic_y_psnr']:.2f} | {r['bicubic_y_psnr'] - ref:+.2f} |")
        out.append("")
    if results.get("sr"):
        out += ["### Super-resolution on sr_holdout (chelsea, coffee, brick; mean of the three)", "",
                "| scale | method | Y-PSNR (dB) | vs bicubic | Y-SSIM | RGB PSNR (dB) | VGG distance | "
                "training CPU minutes | s (3 images) |", "|---|---|---|---|---|---|---|---|---|"]
        for scale in SR_SCALES:
            rows = [r for r in results["sr"] if r["scale"] == scale]
            if not any(r["row"] for r in rows):  # bicubic alone: no network was scored at this scale
                continue
            base = next(r for r in rows if r["row"] is None)
            for r in rows:
                out.append(f"| x{scale} | {r['method']} | {r['y_psnr']:.2f} | {r['y_psnr'] - base['y_psnr']:+.2f} | "
                           f"{r['y_ssim']:.4f} | {r['rgb_psnr']:.2f} | {r['vgg_distance']:.4f} | "
                           f"{_cpu_minutes(trained, r['row'], r.get('training'))} | {r['seconds']:.1f} |")
        out.append("")
        out += vgg_breakdown(results["sr"])
    if results.get("inpaint"):
        p = results["inpaint"]
        out += [f"### Inpainting: {p['n']} test digits ({DIGIT_SIZE} px), right half hidden", "",
                "| completion | classifier accuracy | hole PSNR (dB) | training CPU minutes | s / image |",
                "|---|---|---|---|---|"]
        for r in p["rows"]:
            out.append(f"| {r['method']} | {r['accuracy']:.3f} | "
                       f"{'-' if r['hole_psnr'] > 90 else format(r['hole_psnr'], '.2f')} | "
                       f"{_cpu_minutes(trained, r.get('row'))} | {r['s_per_image']:.4f} |")
        out.append("")
    out += ["Targets of the issue:", ""] + [f"- {line}" for line in targets(results)]
    return "\n".join(out).rstrip() + "\n"


def vgg_breakdown(sr_rows: list[dict], scale: int = 4) -> list[str]:
    """The x`scale` VGG distance of each method per picture and per VGG layer (the column is the
    mean of either): where a perceptual loss gains and where it loses. Rows scored before the
    terms were kept are left out."""
    rows = [r for r in sr_rows if r["scale"] == scale and r.get("vgg_layers")]
    if not rows:
        return []
    pictures = [p["image"] for p in rows[0]["per_image"]]
    layers = list(rows[0]["vgg_layers"])
    out = [f"VGG distance at x{scale} by picture and by layer (the column above is the mean of the pictures, and "
           "of the layers' terms):", "",
           "| method | " + " | ".join(pictures) + " | " + " | ".join(layers) + " | mean |",
           "|---|" + "---|" * (len(pictures) + len(layers) + 1)]
    for r in rows:
        by_picture = {p["image"]: p["vgg_distance"] for p in r["per_image"]}
        out.append(f"| {r['method']} | " + " | ".join(f"{by_picture[p]:.4f}" for p in pictures) + " | " +
                   " | ".join(f"{r['vgg_layers'][k]:.4f}" for k in layers) + f" | {r['vgg_distance']:.4f} |")
    return out + [""]


def targets(results: dict) -> list[str]:
    lines, trained = [], results["trained"]
    met = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731

    def gain(prefix, scale):
        rows = [r for r in results.get("sr", []) if r["scale"] == scale]
        base = next((r for r in rows if r["row"] is None), None)
        found = next((r for r in rows if r["row"] and r["row"].startswith(prefix)
                      and not ((r.get("training") or {}).get("init"))), None)  # trained from scratch
        return (None, None) if base is None or found is None else (found["y_psnr"] - base["y_psnr"], found)

    for prefix, scale, key in (("vdsr", 2, "vdsr_x2_gain"), ("srresnet", 4, "srresnet_x4_gain")):
        delta, found = gain(prefix, scale)
        if delta is None:
            continue
        minutes = (found.get("training") or trained[found["row"]])["cpu_s"] / 60
        ok = delta >= TARGETS[key] and minutes <= TARGETS["cpu_minutes"] * 1.05  # the budget ends with an epoch
        lines.append(f"{prefix} >= bicubic + {TARGETS[key]:.1f} dB at x{scale} within {TARGETS['cpu_minutes']:.0f} CPU "
                     f"minutes: {delta:+.2f} dB after {minutes:.1f} CPU minutes, {met(ok)}")
    by_data = {}  # the seeds' point, between rows trained on the same data: each wins its own column
    for r in results.get("sr", []):
        if r["scale"] == 4 and r["row"] in ("srresnet_x4", "srgan_x4"):
            data = (r.get("training") or trained.get(r["row"]) or {}).get("data")
            by_data.setdefault(data_label(data), {}).setdefault(r["row"], r)
    for data, x4 in by_data.items():
        if "srresnet_x4" not in x4 or "srgan_x4" not in x4:
            continue
        mse, gan = x4["srresnet_x4"], x4["srgan_x4"]
        lines.append(f"srgan (from srresnet) beats srresnet on the VGG distance at x4 while srresnet keeps the Y-PSNR "
                     f"(both trained on {data}): "
                     f"VGG {gan['vgg_distance']:.4f} vs {mse['vgg_distance']:.4f}, Y-PSNR {gan['y_psnr']:.2f} vs "
                     f"{mse['y_psnr']:.2f} dB, "
                     f"{met(gan['vgg_distance'] < mse['vgg_distance'] and mse['y_psnr'] > gan['y_psnr'])}")
    rows = (results.get("inpaint") or {}).get("rows", [])
    network = next((r for r in rows if r.get("row") == "inpaint"), None)
    if network:
        lines.append(f"inpaint's completions classified as the original digit >= {TARGETS['inpaint_accuracy']:.0%}: "
                     f"{network['accuracy']:.1%}, {met(network['accuracy'] >= TARGETS['inpaint_accuracy'])}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("all", "train", "evaluate"), default="all")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--scale-budget", type=float, default=1.0, help="multiplies every row's CPU minutes")
    parser.add_argument("--minutes", type=float, default=None,
                        help="CPU minutes of each row trained in this call instead of the row's own (e.g. a longer "
                             "srgan_x4 fine-tuning); --scale-budget still multiplies them")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a model option of the rows trained in this call, over the row's own (repeatable; "
                             "e.g. --rows srgan_x4 --set adversarial_weight=0 for the SRResNet-VGG variant); with "
                             "--out elsewhere the benchmark's own rows stay as they are")
    parser.add_argument("--init-from", default=None, metavar="RUN",
                        help="the trained run a row with an init (srgan_x4: srresnet_x4) starts from, instead of "
                             "OUT/<that row> (e.g. benchmarks/out/restoration/srresnet_x4 with --out elsewhere); "
                             "the srresnet rows trained in this call fine-tune it too")
    parser.add_argument("--train-data", default=None, metavar="DIR",
                        help="a folder of photos the super-resolution rows trained in this call draw their patches "
                             "from instead of the bundled photos (python benchmarks/sr_photos.py makes one); "
                             "sr_holdout stays the test set")
    parser.add_argument("--steps", type=int, default=None,
                        help="train the rows of this call for this many steps (whole epochs of 100) instead of "
                             "their CPU budgets (the same steps for rows compared side by side)")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra-op threads, with 1 inter-op thread (0: TensorFlow's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/out/restoration", help="run folders (ignored by git)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny networks, seconds of training")
    parser.add_argument("--tables", default="degradation,sr,inpaint")
    parser.add_argument("--resample", default="1,5", help="RePaint passes per step of the ddpm rows")
    parser.add_argument("--ddpm-steps", type=int, default=50)
    parser.add_argument("--n-digits", type=int, default=360, help="test digits completed (all 360 by default)")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    parser.add_argument("--results", default=None, help="write the tables into this markdown file's section")
    parser.add_argument("--section", default="restoration",
                        help="the section's name in --results (e.g. 'restoration photos' for rows trained on a "
                             "--train-data folder, beside the main table)")
    parser.add_argument("--sr-models", default="", help="evaluate only these of vdsr, srresnet, srgan, espcn (and "
                                                             "bicubic); default: every trained row")
    parser.add_argument("--from-json", default=None, metavar="A.json,B.json",
                        help="evaluate nothing: merge the tables of earlier --json files (e.g. the sr and the "
                             "inpaint tables, evaluated apart) and write them; a row in several files is the first "
                             "file's")
    args = parser.parse_args()
    set_threads(args.threads)
    out = Path(args.out) / ("quick" if args.quick else "")
    rows = [r for r in args.rows.split(",") if r]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; rows: {', '.join(ROWS)}")
    if args.from_json:
        results = {}
        for path in args.from_json.split(","):
            part = json.loads(Path(path).read_text())
            for r in part.get("sr", []):  # a row keeps its own file's training record (rows of several --out)
                if r.get("row") and not r.get("training"):
                    r["training"] = part.get("trained", {}).get(r["row"])
            for key, value in part.items():
                if key == "sr" and results.get("sr"):  # rows of several runs: one per (scale, method)
                    seen = {(r["scale"], r["method"]) for r in results["sr"]}
                    results["sr"] += [r for r in value if (r["scale"], r["method"]) not in seen]
                    order = list(ROWS)  # bicubic, then the rows in ROWS' order
                    results["sr"].sort(key=lambda r: (r["scale"], -1 if r["row"] is None else order.index(r["row"])))
                elif key == "trained":  # as the rows: the first file that has a row's record gives it
                    for row, record in value.items():
                        results.setdefault("trained", {}).setdefault(row, record)
                elif value or key not in results:
                    results[key] = value
        text = markdown(results)
        print(text)
        if args.results:
            write_section(Path(args.results), text, args.section)
        return
    if args.stage in ("all", "train"):
        for row in rows:
            train_row(out, row, args.scale_budget, args.seed, args.quick, args.set, args.minutes, args.init_from,
                      args.train_data, args.steps)
    if args.stage in ("all", "evaluate"):
        results = evaluate(out, args)
        text = markdown(results)
        print(text)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=float))
        if args.results:
            write_section(Path(args.results), text, args.section)


if __name__ == "__main__":
    main()
