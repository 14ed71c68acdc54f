"""Runs end to end: files a run writes, exact resume, and the errors around runs."""

import json

import keras
import numpy as np
import pytest

from keras_gen import KerasGenError
from keras_gen.cli import main
from keras_gen.training import load_run, train

TINY = dict(image_size=16, batch_size=16, steps_per_epoch=3, options=["base_filters=4", "latent_dim=8"],
            verbose=0)


def test_run_writes_checkpoint_grids_logs_and_interpolation(tmp_path):
    run = tmp_path / "run"
    summary = train("dcgan", "digits", run, epochs=2, **TINY)
    assert (run / "checkpoints" / "last.keras").is_file()
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["epoch_0001.png", "epoch_0002.png"]
    assert (run / "samples.png").is_file() and (run / "interpolation.png").is_file()
    assert list((run / "logs").rglob("events.out.tfevents.*")), "no TensorBoard event files"
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "dcgan" and config["options"]["base_filters"] == 4 and config["channels"] == 1
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    assert len(summary["history"]["g_loss"]) == 2
    model, _ = load_run(run)
    assert model.g_optimizer.iterations.numpy() == 6


def _weights(model):
    return [np.asarray(v) for v in model.variables]


def test_resume_is_exact(tmp_path):
    """Stopping after epoch 1 and resuming to 3 ends exactly where 3 uninterrupted epochs end."""
    train("dcgan", "digits", tmp_path / "straight", epochs=3, **TINY)
    train("dcgan", "digits", tmp_path / "resumed", epochs=1, **TINY)
    keras.utils.set_random_seed(12345)  # a fresh process resuming the run has other global RNG state
    summary = train("dcgan", "digits", tmp_path / "resumed", epochs=3, resume=True, verbose=0)
    assert summary["initial_epoch"] == 1
    straight, _ = load_run(tmp_path / "straight")
    resumed, _ = load_run(tmp_path / "resumed")
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for opt in ("g_optimizer", "d_optimizer"):
        for a, b in zip(getattr(straight, opt).variables, getattr(resumed, opt).variables):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_resume_refuses_changed_flags_and_trusts_the_checkpoint_over_state_json(tmp_path):
    run = tmp_path / "run"
    train("dcgan", "digits", run, epochs=1, **TINY)
    with pytest.raises(KerasGenError, match="batch_size .run: 16, given: 8"):
        train("dcgan", "digits", run, epochs=2, resume=True, batch_size=8)
    with pytest.raises(KerasGenError, match="options cannot change"):
        train("dcgan", "digits", run, epochs=2, resume=True, options=["base_filters=8"])
    # a stop between saving the checkpoint and state.json: the checkpoint's own record wins
    (run / "state.json").write_text(json.dumps({"epoch": 0}))
    with pytest.warns(UserWarning, match="checkpoint holds 1"):
        summary = train("dcgan", "digits", run, epochs=2, resume=True, verbose=0)
    assert summary["initial_epoch"] == 1


def test_run_errors_are_clear(tmp_path):
    run = tmp_path / "run"
    train("dcgan", "digits", run, epochs=1, **TINY)
    with pytest.raises(KerasGenError, match="already holds a run"):
        train("dcgan", "digits", run, epochs=1, **TINY)
    with pytest.raises(KerasGenError, match="already trained 1 epochs"):
        train("dcgan", "digits", run, epochs=1, resume=True)
    with pytest.raises(KerasGenError, match="Cannot resume"):
        train("dcgan", "digits", tmp_path / "nothing", epochs=2, resume=True)
    with pytest.raises(KerasGenError, match="power of two"):
        train("dcgan", "digits", tmp_path / "bad", epochs=1, image_size=24, verbose=0)
    for flag, kwargs in (("--epochs", {"epochs": 0}), ("--batch-size", {"epochs": 1, "batch_size": 0}),
                         ("--steps-per-epoch", {"epochs": 1, "steps_per_epoch": 0})):
        with pytest.raises(KerasGenError, match=f"{flag} must be at least 1"):
            train("dcgan", "digits", tmp_path / "zero", **kwargs)
    # a start that fails on its data leaves a folder that a corrected command can reuse
    with pytest.raises(KerasGenError):
        train("dcgan", "digits", tmp_path / "retry", epochs=1, image_size=16, batch_size=5000, verbose=0)
    train("dcgan", "digits", tmp_path / "retry", epochs=1, **TINY)
    # a truncated checkpoint is one clear error, not a Keras trace
    (run / "checkpoints" / "last.keras").write_bytes(b"not a zip")
    with pytest.raises(KerasGenError, match="Cannot load checkpoint"):
        load_run(run)


def test_diverged_epochs_stop_training_and_keep_the_last_good_checkpoint(tmp_path):
    from keras_gen.callbacks import RunCheckpoint, StopOnNonFinite
    from keras_gen.models.gan.dcgan import DCGAN

    model = DCGAN(image_size=16, latent_dim=8, base_filters=4)
    stop, checkpoint = StopOnNonFinite(), RunCheckpoint(tmp_path)
    for callback in (stop, checkpoint):
        callback.set_model(model)
    checkpoint.on_epoch_end(0, {"g_loss": 0.7, "d_loss": 1.3})
    stop.on_epoch_begin(1)
    stop.on_train_batch_end(3, {"g_loss": float("nan"), "d_loss": 1.0})
    checkpoint.on_epoch_end(1, {"g_loss": float("nan"), "d_loss": 1.0})
    assert model.stop_training and stop.bad_logs == {"g_loss": pytest.approx(float("nan"), nan_ok=True)}
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 1  # the NaN epoch was not saved


def test_cli_rejects_zero_epochs_and_bad_output_paths(tmp_path, capsys):
    assert main(["train", "dcgan", "--out", str(tmp_path / "r"), "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    run = tmp_path / "run"
    train("dcgan", "digits", run, epochs=1, **TINY)
    assert main(["sample", str(run), "--out", str(tmp_path / "grid.jpgx")]) == 2
    assert "file extension" in capsys.readouterr().err
    assert main(["sample", str(run), "--out", "/proc/no/such/dir/grid.png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-gen: error:") and "Traceback" not in err


def test_cli_train_then_sample_from_the_run(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "dcgan", "--data", "shapes", "--out", str(run), "--image-size", "16", "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "8", "--set", "base_filters=4", "--set", "latent_dim=8"])
    assert code == 0
    out = capsys.readouterr().out
    assert "checkpoint:" in out and "tensorboard --logdir" in out
    assert json.loads((run / "config.json").read_text())["channels"] == 3
    assert main(["sample", str(run), "--n", "9", "--seed", "1", "--out", str(tmp_path / "g.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "g.png").mode == "RGB"
