"""`keras-gen evaluate`: every figure beside the real-vs-real floor of the same data.

A number like "FID 12.3" means little alone: it depends on the feature space, the sample size
and the data. So the evaluator computes each metric twice:

    generated vs train   the model's figure, on n generated samples, and again on as many
                         samples as the test split has (FID is biased by sample size);
    test vs train        the floor: what a perfect model, drawing fresh images from the data
                         distribution, would score with that many samples.

Feature spaces: "domain" (offline default) is the penultimate layer of a small classifier
trained on the labelled data set (`keras_gen.features.classifier`); "inception" is
InceptionV3's 2048-d pool layer with Keras' ImageNet weights (needs the weights file). Domain
figures are comparable only with domain figures on the same data set and classifier.

Generated images are quantised to uint8 and back, as they would be when written to files or
served, so a model is scored on what a user receives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8, to_uint8

METRIC_NAMES = ("fid", "kid", "is", "pr", "mem", "div")
TRAIN_CAP = 10_000  # training images embedded as the reference set (a seeded random subset beyond)


def parse_metrics(metrics) -> list[str]:
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    unknown = [m for m in names if m not in METRIC_NAMES]
    if unknown or not names:
        raise KerasGenError(
            f"Unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METRIC_NAMES)} "
            "(psnr/ssim/bpd apply to restoration and likelihood models)."
        )
    return names


def quantise(images: np.ndarray) -> np.ndarray:
    """Round-trip through uint8, as images written to files or served are."""
    return from_uint8(to_uint8(np.asarray(images)))


@dataclass
class Evaluator:
    """Real-data features computed once; `evaluate(images)` scores any number of generators.

    `n_real` caps how many test images are embedded (a seeded random subset); the training
    split is embedded whole, up to TRAIN_CAP images. `image_size`/`channels` are the
    generator's: real images are loaded at that resolution and quantised, then go through the same resize into the feature network
    as generated ones, so neither side is favoured by resampling.
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
    extractor: object = field(init=False, default=None)

    def __post_init__(self):
        from keras_gen.data import describe, load_arrays
        from keras_gen.features import get_feature_extractor

        info = describe(self.data, data_dir=self.data_dir)
        if self.features == "domain":
            self.extractor = get_feature_extractor("domain", source=self.data, cache_dir=self.cache_dir,
                                                   data_dir=self.data_dir)
        elif self.features == "inception":
            self.extractor = get_feature_extractor("inception", weights=self.inception_weights or "imagenet")
        else:
            raise KerasGenError(f"--features must be 'domain' or 'inception', got {self.features!r}.")
        self.info = info
        size, channels = self.image_size or info.default_image_size, self.channels or info.channels
        self.image_shape = (int(size), int(size), int(channels))
        train, _, _ = load_arrays(self.data, "train", image_size=size, channels=channels, seed=self.seed,
                                  data_dir=self.data_dir)
        test, _, _ = load_arrays(self.data, "test", image_size=size, channels=channels, seed=self.seed,
                                 data_dir=self.data_dir)
        if len(test) < 10:
            raise KerasGenError(f"{self.data} has only {len(test)} test images; the floor needs at least 10.")
        # Seeded random subsets, never the first N: folders list files class by class, and a
        # prefix of a sorted folder would be one class. The training set is kept whole (up to
        # TRAIN_CAP) so the memorisation check sees every image the model may have copied.
        rng = np.random.default_rng(self.seed)
        train = train[rng.permutation(len(train))[:TRAIN_CAP]]
        test = test[rng.permutation(len(test))[: self.n_real]]
        self._test_images = quantise(test)
        self._vgg_extractor = self._vgg_test_features = None
        self.train = self._embed(quantise(train))
        self.test = self._embed(self._test_images)

    @property
    def feature_dim(self) -> int:
        return int(self.train["features"].shape[1])

    def check_sample_count(self, n: int, metrics=METRIC_NAMES) -> None:
        """Fail before any sampling or training when `n` generated samples cannot give an FID."""
        dim = self.feature_dim
        if "fid" in parse_metrics(metrics) and min(n, len(self.train["features"])) <= dim:
            raise KerasGenError(
                f"FID in the {dim}-d {self.features} feature space needs more than {dim} samples per side for a "
                f"full-rank covariance; got {n} generated and {len(self.train['features'])} training images. "
                f"Generate more (--n / --eval-n {dim + 1} or more) or use a smaller feature space."
            )

    def _embed(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self.extractor(images)

    def _vgg(self, images: np.ndarray) -> np.ndarray:
        if self._vgg_extractor is None:
            from keras_gen.features import get_feature_extractor

            self._vgg_extractor = get_feature_extractor("vgg")
        return self._vgg_extractor(images)["features"]

    def _vgg_test(self) -> np.ndarray:
        if self._vgg_test_features is None:
            self._vgg_test_features = self._vgg(self._test_images)
        return self._vgg_test_features

    @property
    def feature_description(self) -> dict:
        meta = {"kind": self.features}
        if self.features == "domain":
            meta.update({"classifier": self.extractor.metadata.get("path"),
                         "classifier_test_accuracy": self.extractor.test_accuracy,
                         "image_size": self.extractor.image_size, "channels": self.extractor.channels})
        return meta

    def evaluate(self, images: np.ndarray, metrics=METRIC_NAMES) -> dict:
        """Score generated images (float [-1, 1] or uint8) against the real data and the floor."""
        from keras_gen import metrics as M

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise KerasGenError(
                f"Generated images have shape {images.shape[1:] if images.ndim == 4 else images.shape}, but the real "
                f"{self.data} images are {self.image_shape} (H, W, C); evaluate against data at the generator's "
                "size and channel count (Evaluator(image_size=..., channels=...))."
            )
        images = from_uint8(images) if images.dtype == np.uint8 else quantise(images)  # NaN raises here
        names = parse_metrics(metrics)
        gen = self._embed(images)
        train, test = self.train, self.test
        m = min(len(gen["features"]), len(test["features"]))
        g_all, g_m, t_m = gen["features"], gen["features"][:m], test["features"][:m]
        tr = train["features"]
        self.check_sample_count(len(g_all), names)
        # The matched figure and the floor need as many samples as the (capped) test split holds.
        matched_fid = m > tr.shape[1]
        results: dict[str, dict] = {}
        for name in names:
            if name == "fid":
                results["fid"] = {"generated": M.fid_from_features(tr, g_all),
                                  "generated_matched": M.fid_from_features(tr, g_m) if matched_fid else None,
                                  "floor": M.fid_from_features(tr, t_m) if matched_fid else None}
                if not matched_fid:
                    results["fid"]["note"] = (f"the test split has {m} images, too few for a {tr.shape[1]}-d "
                                              "covariance: no matched FID or floor")
            elif name == "kid":
                # Subsets of half the smaller set: with subsets as big as the set, every subset
                # would be the whole set and the std would say nothing about the estimate.
                size = max(2, min(1000, m // 2))
                gk, gs = M.kernel_inception_distance(tr, g_all, subset_size=size, seed=self.seed)
                mk, ms = M.kernel_inception_distance(tr, g_m, subset_size=size, seed=self.seed)
                fk, fs = M.kernel_inception_distance(tr, t_m, subset_size=size, seed=self.seed)
                results["kid"] = {"generated": gk, "generated_std": gs, "generated_matched": mk,
                                  "generated_matched_std": ms, "floor": fk, "floor_std": fs}
            elif name == "is":
                if "probs" not in gen:
                    raise KerasGenError(f"The {self.features} feature space has no class predictions for IS.")
                splits = 10 if m >= 100 else 1
                gi, gs = M.inception_score(gen["probs"], splits=splits)
                mi, ms = M.inception_score(gen["probs"][:m], splits=splits)
                fi, fs = M.inception_score(test["probs"][:m], splits=splits)
                results["is"] = {"generated": gi, "generated_std": gs, "generated_matched": mi,
                                 "generated_matched_std": ms, "floor": fi, "floor_std": fs}
            elif name == "pr":
                gp, gr = M.precision_recall(tr, g_all)
                mp, mr = M.precision_recall(tr, g_m)
                fp, fr = M.precision_recall(tr, t_m)
                results["precision"] = {"generated": gp, "generated_matched": mp, "floor": fp}
                results["recall"] = {"generated": gr, "generated_matched": mr, "floor": fr}
            elif name == "mem":
                mem = M.memorisation(g_all, tr, test["features"])
                # By construction the test set's own ratio is 1 and its flagged share is the quantile.
                results["memorisation_ratio"] = {"generated": mem["ratio"], "floor": 1.0}
                results["memorised_fraction"] = {"generated": mem["flagged_fraction"], "floor": mem["quantile"]}
            elif name == "div":
                # In VGG16's generic feature space (block5, pooled): a classifier's features
                # are trained to ignore within-class variety, which is what diversity measures.
                gv, tv = self._vgg(images), self._vgg_test()
                results["diversity"] = {"generated": M.mean_pairwise_distance(gv, seed=self.seed),
                                        "generated_matched": M.mean_pairwise_distance(gv[:m], seed=self.seed),
                                        "floor": M.mean_pairwise_distance(tv[:m], seed=self.seed)}
        return {"n_generated": int(len(g_all)), "n_matched": int(m), "n_train": int(len(tr)),
                "n_test": int(len(test["features"])), "features": self.feature_description, "metrics": results}


# -- generators from a run or an export --------------------------------------------------------
def open_generator(path) -> tuple[callable, dict]:
    """(sample(n, seed) -> uint8 images, facts) for a training run or an export folder."""
    from keras_gen.paths import RUN, path_kind

    path = Path(path)
    if path_kind(path) == RUN:
        from keras_gen.training import load_run

        model, config = load_run(path)
        return (lambda n, seed: to_uint8(model.sample(n, seed=seed))), {
            "kind": "run", "model": config["model"], "data": config["data"], "data_dir": config.get("data_dir"),
            "image_size": config["image_size"], "channels": config["channels"], "seed": config["seed"]}
    from keras_gen.edge import EdgeModel

    generator = EdgeModel.from_path(path)
    manifest = generator.manifest
    training, metadata = manifest.get("training") or {}, manifest.get("metadata") or {}
    return generator.sample, {"kind": "export", "model": manifest.get("model"), "data": training.get("data"),
                              "data_dir": training.get("data_dir"), "seed": training.get("seed"),
                              "version_dir": str(generator.version_dir),
                              "image_size": metadata.get("image_size"), "channels": metadata.get("channels")}


def evaluate_path(path, data=None, metrics="fid,kid,pr,mem", n=2000, seed=0, features="domain",
                  data_dir=None, cache_dir=None, inception_weights=None) -> dict:
    if n < 10:
        raise KerasGenError(f"--n must be at least 10 (2000 is usual), got {n}.")
    names = parse_metrics(metrics)
    sample, facts = open_generator(path)
    data = data or facts.get("data")
    if not data:
        raise KerasGenError(f"Cannot tell which data {path} was trained on; pass --data.")
    # Real data drawn with the run's own seed: for generated sources (shapes, photos, textures) the
    # seed decides which images "train" holds, and the memorisation check needs those exactly.
    data_seed = facts["seed"] if facts.get("seed") is not None and data == facts.get("data") else seed
    evaluator = Evaluator(data, image_size=facts.get("image_size"), channels=facts.get("channels"), features=features,
                          n_real=n, seed=data_seed, data_dir=data_dir or facts.get("data_dir"),
                          cache_dir=cache_dir, inception_weights=inception_weights)
    evaluator.check_sample_count(n, names)
    report = evaluator.evaluate(sample(n, seed + 1), names)  # seed + 1: not the grid shown during training
    return {"path": str(path), "model": facts.get("model"), "source": facts["kind"], "data": data, **report}


def format_report(report: dict) -> str:
    n, m = report["n_generated"], report["n_matched"]
    feats = report["features"]
    head = f"{report.get('model') or 'model'} ({report.get('source')}) vs {report['data']}, {feats['kind']} features"
    if feats.get("classifier_test_accuracy") is not None:
        head += f" (classifier test accuracy {feats['classifier_test_accuracy']:.3f})"
    cols = ("metric", f"generated n={n}", f"generated n={m}", f"floor: test vs train n={m}")
    rows = []
    for name, r in report["metrics"].items():
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
    out.append(f"train features: n={report['n_train']}; the floor is what fresh real images score.")
    out += [f"note ({name}): {r['note']}" for name, r in report["metrics"].items() if r.get("note")]
    return "\n".join(out)


def save_report(report: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
