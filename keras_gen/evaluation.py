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
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8, to_uint8

TRAIN_CAP = 10_000  # training images embedded as the reference set (a seeded random subset beyond)
INCEPTION_FEATURE_DIM = 2048  # InceptionV3's pool layer

# What a metric needs a model to feed, and how a user is told what that means.
SAMPLES, LABELS, PAIRS, LIKELIHOODS = "samples", "requested labels", "pairs", "likelihoods"
NEEDS = {
    SAMPLES: "a model that draws images from latents alone (sample(n, seed)), not one that takes images in",
    LABELS: "a class-conditional model: one with an input of kind 'label', sampled with sample(n, seed, label=...)",
    PAIRS: "a paired A->B model (data_kind 'paired', translate(images_a)) and paired data (--data DIR with A/ and B/)",
    LIKELIHOODS: "a likelihood model: log_likelihood(images) in nats and likelihood_kind 'discrete' or 'continuous'",
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
    if callable(getattr(model, "log_likelihood", None)) and getattr(model, "likelihood_kind", None) in (
            "discrete", "continuous"):
        can.add(LIKELIHOODS)
    return can


# -- the metric table --------------------------------------------------------------------------
@dataclass
class Feed:
    """What a model fed the evaluation; a field is None when no metric asked for it."""

    images: np.ndarray | None = None  # SAMPLES: generated images, float [-1, 1], quantised
    labels: np.ndarray | None = None  # LABELS: the class requested for each of `images`
    translations: np.ndarray | None = None  # PAIRS: translate(test A), float [-1, 1], quantised
    nll: np.ndarray | None = None  # LIKELIHOODS: NLL in nats of each real test image
    likelihood_kind: str | None = None  # "discrete" or "continuous" (keras_gen.metrics.likelihood)
    features: dict | None = None  # the generated images embedded, filled once for every sample metric

    def has(self, need: str) -> bool:
        return {SAMPLES: self.images is not None, LABELS: self.labels is not None,
                PAIRS: self.translations is not None, LIKELIHOODS: self.nll is not None}[need]


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
    (gp, gr), (mp, mr), (fp, fr) = (precision_recall(tr, side) for side in (g, gm, tm))
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
    B; floor: the input A itself (resized to B's size and channels) as the output."""
    from keras_gen import metrics as M

    a, b = ev.pairs
    identity = ev.identity_baseline
    if which == "psnr":
        def fn(x, y):
            return M.psnr(x, y)
    else:
        # 11x11 is the standard window; smaller images get the largest odd window that fits.
        size = min(11, min(b.shape[1:3]) - (1 - min(b.shape[1:3]) % 2))

        def fn(x, y):
            return M.ssim(x, y, filter_size=size)
    row = {"generated": fn(feed.translations, b), "floor": fn(identity, b), "n": int(len(b)),
           "floor_is": f"the input A unchanged as the output (identity baseline, n={len(b)} test pairs)"}
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


# -- the evaluator -----------------------------------------------------------------------------
@dataclass
class Evaluator:
    """Real data and its features, each loaded on first need; scores any number of models.

    `n_real` caps how many test images are used (a seeded random subset); the training split is
    embedded whole, up to TRAIN_CAP images. `image_size`/`channels` are the generator's: real
    images are loaded at that resolution and quantised, then go through the same resize into
    the feature network as generated ones, so neither side is favoured by resampling.
    """

    data: str
    image_size: int | None = None
    channels: int | None = None
    features: str = "domain"
    n_real: int = 2000
    seed: int = 0
    data_dir: str | None = None
    cache_dir: str | None = None
    inception_weights: str | None = None

    def __post_init__(self):
        if self.features not in ("domain", "inception"):
            raise KerasGenError(f"--features must be 'domain' or 'inception', got {self.features!r}.")

    # Real data, loaded on first use -------------------------------------------------------
    @cached_property
    def info(self):
        from keras_gen.data import describe

        return describe(self.data, data_dir=self.data_dir)

    @cached_property
    def image_shape(self) -> tuple[int, int, int]:
        return (int(self.image_size or self.info.default_image_size),) * 2 + (int(self.channels or self.info.channels),)

    @cached_property
    def _real(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        from keras_gen.data import load_arrays

        size, _, channels = self.image_shape
        kw = dict(image_size=size, channels=channels, seed=self.seed, data_dir=self.data_dir)
        train, _, _ = load_arrays(self.data, "train", **kw)
        test, test_labels, _ = load_arrays(self.data, "test", **kw)
        if len(test) < 10:
            raise KerasGenError(f"{self.data} has only {len(test)} test images; the floor needs at least 10.")
        # Seeded random subsets, never the first N: folders list files class by class, and a
        # prefix of a sorted folder would be one class. The training set is kept whole (up to
        # TRAIN_CAP) so the memorisation check sees every image the model may have copied.
        rng = np.random.default_rng(self.seed)
        train = train[rng.permutation(len(train))[:TRAIN_CAP]]
        keep = rng.permutation(len(test))[: self.n_real]
        return quantise(train), quantise(test[keep]), None if test_labels is None else np.asarray(test_labels)[keep]

    @property
    def real_train(self) -> np.ndarray:
        return self._real[0]

    @property
    def real_test(self) -> np.ndarray:
        return self._real[1]

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) of the paired data's test split: a seeded subset of at most n_real pairs."""
        from keras_gen.data import load_paired

        a, b = load_paired(self.data, "test", image_size=self.image_size, channels=self.channels)
        keep = np.random.default_rng(self.seed).permutation(len(a))[: self.n_real]
        return quantise(a[keep]), quantise(b[keep])

    @cached_property
    def identity_baseline(self) -> np.ndarray:
        """Test A resized and converted to B's shape: the output of a model that does nothing."""
        from keras_gen.data.common import prepare_uint8

        a, b = self.pairs
        return from_uint8(prepare_uint8(to_uint8(a), b.shape[1], b.shape[-1]))

    # Feature networks and their real-data features, built on first use ---------------------
    @cached_property
    def extractor(self):
        from keras_gen.features import get_feature_extractor

        if self.features == "domain":
            return get_feature_extractor("domain", source=self.data, cache_dir=self.cache_dir, data_dir=self.data_dir)
        return get_feature_extractor("inception", weights=self.inception_weights or "imagenet")

    @cached_property
    def classifier(self):
        """The domain classifier that judges requested labels (the extractor itself for domain features)."""
        if self.features == "domain":
            return self.extractor
        from keras_gen.features import get_feature_extractor

        return get_feature_extractor("domain", source=self.data, cache_dir=self.cache_dir, data_dir=self.data_dir)

    @cached_property
    def train(self) -> dict[str, np.ndarray]:
        return self.extractor(self.real_train)

    @cached_property
    def test(self) -> dict[str, np.ndarray]:
        return self.extractor(self.real_test)

    @cached_property
    def label_floor(self) -> dict:
        """The classifier's accuracy on the real test images kept here, overall and per class."""
        from keras_gen.metrics import per_class_accuracy

        labels = self._real[2]
        if labels is None:
            raise KerasGenError(f"label_acc needs labelled data to measure the floor; {self.data} has no labels.")
        return per_class_accuracy(self.classifier.predict(self.real_test), labels, self.classifier.num_classes)

    def vgg(self, images: np.ndarray) -> np.ndarray:
        return self._vgg_extractor(images)["features"]

    @cached_property
    def _vgg_extractor(self):
        from keras_gen.features import get_feature_extractor

        return get_feature_extractor("vgg")

    @cached_property
    def vgg_test(self) -> np.ndarray:
        return self.vgg(self.real_test)

    @property
    def feature_dim(self) -> int:
        """The feature size, known before any network is built or trained."""
        if "train" in self.__dict__:
            return int(self.train["features"].shape[1])
        return domain_feature_dim() if self.features == "domain" else INCEPTION_FEATURE_DIM

    @property
    def feature_description(self) -> dict:
        meta = {"kind": self.features}
        if self.features == "domain" and "extractor" in self.__dict__:
            meta.update({"classifier": self.extractor.metadata.get("path"),
                         "classifier_test_accuracy": self.extractor.test_accuracy,
                         "image_size": self.extractor.image_size, "channels": self.extractor.channels})
        return meta

    # Checks and scoring --------------------------------------------------------------------
    def check_sample_count(self, n: int, metrics=("fid",)) -> None:
        """Fail before any sampling or training when `n` generated samples cannot give an FID."""
        if "fid" not in parse_metrics(metrics):
            return
        dim = self.feature_dim
        if "train" in self.__dict__:
            n_train = len(self.train["features"])
        else:  # the data's declared size; a source that declares none is checked once embedded
            n_train = min(TRAIN_CAP, (self.info.split_sizes or {}).get("train") or n)
        if min(n, n_train) <= dim:
            raise KerasGenError(
                f"FID in the {dim}-d {self.features} feature space needs more than {dim} samples per side for a "
                f"full-rank covariance; got {n} generated and {n_train} training images. "
                f"Generate more (--n / --eval-n {dim + 1} or more) or use a smaller feature space."
            )

    def evaluate(self, images: np.ndarray, metrics=("fid", "kid", "pr", "mem"), labels=None) -> dict:
        """Score generated images (float [-1, 1] or uint8) against the real data and the floor;
        with `labels`, the class each image was drawn for, label_acc can run too."""
        return self.score(Feed(images=self._generated(images), labels=None if labels is None else np.asarray(labels)),
                          metrics)

    def _generated(self, images) -> np.ndarray:
        """Generated images checked against the real images' shape, as quantised library floats."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise KerasGenError(
                f"Generated images have shape {images.shape[1:] if images.ndim == 4 else images.shape}, but the real "
                f"{self.data} images are {self.image_shape} (H, W, C); evaluate against data at the generator's "
                "size and channel count (Evaluator(image_size=..., channels=...))."
            )
        return _as_library_images(images)

    def evaluate_model(self, model, metrics=None, n: int = 2000, seed: int = 0) -> dict:
        """Draw from `model` what the metrics need, then score it (`metrics=None`: every default
        metric the model can feed). A conditional model samples every class in turn
        (label i % num_classes), and those same samples feed the sample metrics too."""
        names = metrics_for(model, metrics)
        needs = {METRICS[name].needs for name in names}
        self.check_sample_count(n, names)
        feed = Feed()
        if needs & {SAMPLES, LABELS}:
            conditions = {}
            spec = label_spec(model)
            if spec is not None:
                if LABELS in needs and n < spec.num_classes:
                    raise KerasGenError(f"label_acc needs at least one sample per class: --n {spec.num_classes} or "
                                        f"more, got {n}.")
                if LABELS in needs and spec.num_classes != self.classifier.num_classes:
                    raise KerasGenError(
                        f"the model has {spec.num_classes} classes but the {self.data} classifier has "
                        f"{self.classifier.num_classes}; evaluate label_acc against the data the model was trained on.")
                feed.labels = np.arange(n) % spec.num_classes
                conditions[spec.name] = feed.labels
            feed.images = self._generated(model.sample(n, seed=seed, **conditions))
        if PAIRS in needs:
            feed.translations = _as_library_images(model.translate(self.pairs[0]))
        if LIKELIHOODS in needs:
            feed.nll = np.asarray(model.log_likelihood(self.real_test), np.float64).reshape(-1)
            feed.likelihood_kind = model.likelihood_kind
        return self.score(feed, names)

    def score(self, feed: Feed, metrics) -> dict:
        """Run each metric on what `feed` holds; a metric whose need is missing is an error."""
        names = parse_metrics(metrics)
        missing = [f"{name} needs {METRICS[name].needs} ({NEEDS[METRICS[name].needs]})"
                   for name in names if not feed.has(METRICS[name].needs)]
        if missing:
            raise KerasGenError("Nothing to score: " + "; ".join(missing)
                                + ". Score a model with Evaluator.evaluate_model, or pass labels= for label_acc.")
        report: dict = {}
        if any(METRICS[name].needs == SAMPLES for name in names):
            self.check_sample_count(len(feed.images), names)  # before the feature network is built
            feed.features = self.extractor(feed.images)
            self.check_sample_count(len(feed.images), names)  # again with the real training-set size
            m = min(len(feed.images), len(self.test["features"]))
            report.update({"n_generated": int(len(feed.images)), "n_matched": int(m),
                           "n_train": int(len(self.train["features"])), "n_test": int(len(self.test["features"]))})
        results: dict[str, dict] = {}
        for name in names:
            results.update(METRICS[name].score(self, feed))
        return {**report, "features": self.feature_description, "metrics": results}


# -- models from a run or an export ------------------------------------------------------------
def open_generator(path) -> tuple[object, dict]:
    """(model, facts) for a training run or an export folder. The model samples with
    `sample(n, seed, **conditions)` (float [-1, 1] from Keras, uint8 at the edge) and may feed
    more (see `capabilities`); facts say what it was trained on."""
    from keras_gen.paths import RUN, path_kind

    path = Path(path)
    if path_kind(path) == RUN:
        from keras_gen.runs import load_run  # here, not at the top: it imports Keras

        model, config = load_run(path)
        return model, {"kind": "run", "model": config["model"], "data": config["data"],
                       "data_dir": config.get("data_dir"), "image_size": config["image_size"],
                       "channels": config["channels"], "seed": config["seed"]}
    from keras_gen.edge import EdgeModel

    model = EdgeModel.from_path(path)
    manifest = model.manifest
    training, metadata = manifest.get("training") or {}, manifest.get("metadata") or {}
    return model, {"kind": "export", "model": manifest.get("model"), "data": training.get("data"),
                   "data_dir": training.get("data_dir"), "seed": training.get("seed"),
                   "version_dir": str(getattr(model, "version_dir", path)),
                   "image_size": metadata.get("image_size"), "channels": metadata.get("channels")}


def _same_data(a, b) -> bool:
    """Whether two --data values name the same set (folders compared by their resolved path)."""
    if str(a) == str(b):
        return True
    pa, pb = Path(str(a)).expanduser(), Path(str(b)).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def evaluate_path(path, data=None, metrics=None, n=2000, seed=0, features="domain",
                  data_dir=None, cache_dir=None, inception_weights=None, on_warning=None) -> dict:
    """Evaluate a training run or an export; `metrics=None` runs every default metric it can feed.

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
    trained_on = facts.get("data")
    data = data or trained_on
    if not data:
        raise KerasGenError(f"Cannot tell which data {path} was trained on; pass --data.")
    notes = []
    if trained_on and not _same_data(data, trained_on):
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
                          cache_dir=cache_dir, inception_weights=inception_weights)
    evaluator.check_sample_count(n, names)
    # A run is scored with the weights its export would carry: the EMA when it kept one.
    with model.ema_weights() if hasattr(model, "ema_weights") else contextlib.nullcontext():
        report = evaluator.evaluate_model(model, names, n=n, seed=seed + 1)  # seed + 1: not the training grid's
    return {"path": str(path), "model": facts.get("model"), "source": facts["kind"], "data": data,
            "trained_on": trained_on, "warnings": notes, **report}


# -- the report --------------------------------------------------------------------------------
def format_report(report: dict) -> str:
    """A table with each figure beside its floor, then what each floor is."""
    feats, results = report["features"], report["metrics"]
    head = f"{report.get('model') or 'model'} ({report.get('source')}) vs {report['data']}"
    if "n_generated" in report:
        head += f", {feats['kind']} features"
    if feats.get("classifier_test_accuracy") is not None:
        head += f" (classifier test accuracy {feats['classifier_test_accuracy']:.3f})"
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
    out += [f"floor: {r['floor_is']} for {name}." for name, r in results.items() if r.get("floor_is")]
    out += [f"note ({name}): {r['note']}" for name, r in results.items() if r.get("note")]
    return "\n".join(out)


def save_report(report: dict, path) -> Path:
    """Write the report as JSON atomically: a reader never sees half a file."""
    from keras_gen.fileio import write_json_atomic

    write_json_atomic(path, report)
    return Path(path)
