"""`keras-gen evaluate`: every figure beside a floor that gives it a scale.

A number like "FID 12.3" means little alone: it depends on the feature space, the sample size
and the data. So each metric is computed twice, once on what the model gives and once on a
reference that says what the number would be without the model's faults:

    generated vs train   the model's figure, on n generated samples, and again on as many
                         samples as the test split has (FID is biased by sample size);
    test vs train        the floor: what a perfect model, drawing fresh images from the data
                         distribution, would score with that many samples.

Metrics state what they need from a model (`METRICS`, one `Metric` each):

    samples           fid kid is pr mem div   images from `sample(n, seed, **conditions)`
    requested labels  label_acc               samples drawn for classes the evaluator asks for
    pairs             psnr ssim               `translate(test A)` compared with the true test B
    likelihoods       bpd                     `log_likelihood(test images)`
    low-resolution    sr vgg                  a super-resolution model on full-size pictures (the
      inputs                                  run's test split, or --data sr_holdout) degraded by
                                              MATLAB's bicubic: Y-PSNR/SSIM and RGB PSNR, VGG
                                              feature distance, each beside bicubic's

and `capabilities(model)` reads, by duck typing, which of these a model can feed. `evaluate`
without --metrics runs every default metric the model can feed; asking for one it cannot feed
is an error that names the need.

Feature spaces: "domain" (offline default) is the penultimate layer of a small classifier
trained on the labelled data set (`keras_gen.features.classifier`); "inception" is
InceptionV3's 2048-d pool layer with Keras' ImageNet weights (needs the weights file). Domain
figures are comparable only with domain figures on the same data set and classifier. Nothing
is loaded or trained until a metric needs it, so a bad request fails before any of that.

Generated images are quantised to uint8 and back, as they would be when written to files or
served, so a model is scored on what a user receives.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from keras_gen.errors import KerasGenError
from keras_gen.evaluation.evaluator import Evaluator
from keras_gen.evaluation.metric_table import (LABELS, LIKELIHOODS, METRIC_NAMES, METRICS, NEEDS, PAIRS, SAMPLES,
                                               UPSCALES, DataMismatchWarning, Feed, Metric, capabilities, input_specs,
                                               label_spec, metrics_for, parse_metrics, quantise, sampling_options)
from keras_gen.evaluation.super_resolution import SR_HOLDOUT

# -- models from a run or an export ------------------------------------------------------------
def open_generator(path) -> tuple[object, dict]:
    """(model, facts) for a training run or an export folder. The model samples with
    `sample(n, seed, **conditions)` (float [-1, 1] from Keras, uint8 at the edge) and may feed
    more (see `capabilities`); facts say what it was trained on."""
    from keras_gen.core.paths import RUN, path_kind

    path = Path(path)
    if path_kind(path) == RUN:
        from keras_gen.runs import load_run  # here, not at the top: it imports Keras

        model, config = load_run(path)
        return model, {"kind": "run", "model": config["model"], "data": config["data"],
                       "data_dir": config.get("data_dir"), "image_size": config["image_size"],
                       "channels": config["channels"], "seed": config["seed"], "data_shapes": model.data_shapes()}
    from keras_gen.core.edge import EdgeModel

    model = EdgeModel.from_path(path)
    manifest = model.manifest
    training, metadata = manifest.get("training") or {}, manifest.get("metadata") or {}
    return model, {"kind": "export", "model": manifest.get("model"), "data": training.get("data"),
                   "data_dir": training.get("data_dir"), "seed": training.get("seed"),
                   "version_dir": str(getattr(model, "version_dir", path)),
                   "image_size": metadata.get("image_size"), "channels": metadata.get("channels"),
                   "data_shapes": metadata.get("data_shapes")}


def _same_data(a, b) -> bool:
    """Whether two --data values name the same set (folders compared by their resolved path)."""
    if str(a) == str(b):
        return True
    pa, pb = Path(str(a)).expanduser(), Path(str(b)).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def evaluate_path(path, data=None, metrics=None, n=2000, seed=0, features="domain",
                  data_dir=None, cache_dir=None, inception_weights=None, on_warning=None, options=None) -> dict:
    """Evaluate a training run or an export; `metrics=None` runs every default metric it can feed.
    `options` ({name: value}) are request options the samples are drawn with (`guidance`,
    `steps`, ...; default: the model's own defaults), recorded in the report.

    Every request that cannot succeed (too few samples, a metric the model cannot feed) is
    refused before any classifier is trained or any sample drawn. Warnings (--data other than
    the training data) are Python warnings (DataMismatchWarning), go to `on_warning(message)`
    when given, and are listed in the report."""
    if n < 10:
        raise KerasGenError(f"--n must be at least 10 (2000 is usual), got {n}.")
    if metrics is not None:
        parse_metrics(metrics)  # a misspelt name fails before the model loads
    model, facts = open_generator(path)
    names = metrics_for(model, metrics)
    options = sampling_options(model, options)
    trained_on = facts.get("data")
    data = data or trained_on
    if not data:
        raise KerasGenError(f"Cannot tell which data {path} was trained on; pass --data.")
    notes = []
    held_out = data == SR_HOLDOUT and UPSCALES in capabilities(model)  # every SR model's test pictures
    if trained_on and not _same_data(data, trained_on) and not held_out:
        notes.append(f"{path} was trained on {trained_on}, but --data is {data}: the figures are against {data} "
                     f"(its images loaded at the model's size and channels), not against the training data.")
        warnings.warn(notes[-1], DataMismatchWarning, stacklevel=2)
        if on_warning is not None:
            on_warning(notes[-1])
    # Real data drawn with the run's own seed: for generated sources (shapes, photos, textures) the
    # seed decides which images "train" holds, and the memorisation check needs those exactly.
    data_seed = facts["seed"] if facts.get("seed") is not None and data == trained_on else seed
    evaluator = Evaluator(data, image_size=facts.get("image_size"), channels=facts.get("channels"), features=features,
                          n_real=n, seed=data_seed, data_dir=data_dir or facts.get("data_dir"),
                          cache_dir=cache_dir, inception_weights=inception_weights,
                          pair_shapes=facts.get("data_shapes"))
    evaluator.check_sample_count(n, names)
    # A run is scored with the weights its export would carry: the EMA when it kept one.
    with model.ema_weights() if hasattr(model, "ema_weights") else contextlib.nullcontext():
        report = evaluator.evaluate_model(model, names, n=n, seed=seed + 1,  # seed + 1: not the training grid's
                                          options=options)
    return {"path": str(path), "model": facts.get("model"), "source": facts["kind"], "data": data,
            "trained_on": trained_on, "sampling_options": options, "warnings": notes, **report}


# -- the report --------------------------------------------------------------------------------
def format_report(report: dict) -> str:
    """A table with each figure beside its floor, then what each floor is."""
    feats, results = report["features"], report["metrics"]
    head = f"{report.get('model') or 'model'} ({report.get('source')}) vs {report['data']}"
    if "n_generated" in report:
        head += f", {feats['kind']} features"
    if feats.get("classifier_test_accuracy") is not None:
        head += f" (classifier test accuracy {feats['classifier_test_accuracy']:.3f})"
    if report.get("sampling_options"):
        options = report["sampling_options"].items()
        head += ", sampled with " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options)
    n, m = report.get("n_generated"), report.get("n_matched")
    cols = ("metric", f"generated n={n}" if n else "generated", f"generated n={m}" if m else "generated, matched n",
            "floor")
    rows = []
    for name, r in results.items():
        def fmt(key):
            if r.get(key) is None:
                return "n/a" if key in r else "-"
            std = r.get(f"{key}_std")
            scale = 1000.0 if name == "kid" else 1.0  # KID is conventionally reported x 1000
            return f"{r[key] * scale:.3f}" + (f" ± {std * scale:.3f}" if std is not None else "")
        rows.append((name + (" x1000" if name == "kid" else ""), fmt("generated"), fmt("generated_matched"), fmt("floor")))
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [head, line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    for name, r in results.items():
        if "per_class" in r:
            pairs = (f"{c}: {'-' if g is None else f'{g:.2f}'}/{'-' if f is None else f'{f:.2f}'}"
                     for c, (g, f) in enumerate(zip(r["per_class"], r["per_class_floor"])))
            out.append(f"{name} per class (generated/floor): " + "  ".join(pairs))
    if "n_generated" in report:
        sample_rows = [name for name, r in results.items() if "floor_is" not in r]
        out.append(f"floor: test vs train n={m} for {', '.join(sample_rows)}: what fresh real images score "
                   f"(train features: n={report['n_train']}).")
    floors: dict[str, list[str]] = {}  # one line per floor, naming every metric it is the floor of
    for name, r in results.items():
        if r.get("floor_is"):
            floors.setdefault(r["floor_is"], []).append(name)
    out += [f"floor: {text} for {', '.join(names)}." for text, names in floors.items()]
    out += [f"note ({name}): {r['note']}" for name, r in results.items() if r.get("note")]
    return "\n".join(out)


def save_report(report: dict, path) -> Path:
    """Write the report as JSON atomically: a reader never sees half a file."""
    from keras_gen.core.fileio import write_json_atomic

    write_json_atomic(path, report)
    return Path(path)


__all__ = ["DataMismatchWarning", "Evaluator", "Feed", "LABELS", "LIKELIHOODS", "METRICS", "METRIC_NAMES", "Metric",
           "NEEDS", "PAIRS", "SAMPLES", "UPSCALES", "capabilities", "evaluate_path", "format_report", "input_specs",
           "label_spec", "metrics_for", "open_generator", "parse_metrics", "quantise", "sampling_options",
           "save_report"]
