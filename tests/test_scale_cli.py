"""`keras-gen train` at scale from the command line: --strategy (recorded, changeable at a resume),
--auto-resume, a chief that cannot write its checkpoint, TF_CONFIG refusals, and --jit-compile auto
from the measured table (keras_gen/xla.py)."""

from __future__ import annotations

import json

import pytest

from keras_gen.cli import main
from keras_gen.errors import KerasGenError
from keras_gen.runs import RunConfig

TINY = ["--data", "digits", "--image-size", "16", "--batch-size", "8", "--steps-per-epoch", "2",
        "--set", "base_filters=4", "--set", "latent_dim=8"]


def test_auto_resume_starts_a_mirrored_run_then_resumes_it_on_another_strategy(tmp_path, capsys):
    run = tmp_path / "run"
    command = ["train", "dcgan", "--out", str(run), "--auto-resume", *TINY]
    assert main([*command, "--epochs", "1", "--strategy", "mirrored"]) == 0  # no run yet: it starts
    printed = capsys.readouterr().out
    assert "for epochs 1..1" in printed
    assert "1 replica(s) (mirrored)" in printed and "float32" in printed and "XLA off" in printed
    config = json.loads((run / "config.json").read_text())
    assert (config["strategy"], config["replicas"], config["precision"], config["batch_norm"]) == (
        "mirrored", 1, "float32", "sync")
    # The same command resumes (the same --set values are not a change), here on one device: the
    # strategy is how a run is trained, not what, and the checkpoints are the same files.
    assert main([*command, "--epochs", "2", "--strategy", "default"]) == 0
    assert "for epochs 2..2" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["strategy"] == "default"
    assert main([*command[:-2], "--set", "base_filters=8", "--epochs", "3"]) == 2
    assert "options cannot change on resume" in capsys.readouterr().err
    assert main(["train", "dcgan", "--out", str(run), "--resume", "--auto-resume"]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_checkpoint_that_cannot_be_written_stops_the_run_with_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").write_text("a file where the checkpoint folder goes")  # as a full or read-only disk
    assert main(["train", "dcgan", "--out", str(run), "--epochs", "3", *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Cannot write the checkpoint of epoch 1" in err[0] and "training stopped" in err[0]
    assert not (run / "state.json").exists()  # it did not train on into epoch 2


def test_multiworker_needs_a_usable_tf_config(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["train", "dcgan", "--out", str(tmp_path / "r"), "--strategy", "multiworker", *TINY]) == 2
    assert "needs TF_CONFIG" in capsys.readouterr().err
    monkeypatch.setenv("TF_CONFIG", "{not json")
    assert main(["train", "dcgan", "--out", str(tmp_path / "r"), "--strategy", "multiworker", *TINY]) == 2
    assert "TF_CONFIG is not valid JSON" in capsys.readouterr().err
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert main(["train", "dcgan", "--out", str(tmp_path / "r"), "--strategy", "mirrored", *TINY]) == 2
    assert "pass --strategy multiworker" in capsys.readouterr().err


def test_run_config_refuses_unknown_strategies_and_old_configs_load_as_one_device(tmp_path):
    for field, value in (("strategy", "tpu"), ("precision", "float8"), ("batch_norm", "ghost"), ("replicas", 0)):
        with pytest.raises(KerasGenError, match=field.replace("_", "-") if field != "replicas" else "replicas"):
            RunConfig("dcgan", **{field: value}).check()
    old = {"model": "dcgan", "options": {}, "data": "digits", "image_size": 16, "channels": 1, "batch_size": 8,
           "seed": 0, "epochs": 1, "steps_per_epoch": 2}
    (tmp_path / "config.json").write_text(json.dumps(old))
    config = RunConfig.load(tmp_path)
    assert (config.strategy, config.precision, config.batch_norm, config.replicas, config.jit_compile) == (
        "default", "float32", "sync", 1, "auto")


def test_jit_compile_auto_reads_the_measured_table():
    from keras_gen.xla import MIN_SPEEDUP, decide, load_table

    table = {"cpu": {"dcgan": {"plain": 370.0, "xla": 250.0, "speedup": 0.68},
                     "pixelcnn": {"plain": 100.0, "xla": 160.0, "speedup": 1.6},
                     "stylegan": {"error": "InvalidArgumentError: ..."}},
             "NVIDIA H100 80GB HBM3": {"dcgan": {"plain": 4e4, "xla": 5e4, "speedup": 1.25}}}
    assert decide("dcgan", "auto", "cpu", table)[0] is False
    assert decide("pixelcnn", "auto", "cpu", table)[0] is True
    assert decide("stylegan", "auto", "cpu", table) == (False, "XLA failed to compile stylegan on cpu when measured")
    assert decide("dcgan", "auto", "NVIDIA H100 80GB HBM3", table)[0] is True
    on, why = decide("vae", "auto", "NVIDIA H100 80GB HBM3", table)
    assert on and "no measurement" in why  # unmeasured: Keras' rule (XLA on a GPU) and it says so
    assert decide("vae", "auto", "cpu", table)[0] is False
    assert decide("dcgan", True, "cpu", table) == (True, "asked for (--jit-compile)")
    assert MIN_SPEEDUP > 1.0
    shipped = load_table()  # the table in the package: measured rows only, each with its figures
    assert "cpu" in shipped and shipped["cpu"]
    for kind, rows in shipped.items():
        for model, row in rows.items():
            # images/s are stored to 0.1, the speedup from the unrounded figures
            assert "error" in row or (row["plain"] > 0 and row["xla"] > 0 and abs(
                row["speedup"] - row["xla"] / row["plain"]) <= 0.06 / row["plain"] + 0.002), (kind, model, row)
