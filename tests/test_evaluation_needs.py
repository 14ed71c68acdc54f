"""Metrics that state their needs: samples, requested labels, pairs, likelihoods.

The models here are tiny stand-ins that feed exactly one capability each (duck typing is the
contract), so every metric is tested without training a model that has it."""

import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from keras_gen.data import load_arrays
from keras_gen.errors import KerasGenError
from keras_gen import evaluation
from keras_gen.evaluation import (LABELS, LIKELIHOODS, PAIRS, SAMPLES, DataMismatchWarning, Evaluator, capabilities,
                                  evaluate_path, format_report, metrics_for)


@dataclass
class Spec:
    name: str
    kind: str
    num_classes: int | None = None
    default: float | None = None
    range: tuple = ()
    dtype: str = "float32"
    choices: tuple | None = None


class Unconditional:
    def __init__(self, images):
        self.images = images

    def sample(self, n, seed=0):
        return self.images[np.random.default_rng(seed).integers(0, len(self.images), n)]


class Conditional(Unconditional):
    """Draws real test images of the requested class, or of any class when `follows_label` is False."""

    def __init__(self, images, labels, follows_label=True):
        super().__init__(images)
        self.labels, self.follows_label = labels, follows_label

    def input_specs(self):
        return [Spec("z", "latent"), Spec("label", "label", 10)]

    def sample(self, n, seed=0, label=None):
        rng = np.random.default_rng(seed)
        if not self.follows_label:
            return super().sample(n, seed)
        return np.stack([self.images[rng.choice(np.flatnonzero(self.labels == c))] for c in label])


class Guided(Conditional):
    """Follows the label only at a guidance scale of 2 or more; its default scale is 1."""

    def input_specs(self):
        return [*super().input_specs(), Spec("guidance", "option", default=1.0, range=(0.0, 20.0))]

    def request_specs(self):  # a Keras model's sampler options are here, beside input_specs
        return [*self.input_specs(), Spec("temperature", "option", default=1.0, range=(0.1, 2.0))]

    def sample(self, n, seed=0, label=None, guidance=1.0, temperature=1.0):
        self.follows_label, self.temperature = guidance >= 2.0, temperature
        return super().sample(n, seed, label=label)


class Paired:
    data_kind = "paired"

    def __init__(self, translate):
        self.translate = translate

    def input_specs(self):
        return [Spec("image", "image")]


class UniformLikelihood(Unconditional):
    """Probability 1/256 for every value: exactly 8 bits/dim by definition."""

    likelihood_kind = "discrete"

    def log_likelihood(self, images):
        return np.full(len(images), math.prod(images.shape[1:]) * math.log(256.0))


@pytest.fixture(scope="module")
def evaluator(digits_classifier_cache):
    return Evaluator("digits", n_real=400, cache_dir=str(digits_classifier_cache))


@pytest.fixture(scope="module")
def digits_test():
    images, labels, _ = load_arrays("digits", "test")
    return images, labels


def test_each_model_feeds_what_it_has_and_runs_every_default_metric_it_can(digits_test):
    images, labels = digits_test
    assert capabilities(Unconditional(images)) == {SAMPLES}
    assert capabilities(Conditional(images, labels)) == {SAMPLES, LABELS}
    assert capabilities(Paired(lambda a: a)) == {PAIRS}
    assert capabilities(UniformLikelihood(images)) == {SAMPLES, LIKELIHOODS}
    assert metrics_for(Unconditional(images)) == ["fid", "kid", "pr", "mem"]
    assert metrics_for(Conditional(images, labels)) == ["fid", "kid", "pr", "mem", "label_acc"]
    assert metrics_for(Paired(lambda a: a)) == ["psnr", "ssim"]
    assert metrics_for(UniformLikelihood(images)) == ["fid", "kid", "pr", "mem", "bpd"]


def test_a_metric_the_model_cannot_feed_is_an_error_naming_the_need(digits_test, evaluator):
    images, _ = digits_test
    with pytest.raises(KerasGenError, match="label_acc needs requested labels.*class-conditional"):
        metrics_for(Unconditional(images), "fid,label_acc")
    with pytest.raises(KerasGenError, match="psnr needs pairs.*It can feed: fid, kid, is, pr, mem, div"):
        metrics_for(Unconditional(images), ["psnr"])
    with pytest.raises(KerasGenError, match="fid needs samples"):
        metrics_for(Paired(lambda a: a), ["fid"])
    with pytest.raises(KerasGenError, match="label_acc needs requested labels.*pass labels="):
        evaluator.evaluate(images, ["label_acc"])  # images alone: which class was each drawn for?


def test_label_accuracy_of_a_perfect_model_is_near_the_floor_and_of_one_ignoring_labels_near_chance(
        evaluator, digits_test):
    images, labels = digits_test
    perfect = evaluator.evaluate_model(Conditional(images, labels), ["label_acc"], n=400, seed=1)
    row = perfect["metrics"]["label_accuracy"]
    assert row["floor"] == pytest.approx(evaluator.classifier.accuracy(images, labels))  # the whole test split
    assert abs(row["generated"] - row["floor"]) < 0.03
    assert len(row["per_class"]) == len(row["per_class_floor"]) == 10 and row["per_class_n"] == [40] * 10
    assert min(row["per_class"]) > 0.85 and min(row["per_class_floor"]) > 0.85
    ignoring = evaluator.evaluate_model(Conditional(images, labels, follows_label=False), ["label_acc"], n=400, seed=1)
    assert ignoring["metrics"]["label_accuracy"]["generated"] < 0.2  # 1 in 10 by chance
    text = format_report({"model": "fake", "source": "run", "data": "digits", **perfect})
    assert "label_accuracy per class (generated/floor): 0: " in text and "floor: the domain classifier" in text


def test_fid_and_label_accuracy_share_the_same_conditional_samples(evaluator, digits_test):
    images, labels = digits_test
    report = evaluator.evaluate_model(Conditional(images, labels), ["fid", "label_acc"], n=300, seed=2)
    assert report["n_generated"] == 300 and sum(report["metrics"]["label_accuracy"]["per_class_n"]) == 300
    assert report["metrics"]["fid"]["generated"] < 3 * report["metrics"]["fid"]["floor"] + 1


def _paired_folder(root, n=40, size=16):
    """A/ and B/ with B = 255 - A: an exact translation exists, and doing nothing is far from it."""
    rng = np.random.default_rng(0)
    for side in ("A", "B"):
        (root / side).mkdir(parents=True)
    for i in range(n):
        a = rng.integers(0, 256, (size, size), dtype=np.uint8)
        Image.fromarray(a).save(root / "A" / f"p{i:02d}.png")
        Image.fromarray(255 - a).save(root / "B" / f"p{i:02d}.png")
    return root


def test_psnr_and_ssim_score_a_translation_against_the_identity_baseline(tmp_path):
    ev = Evaluator(str(_paired_folder(tmp_path / "pairs")), image_size=16, channels=1)
    exact = ev.evaluate_model(Paired(lambda a: -a), n=100)["metrics"]
    assert exact["psnr"]["generated"] > 40 and exact["ssim"]["generated"] > 0.99
    assert exact["psnr"]["floor"] < 10 and exact["ssim"]["floor"] < 0  # A vs 255 - A: anti-correlated
    lazy = ev.evaluate_model(Paired(lambda a: a), ["psnr", "ssim"], n=100)["metrics"]
    assert lazy["psnr"]["generated"] == lazy["psnr"]["floor"]  # doing nothing is the baseline itself
    assert lazy["ssim"]["generated"] == lazy["ssim"]["floor"]
    assert "identity baseline" in exact["psnr"]["floor_is"] and "extractor" not in ev.__dict__  # no classifier


class Autoencoder:
    data_kind = "images"

    def __init__(self, fn):
        self.reconstruct = fn


def test_psnr_and_ssim_score_an_autoencoder_against_the_mean_image_baseline(evaluator, digits_test):
    assert capabilities(Autoencoder(lambda x: x)) == {PAIRS}
    assert metrics_for(Autoencoder(lambda x: x)) == ["psnr", "ssim"]
    exact = evaluator.evaluate_model(Autoencoder(lambda x: x), n=100)["metrics"]
    assert exact["psnr"]["generated"] == float("inf") or exact["psnr"]["generated"] > 60
    assert exact["ssim"]["generated"] > 0.999 and 5 < exact["psnr"]["floor"] < 20
    assert "mean training image" in exact["psnr"]["floor_is"]
    blank = evaluator.evaluate_model(Autoencoder(lambda x: -np.ones_like(x)), ["psnr"], n=100)["metrics"]
    assert blank["psnr"]["generated"] < exact["psnr"]["floor"]


def test_bits_per_dim_beside_the_pixel_histogram_baseline(digits_test):
    images, _ = digits_test
    ev = Evaluator("digits", n_real=400)
    row = ev.evaluate_model(UniformLikelihood(images), ["bpd"], n=100)["metrics"]["bpd"]
    assert row["generated"] == pytest.approx(8.0)
    assert row["floor"] < 7  # mostly background: per-pixel histograms already beat uniform by bits
    assert "extractor" not in ev.__dict__  # likelihoods need no feature network


def test_too_few_samples_are_refused_before_a_classifier_is_trained(tmp_path, monkeypatch):
    import keras_gen.features.classifier as clf

    def no_training(*args, **kwargs):
        raise AssertionError("a classifier was trained before the sample count was checked")

    monkeypatch.setattr(clf, "train_domain_classifier", no_training)
    ev = Evaluator("digits", cache_dir=str(tmp_path))
    with pytest.raises(KerasGenError, match="more than 128 samples per side.*129 or more"):
        ev.check_sample_count(100, ["fid"])
    ev.check_sample_count(100, ["kid", "pr"])  # only FID needs a full-rank covariance
    assert not list(tmp_path.iterdir())


def test_data_other_than_the_training_data_is_warned_about_and_recorded(digits_test, monkeypatch):
    images, _ = digits_test
    facts = {"kind": "run", "model": "fake", "data": "shapes", "image_size": 32, "channels": 1, "seed": 0}
    monkeypatch.setattr(evaluation, "open_generator", lambda path: (UniformLikelihood(images), facts))
    with pytest.warns(DataMismatchWarning, match="trained on shapes, but --data is digits"):
        report = evaluate_path("run", data="digits", metrics="bpd", n=100)
    assert report["trained_on"] == "shapes" and "against digits" in report["warnings"][0]
    assert report["metrics"]["bpd"]["generated"] == pytest.approx(8.0)


def test_sampling_options_reach_the_samples_are_checked_and_recorded(digits_test, digits_classifier_cache,
                                                                     monkeypatch, capsys):
    """`keras-gen evaluate RUN --guidance 4`: a declared request option, as `keras-gen sample` takes it."""
    from keras_gen.cli import main

    images, labels = digits_test
    facts = {"kind": "run", "model": "fake", "data": "digits", "image_size": 32, "channels": 1, "seed": 0}
    guided_model = Guided(images, labels)
    monkeypatch.setattr(evaluation, "open_generator", lambda path: (guided_model, facts))
    common = ["evaluate", "run", "--metrics", "label_acc", "--n", "100", "--cache-dir", str(digits_classifier_cache)]
    assert main(common) == 0
    default = capsys.readouterr().out
    assert main([*common, "--guidance", "4"]) == 0
    guided = capsys.readouterr().out
    accuracy = lambda text: float(text.split("| label_accuracy |")[1].split("|")[0])  # noqa: E731
    assert accuracy(default) < 0.3 and accuracy(guided) > 0.9
    assert "sampled with --guidance 4.0" in guided and "sampled with" not in default
    report = evaluate_path("run", metrics="label_acc", n=100, cache_dir=str(digits_classifier_cache),
                           options={"guidance": "4", "temperature": 0.5})
    assert report["sampling_options"] == {"guidance": 4.0, "temperature": 0.5} and guided_model.temperature == 0.5
    for flags, message in ((["--steps", "3"], "unknown sampling option --steps.*options: --guidance, --temperature\\."),
                           (["--guidance", "99"], r"--guidance must be in \[0.0, 20.0\]"),
                           (["--guidance", "high"], "--guidance takes a number"),
                           (["--guidance"], "--guidance needs a value")):
        assert main([*common, *flags]) == 2
        assert re.search(message, capsys.readouterr().err)
