"""keras-gen evaluate: figures beside the real-vs-real floor, on the offline domain features."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from keras_gen import KerasGenError
from keras_gen.cli import main
from keras_gen.data import load_arrays
from keras_gen.evaluation import Evaluator, parse_metrics
from keras_gen.training import RunConfig, train

TINY_RUN = RunConfig("dcgan", data="digits", epochs=1, image_size=16, batch_size=16, steps_per_epoch=2,
                     options={"base_filters": 4, "latent_dim": 8})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """TINY_RUN trained once for the module; a test copies it (one train step trace, not one a test)."""
    run = tmp_path_factory.mktemp("evaluation") / "run"
    train(run, TINY_RUN, verbose=0)
    return run


@pytest.fixture(scope="module")
def evaluator(digits_classifier_cache):
    return Evaluator("digits", n_real=400, cache_dir=str(digits_classifier_cache))


def test_real_images_score_like_the_floor_and_noise_scores_far_worse(evaluator):
    real, _, _ = load_arrays("digits", "train", limit=400, seed=1)
    noise = np.random.default_rng(0).uniform(-1, 1, real.shape).astype(np.float32)
    on_real = evaluator.evaluate(real, ("fid", "kid", "pr", "mem", "div", "is"))["metrics"]
    on_noise = evaluator.evaluate(noise, ("fid", "kid", "pr"))["metrics"]
    floor = on_real["fid"]["floor"]
    assert on_noise["fid"]["generated_matched"] > 10 * max(floor, 1e-3)
    assert on_noise["kid"]["generated_matched"] > 10 * max(on_real["kid"]["floor"], 1e-4)
    assert on_noise["precision"]["generated_matched"] < 0.2
    assert on_real["precision"]["generated_matched"] > 0.7 and on_real["recall"]["generated_matched"] > 0.7
    # training images themselves are "generated" here: the memorisation check must flag them
    assert on_real["memorisation_ratio"]["generated"] < 0.1 and on_real["memorised_fraction"]["generated"] > 0.9
    assert on_real["is"]["generated"] > 5  # ten well-separated classes: IS near 10


def test_metric_names_are_checked():
    assert parse_metrics("fid, KID") == ["fid", "kid"]
    with pytest.raises(KerasGenError, match="Unknown metric"):
        parse_metrics("fid,lpips")


def test_cli_evaluate_a_run_prints_the_floor_and_writes_json(tmp_path, capsys, digits_classifier_cache, tiny_run):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    out_json = tmp_path / "eval.json"
    code = main(["evaluate", str(run), "--metrics", "fid,kid", "--n", "150", "--json", str(out_json),
                 "--cache-dir", str(digits_classifier_cache)])
    assert code == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "floor: test vs train" in printed and "fid" in printed and "kid x1000" in printed
    assert "warning" not in captured.err  # --data left out: the run's own data
    report = json.loads(out_json.read_text())
    assert report["data"] == "digits" and report["n_generated"] == 150 and report["warnings"] == []
    assert list(report["metrics"]) == ["fid", "kid"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # written atomically
    assert report["metrics"]["fid"]["generated"] > report["metrics"]["fid"]["floor"]


def test_too_few_samples_and_nan_images_are_clear_errors(evaluator):
    real, _, _ = load_arrays("digits", "train", limit=100)
    with pytest.raises(KerasGenError, match="more than 128 samples per side.*129 or more"):
        evaluator.evaluate(real, ("fid",))
    broken = np.full((200, 32, 32, 1), np.nan, np.float32)
    with pytest.raises(KerasGenError, match="training diverged"):
        evaluator.evaluate(broken, ("fid",))


def test_mismatched_generated_shape_is_a_clear_error(evaluator):
    with pytest.raises(KerasGenError, match="real digits images are"):
        evaluator.evaluate(np.zeros((20, 32, 32, 3), np.float32), ("fid",))


def test_periodic_evaluation_logs_figures_and_floors(tmp_path, digits_classifier_cache):
    from keras_gen.callbacks import PeriodicEvaluation

    run = tmp_path / "run"
    evaluator = Evaluator("digits", image_size=16, channels=1, n_real=150, cache_dir=str(digits_classifier_cache))
    evaluation = PeriodicEvaluation(evaluator, every=2, n=150, metrics=("fid", "kid"), log_dir=run / "logs")
    summary = train(run, dataclasses.replace(TINY_RUN, epochs=2), callbacks=[evaluation], verbose=0)
    history = summary["history"]
    assert len(history["eval_fid"]) == 1 and history["eval_fid"][0] > history["eval_fid_floor"][0]
    assert "eval_kid" in history
    assert list((run / "logs" / "eval").glob("events.out.tfevents.*"))


def test_cli_refuses_a_diverged_model_and_too_small_n_before_sampling(tmp_path, capsys, digits_classifier_cache,
                                                                     monkeypatch, tiny_run):
    run = shutil.copytree(tiny_run, tmp_path / "run")  # its checkpoint is overwritten below
    cache = ["--cache-dir", str(digits_classifier_cache)]
    assert main(["evaluate", str(run), "--metrics", "fid", "--n", "50", *cache]) == 2
    assert "--eval-n 129 or more" in capsys.readouterr().err
    # Refused before a classifier is trained: an empty cache stays empty. Other data is warned about.
    empty = tmp_path / "empty_cache"
    empty.mkdir()
    assert main(["evaluate", str(run), "--data", "shapes", "--n", "100", "--cache-dir", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "--n / --eval-n 129 or more" in err and not list(empty.iterdir())
    assert "keras-gen: warning:" in err and "trained on digits, but --data is shapes" in err
    assert main(["evaluate", str(run), "--metrics", "label_acc", "--n", "100", *cache]) == 2
    assert "label_acc needs requested labels" in capsys.readouterr().err  # DCGAN is unconditional
    from keras_gen.runs import load_run

    model, _ = load_run(run)
    kernel = model.generator.layers[-2].kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    model.save(run / "checkpoints" / "last.keras")
    assert main(["evaluate", str(run), "--metrics", "fid", "--n", "150", *cache]) == 2
    assert "training diverged" in capsys.readouterr().err
    assert main(["sample", str(run), "--out", str(tmp_path / "g.png")]) == 2
    assert "training diverged" in capsys.readouterr().err and not (tmp_path / "g.png").exists()
    monkeypatch.setenv("KERAS_GEN_CACHE", str(digits_classifier_cache))
    assert main(["train", "dcgan", "--out", str(tmp_path / "r2"), "--epochs", "2", "--image-size", "16",
                 "--set", "base_filters=4", "--eval-every", "1", "--eval-n", "50"]) == 2
    assert "eval-n 129 or more" in capsys.readouterr().err  # checked before fit, not at epoch N
    assert not (tmp_path / "r2").exists()
