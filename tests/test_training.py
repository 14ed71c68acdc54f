"""Runs end to end: files a run writes, exact resume, and the errors around runs."""

import dataclasses
import json

import keras
import pytest

from keras_gen import KerasGenError
from keras_gen.cli import main
from keras_gen.runs import load_run, run_summary
from keras_gen.training import RunConfig, train
from tests.model_checks import assert_same_training_state

TINY_OPTIONS = {"base_filters": 4, "latent_dim": 8}
TINY_FLAGS = ["--image-size", "16", "--batch-size", "16", "--steps-per-epoch", "3",
              "--set", "base_filters=4", "--set", "latent_dim=8"]


def tiny(**fields) -> RunConfig:
    """A DCGAN run small enough to train an epoch in about a second."""
    return RunConfig("dcgan", **{"data": "digits", "image_size": 16, "batch_size": 16, "steps_per_epoch": 3,
                                 "options": dict(TINY_OPTIONS), **fields})


class StopAfter(keras.callbacks.Callback):
    """Stops training after `epochs` epochs, as a kill between epochs would (checkpoint written)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def test_run_writes_checkpoint_grids_logs_and_interpolation(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    from keras_gen.models.gan.dcgan import DCGAN

    previews = []
    preview = DCGAN.preview
    monkeypatch.setattr(DCGAN, "preview", lambda self, *args: previews.append(args) or preview(self, *args))
    run = tmp_path / "run"
    summary = train(run, tiny(epochs=2), verbose=0)
    assert (run / "checkpoints" / "last.keras").is_file() and (run / "checkpoints" / "previous.keras").is_file()
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["epoch_0001.png", "epoch_0002.png"]
    assert (run / "samples.png").is_file() and (run / "interpolation.png").is_file()
    # the run's samples.png is the last epoch's grid, drawn once (a diffusion chain is not run twice)
    assert len(previews) == 2
    assert np.array_equal(np.asarray(Image.open(run / "samples.png")),
                          np.asarray(Image.open(run / "samples" / "epoch_0002.png")))
    assert list((run / "logs").rglob("events.out.tfevents.*")), "no TensorBoard event files"
    config = RunConfig.load(run)  # config.json is the RunConfig, resolved
    assert config.model == "dcgan" and config.options["base_filters"] == 4 and config.channels == 1
    assert (config.epochs, config.seed, config.jit_compile, config.num_classes) == (2, 0, "auto", 10)
    assert json.loads((run / "config.json").read_text()) == config.to_dict() == summary["config"]
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    assert len(summary["history"]["g_loss"]) == 2 and summary["warnings"] == []
    model, _ = load_run(run)
    assert {name: opt.iterations.numpy() for name, opt in model.optimizers.items()} == {
        "generator": 6, "discriminator": 6}
    previous = keras.saving.load_model(run / "checkpoints" / "previous.keras", safe_mode=True)
    assert previous.optimizers["generator"].iterations.numpy() == 3  # the epoch before


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """Three uninterrupted epochs, the reference for every resumed run."""
    keras.utils.set_random_seed(0)
    run = tmp_path_factory.mktemp("straight") / "run"
    train(run, tiny(epochs=3), verbose=0)
    return load_run(run)[0]


def test_resume_without_epochs_continues_to_the_runs_own_total_exactly(tmp_path, straight_run):
    """Stopped after epoch 1 of 3, `--resume` alone trains epochs 2..3 and ends bit for bit where
    3 uninterrupted epochs end."""
    run = tmp_path / "resumed"
    train(run, tiny(epochs=3), callbacks=[StopAfter(1)], verbose=0)
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    keras.utils.set_random_seed(12345)  # a fresh process resuming the run has other global RNG state
    summary = train(run, resume=True, verbose=0)
    assert (summary["initial_epoch"], summary["epochs"]) == (1, 3)
    assert RunConfig.load(run).epochs == 3
    assert_same_training_state(straight_run, load_run(run)[0])


def test_a_damaged_last_checkpoint_falls_back_to_the_previous_one_and_resumes_exactly(tmp_path, straight_run):
    run = tmp_path / "run"
    train(run, tiny(epochs=3), callbacks=[StopAfter(2)], verbose=0)
    last = run / "checkpoints" / "last.keras"
    last.write_bytes(last.read_bytes()[:1000])  # a disk error, a bad copy
    with pytest.warns(UserWarning, match="Falling back to the previous checkpoint"):
        model, _ = load_run(run)
    assert model.optimizers["generator"].iterations.numpy() == 3  # previous.keras: after epoch 1
    assert run_summary(run)["epochs_done"] == 1
    with pytest.warns(UserWarning, match="Falling back"):
        summary = train(run, resume=True, callbacks=[StopAfter(2)], verbose=0)
    assert summary["initial_epoch"] == 1
    # the damaged last.keras was replaced, never rotated over the good previous.keras (epoch 1)
    assert _iterations(run / "checkpoints" / "previous.keras") == 3 and _iterations(last) == 6
    summary = train(run, resume=True, verbose=0)  # no fallback now; epoch 2 becomes the previous one
    assert summary["initial_epoch"] == 2 and _iterations(run / "checkpoints" / "previous.keras") == 6
    assert_same_training_state(straight_run, load_run(run)[0])


def _iterations(checkpoint) -> int:
    return int(keras.saving.load_model(checkpoint, safe_mode=True).optimizers["generator"].iterations.numpy())


class DamageLastCheckpoint(keras.callbacks.Callback):
    """After epoch `epoch` is saved, truncate last.keras, as a disk error while training would."""

    def __init__(self, run, epoch):
        super().__init__()
        self.last, self.epoch = run / "checkpoints" / "last.keras", epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            self.last.write_bytes(self.last.read_bytes()[:-100])


def test_a_checkpoint_damaged_while_training_is_not_rotated_into_previous(tmp_path):
    run = tmp_path / "run"
    train(run, tiny(epochs=3), callbacks=[DamageLastCheckpoint(run, 2)], verbose=0)
    assert _iterations(run / "checkpoints" / "previous.keras") == 3  # epoch 1 kept, not the damaged epoch 2
    assert _iterations(run / "checkpoints" / "last.keras") == 9


def test_resume_refuses_changed_flags_and_trusts_the_checkpoint_over_state_json(tmp_path):
    run = tmp_path / "run"
    train(run, tiny(epochs=1), verbose=0)
    with pytest.raises(KerasGenError, match="batch_size .run: 16, given: 8"):
        train(run, RunConfig("dcgan", epochs=2, batch_size=8), resume=True)
    with pytest.raises(KerasGenError, match="options cannot change"):
        train(run, RunConfig("dcgan", epochs=2, options={"base_filters": 8}), resume=True)
    # a stop between saving the checkpoint and state.json: the checkpoint's own record wins
    (run / "state.json").write_text(json.dumps({"epoch": 0}))
    with pytest.warns(UserWarning, match="checkpoint holds 1"):
        summary = train(run, RunConfig("dcgan", epochs=2), resume=True, verbose=0)
    assert summary["initial_epoch"] == 1 and RunConfig.load(run).epochs == 2  # --epochs: a new total
    # a damaged state.json does not block resume either: the checkpoint carries its epoch
    (run / "state.json").write_text("{not json")
    with pytest.warns(UserWarning, match="state.json is damaged"):
        summary = train(run, RunConfig("dcgan", epochs=3), resume=True, verbose=0)
    assert summary["initial_epoch"] == 2 and json.loads((run / "state.json").read_text())["epoch"] == 3


def test_run_errors_are_clear(tmp_path):
    run = tmp_path / "run"
    train(run, tiny(epochs=1), verbose=0)
    with pytest.raises(KerasGenError, match="already holds a run"):
        train(run, tiny(epochs=1))
    with pytest.raises(KerasGenError, match="already trained 1 epochs"):
        train(run, resume=True)
    with pytest.raises(KerasGenError, match="Cannot resume"):
        train(tmp_path / "nothing", resume=True)
    with pytest.raises(KerasGenError, match="power of two"):
        train(tmp_path / "bad", tiny(epochs=1, image_size=24), verbose=0)
    for field, value, message in (("epochs", 0, "--epochs must be at least 1"),
                                  ("batch_size", 0, "--batch-size must be at least 1"),
                                  ("steps_per_epoch", -1, "--steps-per-epoch must be at least 1"),
                                  ("image_size", 0, "image_size 0 is out of range"),
                                  ("image_size", -16, "image_size -16 is out of range"),
                                  ("seed", -1, "--seed must be between 0 and 2..32 - 1"),
                                  ("seed", 2**32, "--seed must be between")):
        with pytest.raises(KerasGenError, match=message):
            train(tmp_path / "zero", tiny(**{field: value}))
    with pytest.raises(KerasGenError, match="has no option 'depth'"):
        train(tmp_path / "opt", tiny(options={"depth": 3}))
    assert not (tmp_path / "zero").exists() and not (tmp_path / "opt").exists()
    # a start that fails on its data leaves a folder that a corrected command can reuse
    with pytest.raises(KerasGenError):
        train(tmp_path / "retry", tiny(epochs=1, batch_size=5000), verbose=0)
    train(tmp_path / "retry", tiny(epochs=1), verbose=0)
    # a truncated checkpoint with no previous one is one clear error, not a Keras trace
    (run / "checkpoints" / "previous.keras").unlink(missing_ok=True)  # one epoch: there is none yet
    (run / "checkpoints" / "last.keras").write_bytes(b"not a zip")
    with pytest.raises(KerasGenError, match="Cannot load checkpoint"):
        load_run(run)


def test_broken_config_or_foreign_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    run = tmp_path / "run"
    train(run, tiny(epochs=1), verbose=0)
    good_config = (run / "config.json").read_text()
    for broken in ("{not json", json.dumps({"model": "dcgan", "colour": "red"}),
                   good_config.replace('"epochs": 1', '"epochs": "ten"'), json.dumps({"model": "dcgan"})):
        (run / "config.json").write_text(broken)
        for argv in (["train", "dcgan", "--out", str(run), "--resume", "--epochs", "2"],
                     ["sample", str(run), "--out", str(tmp_path / "g.png")]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith("keras-gen: error:") and "config.json" in err and "Traceback" not in err
            assert len(err.strip().splitlines()) == 1
    (run / "config.json").write_text(good_config)
    # a safe Keras file that is not a keras-gen model, in both checkpoint slots
    foreign = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    for name in ("last.keras", "previous.keras"):
        foreign.save(run / "checkpoints" / name)
    assert main(["sample", str(run), "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "not a keras-gen model checkpoint" in err and "Sequential" in err and "Traceback" not in err


def _compile_from_config_keras_base(self, config):
    return keras.Model.compile_from_config(self, config)  # warns "compile() was not called"


def _compile_with_unbuilt_optimizer(self, config):
    self.compile()
    self.optimizers["generator"] = keras.optimizers.Adam()  # no slots: Keras skips loading its saved variables


def _compile_nothing(self, config):
    pass  # no optimizers at all after loading


@pytest.mark.parametrize("compile_from_config", [_compile_from_config_keras_base, _compile_with_unbuilt_optimizer,
                                                 _compile_nothing])
def test_a_checkpoint_whose_training_state_did_not_load_is_an_error(tmp_path, monkeypatch, compile_from_config):
    from keras_gen.models.gan.dcgan import DCGAN
    from keras_gen.runs import load_checkpoint

    model = DCGAN(image_size=16, latent_dim=8, base_filters=4)
    model.compile()
    model.save(tmp_path / "model.keras")
    load_checkpoint(tmp_path / "model.keras")  # loads, optimizers and all, as it is
    monkeypatch.setattr(DCGAN, "compile_from_config", compile_from_config)
    with pytest.raises(KerasGenError, match="training state in checkpoint .* did not load.*not be exact"):
        load_checkpoint(tmp_path / "model.keras")


def nan_after(monkeypatch, batches: int):
    """Feed NaN images from batch `batches` on (counted from the start of the run's data)."""
    import tensorflow as tf

    import keras_gen.data

    original = keras_gen.data.training_dataset

    def poisoned(*args, **kwargs):
        ds = original(*args, **kwargs)
        return ds.enumerate().map(lambda i, x: x + tf.where(i >= batches, float("nan"), 0.0))

    monkeypatch.setattr(keras_gen.data, "training_dataset", poisoned)


def test_nan_in_the_first_epoch_says_nothing_was_saved(tmp_path, monkeypatch, capsys):
    nan_after(monkeypatch, 1)
    run = tmp_path / "run"
    with pytest.raises(KerasGenError, match="diverged in epoch 1.*No epoch finished with finite weights, so nothing was saved"):
        train(run, tiny(epochs=2), verbose=0)
    assert not (run / "checkpoints").exists()
    assert main(["train", "dcgan", "--out", str(run), "--epochs", "2", *TINY_FLAGS]) == 2  # --out is reusable
    err = capsys.readouterr().err
    assert err.startswith("keras-gen: error: Training diverged in epoch 1") and "nothing was saved" in err
    assert "Traceback" not in err and not (run / "checkpoints").exists()


class PoisonWeightsAtLastBatch(keras.callbacks.Callback):
    """Turn a discriminator weight NaN after the last batch of the first epoch: the epoch's logged
    losses stay finite (and the generator still draws finite previews), its weights do not."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.steps - 1 and not getattr(self, "done", False):
            variable = self.model.discriminator.trainable_variables[0]
            variable.assign(variable * float("nan"))
            self.done = True


def test_an_epoch_that_ends_with_nan_weights_is_named_not_called_unfinished(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KerasGenError, match="diverged in epoch 1: its losses were finite, but its last steps left "
                                            "non-finite weights .discriminator .*No epoch finished with finite weights"):
        train(run, tiny(epochs=3), callbacks=[PoisonWeightsAtLastBatch(3)], verbose=0)
    assert not (run / "checkpoints").exists()


def test_nan_after_an_epoch_names_the_checkpoint_that_is_kept(tmp_path, monkeypatch, capsys):
    nan_after(monkeypatch, 4)  # epoch 1 is batches 0..2
    run = tmp_path / "run"
    assert main(["train", "dcgan", "--out", str(run), "--epochs", "3", *TINY_FLAGS]) == 2
    err = capsys.readouterr().err
    kept = run / "checkpoints" / "last.keras"
    assert "diverged in epoch 2" in err and f"after epoch 1, is kept in {kept}" in err
    assert kept.is_file() and json.loads((run / "state.json").read_text())["epoch"] == 1


def test_exploding_losses_warn_through_the_cli_and_still_exit_0(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "dcgan", "--out", str(run), "--epochs", "1", *TINY_FLAGS, "--set", "learning_rate=1e3"]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("keras-gen: warning: epoch 1: logged values exploded"))
    assert "d_loss=" in line and "looked at: d_fake, d_loss, d_real, g_loss" in line
    with pytest.warns(UserWarning, match="exploded past 1e\\+06"):
        summary = train(tmp_path / "py", tiny(epochs=1, options={**TINY_OPTIONS, "learning_rate": 1e3}), verbose=0)
    assert len(summary["warnings"]) == 1


def test_stuck_and_collapsed_losses_warn_for_any_logged_names():
    from keras_gen.callbacks import TrainingWarning, WatchLosses

    watch = WatchLosses()
    watch.on_epoch_begin(0)
    for step in range(4):  # running means: a learning model's move, a stuck one's do not
        watch.on_train_batch_end(step, {"recon_loss": 0.25, "kl_loss": 1.0 / (step + 1), "lr": 1e-3,
                                        "d_real": 0.999 - step * 1e-4, "d_fake": 0.001 + step * 1e-3})
    with pytest.warns(TrainingWarning) as caught:
        watch.on_epoch_end(0)
    messages = [str(w.message) for w in caught]
    stuck = messages[0].split("(")[1].split(")")[0]
    assert len(messages) == 2 and stuck == "recon_loss=0.25"  # not kl_loss (moving), not lr (not a loss)
    assert "discriminator collapsed" in messages[1]
    assert "looked at: d_fake, d_real, kl_loss, lr, recon_loss" in messages[1]
    watch.on_epoch_begin(1)
    for step in range(4):
        watch.on_train_batch_end(step, {"recon_loss": 0.25, "d_real": 0.5, "d_fake": 0.5 + step * 0.01})
    watch.on_epoch_end(1)  # warned once per problem, not every epoch
    assert watch.problems == messages


def test_a_loss_switched_off_by_configuration_is_not_a_stuck_loss():
    from keras_gen.callbacks import TrainingWarning, WatchLosses

    watch = WatchLosses()
    watch.on_epoch_begin(0)
    for step in range(4):  # cyclegan's logs with identity_weight=0: identity_loss is 0.0 at every batch
        watch.on_train_batch_end(step, {"identity_loss": 0.0, "cycle_loss": 0.5 / (step + 1), "g_loss": 2.0 - step,
                                        "d_a_loss": 0.25, "lr": 2e-4})
    with pytest.warns(TrainingWarning) as caught:
        watch.on_epoch_end(0)
    assert len(caught) == 1 and "(d_a_loss=0.25)" in str(caught[0].message)  # a constant non-zero loss still is
    assert "identity_loss" not in str(caught[0].message).split(";")[0]
    watch = WatchLosses()
    watch.on_epoch_begin(0)
    for step in range(4):
        watch.on_train_batch_end(step, {"identity_loss": 0.0, "cycle_loss": 0.5 / (step + 1)})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        watch.on_epoch_end(0)
    assert watch.problems == []


def test_cli_rejects_bad_numbers_and_bad_output_paths(tmp_path, capsys):
    for flags, message in ((["--epochs", "0"], "--epochs must be at least 1"),
                           (["--image-size", "0"], "image_size 0 is out of range"),
                           (["--seed", "-1"], "--seed must be between 0 and 2**32 - 1")):
        assert main(["train", "dcgan", "--out", str(tmp_path / "r"), *flags]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert main(["train", "classifier", "--image-size", "0"]) == 2  # the classifier's training too
    assert "image_size 0 is out of range" in capsys.readouterr().err
    run = tmp_path / "run"
    train(run, tiny(epochs=1), verbose=0)
    assert main(["sample", str(run), "--out", str(tmp_path / "grid.jpgx")]) == 2
    assert "file extension" in capsys.readouterr().err
    assert main(["sample", str(run), "--out", "/proc/no/such/dir/grid.png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-gen: error:") and "Traceback" not in err


def test_cli_train_then_resume_with_a_new_total_then_sample(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "dcgan", "--data", "shapes", "--out", str(run), "--image-size", "16", "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "8", "--set", "base_filters=4", "--set", "latent_dim=8"])
    assert code == 0
    out = capsys.readouterr().out
    assert "checkpoint:" in out and "tensorboard --logdir" in out
    assert json.loads((run / "config.json").read_text())["channels"] == 3
    assert main(["train", "dcgan", "--out", str(run), "--resume"]) == 2  # its own total: done
    assert "already trained 1 epochs (its total is 1)" in capsys.readouterr().err
    assert main(["train", "dcgan", "--out", str(run), "--resume", "--epochs", "2"]) == 0
    assert "for epochs 2..2" in capsys.readouterr().out
    assert RunConfig.load(run).epochs == 2 and json.loads((run / "state.json").read_text())["epoch"] == 2
    assert main(["sample", str(run), "--n", "9", "--seed", "1", "--out", str(tmp_path / "g.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "g.png").mode == "RGB"


def test_run_config_round_trips_and_old_configs_still_load(tmp_path):
    config = tiny(epochs=2, data_b=None)
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    old = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("data_b", "jit_compile")}
    assert RunConfig.from_dict(old).data_b is None  # config.json of runs written before data_b existed
