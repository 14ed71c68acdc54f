"""The Evaluator: real data and its features, loaded once and only when a metric needs them,
then any number of models scored against them (keras_gen.evaluation.metric_table)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8, to_uint8
from keras_gen.evaluation.metric_table import (INCEPTION_FEATURE_DIM, LABELS, LIKELIHOODS, METRICS, NEEDS, PAIRS,
                                               SAMPLES, TRAIN_CAP, UPSCALES, Feed, _as_library_images,
                                               domain_feature_dim, label_spec, metrics_for, parse_metrics, quantise,
                                               reconstructs, sampling_options)

@dataclass
class Evaluator:
    """Real data and its features, each loaded on first need; scores any number of models.

    `n_real` caps how many test images are used (a seeded random subset); the training split is
    embedded whole, up to TRAIN_CAP images. `image_size`/`channels` are the generator's: real
    images are loaded at that resolution and quantised, then go through the same resize into
    the feature network as generated ones, so neither side is favoured by resampling.
    `pair_shapes` ((H, W, C) of A and of B, a model's data_shapes()) read paired data at one
    shape per side (a super-resolution model's low-resolution inputs and high-resolution targets).
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
    pair_shapes: tuple | list | None = None

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
        from keras_gen.core.images import image_hw

        return (*image_hw(self.image_size or self.info.default_image_size), int(self.channels or self.info.channels))

    @cached_property
    def _real(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        from keras_gen.data import load_arrays

        height, width, channels = self.image_shape
        kw = dict(image_size=(height, width), channels=channels, seed=self.seed, data_dir=self.data_dir)
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

        if self.pair_shapes is not None and len(self.pair_shapes) == 2:
            (height_a, width_a, channels_a), (height_b, width_b, channels_b) = self.pair_shapes
            a, b = load_paired(self.data, "test", image_size=(height_a, width_a), channels=channels_a,
                               image_size_b=(height_b, width_b), channels_b=channels_b)
        else:
            a, b = load_paired(self.data, "test", image_size=self.image_size, channels=self.channels)
        keep = np.random.default_rng(self.seed).permutation(len(a))[: self.n_real]
        return quantise(a[keep]), quantise(b[keep])

    @cached_property
    def identity_baseline(self) -> np.ndarray:
        """Test A resized and converted to B's shape: the output of a model that does nothing."""
        from keras_gen.data.common import prepare_uint8

        a, b = self.pairs
        return from_uint8(prepare_uint8(to_uint8(a), b.shape[1:3], b.shape[-1]))

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
    def train_radii(self) -> np.ndarray:
        """Each training feature's distance to its k-th nearest neighbour: the real manifold of
        precision/recall (the paper's k = 3), searched once for every side scored against it."""
        from keras_gen.metrics.distances import kth_neighbour_distance
        from keras_gen.metrics.precision_recall import NEIGHBOURS

        return kth_neighbour_distance(self.train["features"], NEIGHBOURS)

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

    def evaluate_model(self, model, metrics=None, n: int = 2000, seed: int = 0, options: dict | None = None) -> dict:
        """Draw from `model` what the metrics need, then score it (`metrics=None`: every default
        metric the model can feed). A conditional model samples every class in turn
        (label i % num_classes), and those same samples feed the sample metrics too. A model with
        `sample_like_data(n, seed) -> (images, labels)` (chairs: per-image poses) is sampled
        through it instead, at conditions drawn from the data. `options` ({name: value}: guidance,
        steps, ...; checked by `sampling_options`) go to every `sample` call beside the labels."""
        names = metrics_for(model, metrics)
        needs = {METRICS[name].needs for name in names}
        self.check_sample_count(n, names)
        feed = Feed()
        if needs & {SAMPLES, LABELS}:
            conditions = sampling_options(model, options)
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
            if callable(getattr(model, "sample_like_data", None)):
                # request options the data varies per image (chairs' pose): drawn at the test split's
                images, labels = model.sample_like_data(n, seed=seed)
                feed.images = self._generated(images)
                if spec is not None:
                    feed.labels = np.asarray(labels)
            else:
                feed.images = self._generated(model.sample(n, seed=seed, **conditions))
        if PAIRS in needs and reconstructs(model):
            feed.translations, feed.reconstructed = self._generated(model.reconstruct(self.real_test)), True
        elif PAIRS in needs:
            feed.translations = _as_library_images(model.translate(self.pairs[0]))
        if UPSCALES in needs:
            feed.upscaled = self.upscaled(model, n)
        if LIKELIHOODS in needs:
            feed.nll = np.asarray(model.log_likelihood(self.real_test), np.float64).reshape(-1)
            feed.likelihood_kind = model.likelihood_kind
        return self.score(feed, names)

    def upscaled(self, model, n: int) -> dict:
        """A super-resolution model (run or export) and bicubic on the full-size pictures of `data`
        (`sr_holdout`, or its test split at full size; at most n, in colour: a grey network sees
        their luma, as keras-gen upscale runs it), at each scale it was trained for:
        {scale: {"model": ..., "bicubic": ...}} (super_resolution.upscale_pictures)."""
        from keras_gen.core.images import image_hw
        from keras_gen.evaluation.super_resolution import (bicubic_upscaler, network_upscaler, sr_pictures,
                                                           upscale_pictures)
        from keras_gen.restorers import Upscaler

        upscaler = Upscaler.of(model)
        trained_side = max(image_hw(self.image_size)) if self.image_size else 1
        smallest = max(trained_side, max(upscaler.scales) * upscaler.min_side)  # its inputs at least min_side
        pictures = sr_pictures(self.data, channels=3, min_side=smallest, data_dir=self.data_dir, limit=n)
        out = {}
        for scale in upscaler.scales:
            network = network_upscaler(lambda x, s=scale: upscaler.upscale(x, s), scale, upscaler.channels,
                                       upscaler.margin)
            out[scale] = {"model": upscale_pictures(network, pictures, scale),
                          "bicubic": upscale_pictures(bicubic_upscaler(scale), pictures, scale)}
        return out

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


