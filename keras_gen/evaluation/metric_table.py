"""The metric table: what each metric needs from a model, how it is scored, and its floor.

    samples           fid kid is pr mem div   images from `sample(n, seed, **conditions)`
    requested labels  label_acc               samples drawn for classes the evaluator asks for
    pairs             psnr ssim               `translate(test A)` compared with the true test B, or an
                                              autoencoder's `reconstruct(test images)` with the images
    likelihoods       bpd                     `log_likelihood(test images)`
    low-resolution    sr vgg                  a super-resolution model upscaling full-size pictures
      inputs                                  degraded the papers' way: Y-PSNR/SSIM, RGB PSNR (sr),
                                              VGG feature distance (vgg), beside bicubic
                                              (keras_gen/evaluation/super_resolution.py)

`capabilities(model)` reads, by duck typing, which needs a model can feed; a metric is a
`Metric(name, needs, score)` whose `score(evaluator, feed)` returns its rows, each figure
beside its floor. Adding a metric is one function and one entry in `METRICS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8, to_uint8

if TYPE_CHECKING:  # the evaluator imports this table
    from keras_gen.evaluation.evaluator import Evaluator

TRAIN_CAP = 10_000  # training images embedded as the reference set (a seeded random subset beyond)
INCEPTION_FEATURE_DIM = 2048  # InceptionV3's pool layer

# What a metric needs a model to feed, and how a user is told what that means.
SAMPLES, LABELS, PAIRS, LIKELIHOODS = "samples", "requested labels", "pairs", "likelihoods"
UPSCALES = "low-resolution inputs"
NEEDS = {
    SAMPLES: "a model that draws images from latents alone (sample(n, seed)), not one that takes images in",
    LABELS: "a class-conditional model: one with an input of kind 'label', sampled with sample(n, seed, label=...)",
    PAIRS: "a paired A->B model (data_kind 'paired', translate(images_a)) and paired data (--data DIR with A/ and B/), "
           "or an autoencoder (data_kind 'images', reconstruct(images))",
    LIKELIHOODS: "a likelihood model: log_likelihood(images) in nats and likelihood_kind 'discrete' or 'continuous'",
    UPSCALES: "a super-resolution model (data kind 'degraded': vdsr, srresnet, srgan, espcn), a run or its export",
}


class DataMismatchWarning(UserWarning):
    """--data is not the data the model was trained on: the figures are against the other set."""


# -- what a model can feed ---------------------------------------------------------------------
def input_specs(model) -> list:
    """The model's declared inputs (`.name`, `.kind`, `.num_classes` for labels): a method on
    Keras models, an attribute on exports; a model that declares none is unconditional."""
    specs = getattr(model, "input_specs", None)
    return list((specs() if callable(specs) else specs) or [])


def label_spec(model):
    """The input spec of kind "label", or None for a model that takes no class."""
    return next((s for s in input_specs(model) if s.kind == "label"), None)


def sampling_options(model, options: dict | None) -> dict:
    """`options` ({name: value}, values as numbers or as typed on the command line) checked
    against the request options the model declares (guidance, steps, truncation, ...) and
    converted to their types: what `sample(n, seed, **conditions)` is called with besides the
    labels. A name the model does not declare as an option, or a value outside its range, is an
    error that lists what it takes; so is any option for a model scored at conditions drawn from
    the data (`sample_like_data`: chairs)."""
    if options and callable(getattr(model, "sample_like_data", None)):
        raise KerasGenError("this model is scored at conditions drawn from the data (sample_like_data), which take "
                            f"no sampling options; drop {', '.join('--' + k.replace('_', '-') for k in options)}.")
    # A Keras model's sampler options (steps, sampler, eta, temperature) are in request_specs
    # beside its input_specs; an export lists them all in input_specs.
    request_specs = getattr(model, "request_specs", None)
    declared = request_specs() if callable(request_specs) else input_specs(model)
    specs = {s.name: s for s in declared if s.kind == "option"}
    parsed = {}
    for name, value in (options or {}).items():
        flag = f"--{name.replace('_', '-')}"
        spec = specs.get(name.replace("-", "_"))
        if spec is None:
            known = ", ".join(f"--{k.replace('_', '-')}" for k in specs) or "none"
            raise KerasGenError(f"unknown sampling option {flag} for this model; its sampling options: {known}.")
        if spec.choices and value in spec.choices:
            parsed[spec.name] = spec.choices.index(value)  # `--sampler ddim`
            continue
        number = int if spec.dtype.startswith("int") else float
        try:
            parsed[spec.name] = number(value)
        except (TypeError, ValueError):
            raise KerasGenError(f"{flag} takes {'a whole number' if number is int else 'a number'}"
                                + (f" or one of {', '.join(spec.choices)}" if spec.choices else "")
                                + f", got {value!r}.") from None
        low, high = spec.range
        if not low <= parsed[spec.name] <= high:
            raise KerasGenError(f"{flag} must be in [{low}, {high}], got {value}.")
    return parsed


def capabilities(model) -> set[str]:
    """The needs (SAMPLES, LABELS, PAIRS, LIKELIHOODS) this model can feed, by duck typing."""
    kinds = {s.kind for s in input_specs(model)}
    can = set()
    if callable(getattr(model, "sample", None)) and "image" not in kinds:  # an image-to-image model has no prior
        can.add(SAMPLES)
        if "label" in kinds:
            can.add(LABELS)
    if getattr(model, "data_kind", None) == "paired" and callable(getattr(model, "translate", None)):
        can.add(PAIRS)
    if reconstructs(model):
        can.add(PAIRS)
    if callable(getattr(model, "log_likelihood", None)) and getattr(model, "likelihood_kind", None) in (
            "discrete", "continuous"):
        can.add(LIKELIHOODS)
    if upscales(model):
        can.add(UPSCALES)
    return can


def upscales(model) -> bool:
    """A super-resolution model: a run's (data kind "degraded") or an export's (its metadata's
    "upscale" facts)."""
    if getattr(model, "data_kind", None) == "degraded":
        return True
    metadata = getattr(model, "metadata", None)
    return isinstance(metadata, dict) and bool(metadata.get("upscale"))


def reconstructs(model) -> bool:
    """An autoencoder of its own training images: its pairs are (test image, test image)."""
    return getattr(model, "data_kind", None) == "images" and callable(getattr(model, "reconstruct", None))


# -- the metric table --------------------------------------------------------------------------
@dataclass
class Feed:
    """What a model fed the evaluation; a field is None when no metric asked for it."""

    images: np.ndarray | None = None  # SAMPLES: generated images, float [-1, 1], quantised
    labels: np.ndarray | None = None  # LABELS: the class requested for each of `images`
    translations: np.ndarray | None = None  # PAIRS: translate(test A) or reconstruct(test), float [-1, 1], quantised
    reconstructed: bool = False  # PAIRS: `translations` are reconstructions of the real test split
    nll: np.ndarray | None = None  # LIKELIHOODS: NLL in nats of each real test image
    likelihood_kind: str | None = None  # "discrete" or "continuous" (keras_gen.metrics.likelihood)
    features: dict | None = None  # the generated images embedded, filled once for every sample metric
    # UPSCALES: {scale: {"model": ..., "bicubic": ...}}, each super_resolution.upscale_pictures' result
    upscaled: dict | None = None

    def has(self, need: str) -> bool:
        return {SAMPLES: self.images is not None, LABELS: self.labels is not None,
                PAIRS: self.translations is not None, LIKELIHOODS: self.nll is not None,
                UPSCALES: self.upscaled is not None}[need]


@dataclass(frozen=True)
class Metric:
    """A metric: its name on the command line, what it needs, whether it runs by default, and
    `score(evaluator, feed) -> {row name: {"generated": ..., "floor": ..., ...}}`."""

    name: str
    needs: str
    score: Callable
    default: bool = True


def _sides(ev: "Evaluator", feed: Feed):
    """(train, generated, generated matched, test matched) features; matched sides hold as many
    samples as the smaller of generated and (capped) test sets."""
    g, t = feed.features["features"], ev.test["features"]
    m = min(len(g), len(t))
    return ev.train["features"], g, g[:m], t[:m]


def _fid(ev, feed):
    """FID = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) of Gaussians fitted to features."""
    from keras_gen.metrics import fid_from_features

    tr, g, gm, tm = _sides(ev, feed)
    matched = len(gm) > tr.shape[1]  # the matched figure and the floor need a full-rank covariance too
    row = {"generated": fid_from_features(tr, g), "generated_matched": fid_from_features(tr, gm) if matched else None,
           "floor": fid_from_features(tr, tm) if matched else None}
    if not matched:
        row["note"] = (f"the test split has {len(tm)} images, too few for a {tr.shape[1]}-d covariance: no matched "
                       "FID or floor")
    return {"fid": row}


def _kid(ev, feed):
    """KID = unbiased MMD^2 with the cubic kernel k(x, y) = (x.y / d + 1)^3, mean ± std over subsets."""
    from keras_gen.metrics import kernel_inception_distance

    tr, g, gm, tm = _sides(ev, feed)
    # Subsets of half the smaller set: with subsets as big as the set, every subset would be
    # the whole set and the std would say nothing about the estimate.
    size = max(2, min(1000, len(gm) // 2))
    row = {}
    for key, side in (("generated", g), ("generated_matched", gm), ("floor", tm)):
        row[key], row[f"{key}_std"] = kernel_inception_distance(tr, side, subset_size=size, seed=ev.seed)
    return {"kid": row}


def _inception_score(ev, feed):
    """IS = exp(E_x KL(p(y|x) || p(y))) over splits, with the feature network's class predictions."""
    from keras_gen.metrics import inception_score

    if "probs" not in feed.features:
        raise KerasGenError(f"The {ev.features} feature space has no class predictions for IS.")
    _, _, gm, _ = _sides(ev, feed)
    m = len(gm)
    splits = 10 if m >= 100 else 1
    row = {}
    for key, probs in (("generated", feed.features["probs"]), ("generated_matched", feed.features["probs"][:m]),
                       ("floor", ev.test["probs"][:m])):
        row[key], row[f"{key}_std"] = inception_score(probs, splits=splits)
    return {"is": row}


def _precision_recall(ev, feed):
    """Precision: share of samples inside the real k-NN manifold; recall: share of real images
    inside the samples' manifold (Kynkäänniemi et al. 2019)."""
    from keras_gen.metrics import precision_recall

    tr, g, gm, tm = _sides(ev, feed)
    (gp, gr), (mp, mr), (fp, fr) = (precision_recall(tr, side, real_radii=ev.train_radii) for side in (g, gm, tm))
    return {"precision": {"generated": gp, "generated_matched": mp, "floor": fp},
            "recall": {"generated": gr, "generated_matched": mr, "floor": fr}}


def _memorisation(ev, feed):
    """Ratio of each sample's nearest-training-image distance to the test images' (<< 1: copying)."""
    from keras_gen.metrics import memorisation

    tr, g, _, _ = _sides(ev, feed)
    mem = memorisation(g, tr, ev.test["features"])
    # By construction the test set's own ratio is 1 and its flagged share is the quantile.
    return {"memorisation_ratio": {"generated": mem["ratio"], "floor": 1.0},
            "memorised_fraction": {"generated": mem["flagged_fraction"], "floor": mem["quantile"]}}


def _diversity(ev, feed):
    """Mean pairwise distance of samples in VGG16's generic feature space (block5, pooled): a
    classifier's features are trained to ignore within-class variety, which is what this measures."""
    from keras_gen.metrics import mean_pairwise_distance

    gv, tv = ev.vgg(feed.images), ev.vgg_test
    m = min(len(gv), len(tv))
    return {"diversity": {"generated": mean_pairwise_distance(gv, seed=ev.seed),
                          "generated_matched": mean_pairwise_distance(gv[:m], seed=ev.seed),
                          "floor": mean_pairwise_distance(tv[:m], seed=ev.seed)}}


def _label_accuracy(ev, feed):
    """Share of samples the domain classifier names as their requested class, overall and per
    class (keras_gen.metrics.label_accuracy); floor: the classifier on real test images."""
    from keras_gen.metrics import per_class_accuracy

    judge = ev.classifier
    generated = per_class_accuracy(judge.predict(feed.images), feed.labels, judge.num_classes)
    floor = ev.label_floor

    def listed(values):  # JSON has no NaN: a class never requested is null
        return [None if np.isnan(v) else float(v) for v in values]

    return {"label_accuracy": {
        "generated": generated["accuracy"], "floor": floor["accuracy"],
        "per_class": listed(generated["per_class"]), "per_class_floor": listed(floor["per_class"]),
        "per_class_n": generated["counts"].tolist(), "per_class_floor_n": floor["counts"].tolist(),
        "floor_is": f"the domain classifier on the real test split (n={int(floor['counts'].sum())})"}}


def _psnr_ssim(ev, feed, which):
    """PSNR = 10 log10(max^2 / MSE) and SSIM (Wang et al. 2004) of translate(A) against the true
    B; floor: the input A itself (resized to B's size and channels) as the output. For an
    autoencoder, of reconstruct(test) against the test images; floor: the mean training image as
    every reconstruction (a trivial baseline: the identity would be perfect)."""
    from keras_gen import metrics as M

    if feed.reconstructed:
        b = ev.real_test
        identity = np.broadcast_to(quantise(ev.real_train.mean(0)), b.shape)
        floor_is = f"the mean training image as every reconstruction (trivial baseline, n={len(b)} test images)"
    else:
        a, b = ev.pairs
        identity = ev.identity_baseline
        floor_is = f"the input A unchanged as the output (identity baseline, n={len(b)} test pairs)"
    if which == "psnr":
        def fn(x, y):
            return M.psnr(x, y)
    else:
        # 11x11 is the standard window; smaller images get the largest odd window that fits.
        size = min(11, min(b.shape[1:3]) - (1 - min(b.shape[1:3]) % 2))

        def fn(x, y):
            return M.ssim(x, y, filter_size=size)
    row = {"generated": fn(feed.translations, b), "floor": fn(identity, b), "n": int(len(b)), "floor_is": floor_is}
    if which == "ssim" and size != 11:
        row["note"] = f"{size}x{size} window for {b.shape[1]} px images: not comparable with standard 11x11 SSIM"
    return {which: row}


def _bits_per_dim(ev, feed):
    """bits/dim = NLL / (D ln 2) on the test split (keras_gen.metrics.likelihood); floor: an
    independent per-pixel 256-level histogram of the train split, a trivial baseline."""
    from keras_gen.metrics import bits_per_dim, independent_pixel_nll

    shape = ev.real_test.shape[1:]
    model_bpd = bits_per_dim(feed.nll, shape, continuous=feed.likelihood_kind == "continuous")
    baseline = bits_per_dim(independent_pixel_nll(to_uint8(ev.real_train), to_uint8(ev.real_test)), shape)
    return {"bpd": {"generated": float(np.mean(model_bpd)), "floor": float(np.mean(baseline)),
                    "n": int(len(ev.real_test)),
                    "floor_is": "independent per-pixel 256-level histograms of the train split (trivial baseline)"}}


def _super_resolution(ev, feed, vgg: bool):
    """Per trained scale: the model's pictures against the originals, beside bicubic's of the same
    low-resolution inputs (the measure is keras_gen/evaluation/super_resolution.py, which
    benchmarks/restoration.py uses too): Y-PSNR, Y-SSIM, RGB PSNR (`sr`) or the VGG feature
    distance (`vgg`, lower is better)."""
    from keras_gen.evaluation.super_resolution import BICUBIC, FIDELITY, VGG_DISTANCE, sr_measures

    rows = {}
    for scale, sides in feed.upscaled.items():
        model, floor = (sr_measures(sides[side], scale, vgg=vgg, fidelity=not vgg) for side in ("model", "bicubic"))
        pictures = sides["model"]["names"]
        for key in (VGG_DISTANCE,) if vgg else FIDELITY:
            rows[f"{key}_x{scale}"] = {
                "generated": model[key], "floor": floor[key], "n": len(pictures), "pictures": pictures,
                "per_image": [p[key] for p in model["per_image"]],
                "floor_per_image": [p[key] for p in floor["per_image"]],
                "floor_is": f"{BICUBIC} of the same low-resolution pictures (the papers' baseline)"}
            if vgg:
                rows[f"{key}_x{scale}"]["note"] = "lower is better: VGG16 features of the output against the original's"
    return rows


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("fid", SAMPLES, _fid),
    Metric("kid", SAMPLES, _kid),
    Metric("is", SAMPLES, _inception_score, default=False),  # only meaningful with a class-rich feature net
    Metric("pr", SAMPLES, _precision_recall),
    Metric("mem", SAMPLES, _memorisation),
    Metric("div", SAMPLES, _diversity, default=False),  # loads VGG16: opt in
    Metric("label_acc", LABELS, _label_accuracy),
    Metric("psnr", PAIRS, lambda ev, feed: _psnr_ssim(ev, feed, "psnr")),
    Metric("ssim", PAIRS, lambda ev, feed: _psnr_ssim(ev, feed, "ssim")),
    Metric("bpd", LIKELIHOODS, _bits_per_dim),
    Metric("sr", UPSCALES, lambda ev, feed: _super_resolution(ev, feed, vgg=False)),
    Metric("vgg", UPSCALES, lambda ev, feed: _super_resolution(ev, feed, vgg=True)),
)}
METRIC_NAMES = tuple(METRICS)


def parse_metrics(metrics) -> list[str]:
    """Metric names from "fid,kid" or a sequence, checked against METRICS."""
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise KerasGenError(f"Unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from "
                            f"{', '.join(METRIC_NAMES)}, or leave out --metrics for every one the model can feed.")
    return names


def metrics_for(model, metrics=None) -> list[str]:
    """The metrics to run on `model`: those asked for, each checked against what the model can
    feed; or, with `metrics=None`, every default metric it can feed."""
    can = capabilities(model)
    if metrics is None:
        names = [m.name for m in METRICS.values() if m.default and m.needs in can]
        if not names:
            raise KerasGenError(f"{type(model).__name__} feeds no metric: it needs one of "
                                + "; ".join(f"{need}: {text}" for need, text in NEEDS.items()) + ".")
        return names
    names = parse_metrics(metrics)
    unfed = [f"{name} needs {METRICS[name].needs} ({NEEDS[METRICS[name].needs]})"
             for name in names if METRICS[name].needs not in can]
    if unfed:
        fed = [m.name for m in METRICS.values() if m.needs in can]
        raise KerasGenError(f"{type(model).__name__} cannot feed every metric asked for: " + "; ".join(unfed)
                            + f". It can feed: {', '.join(fed) or 'none'}.")
    return names


def quantise(images: np.ndarray) -> np.ndarray:
    """Round-trip through uint8, as images written to files or served are."""
    return from_uint8(to_uint8(np.asarray(images)))


def _as_library_images(images) -> np.ndarray:
    images = np.asarray(images)
    return from_uint8(images) if images.dtype == np.uint8 else quantise(images)  # NaN raises here


def domain_feature_dim() -> int:
    """The domain classifier's feature size, known without building or training one, so a sample
    count can be refused first."""
    from keras_gen.features.classifier import DOMAIN_FEATURE_DIM

    return DOMAIN_FEATURE_DIM


