"""A run read back is checked: config.json's options (type, range, known name), and config.json
against the checkpoint, which holds what was built: another model's checkpoint, or a config edited
to other options, is one line and exit 2 for sample, resume and export alike."""

import json
import shutil

import pytest

from keras_gen import KerasGenError, registry
from keras_gen.cli import main
from keras_gen.runs import RunConfig, load_run
from keras_gen.training import train

CDCGAN = {"base_filters": 4, "latent_dim": 8, "embed_dim": 4}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A cdcgan run of one tiny epoch, copied by each test that edits it."""
    run = tmp_path_factory.mktemp("checks") / "run"
    train(run, RunConfig("cdcgan", data="digits", image_size=16, batch_size=16, steps_per_epoch=2, epochs=1,
                         options=dict(CDCGAN)), verbose=0)
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _edit_config(run, **changes):
    config = json.loads((run / "config.json").read_text())
    for key, value in changes.items():
        if key.startswith("options."):
            config["options"][key[len("options."):]] = value
        else:
            config[key] = value
    (run / "config.json").write_text(json.dumps(config))


def _commands(run, tmp_path):
    return {"sample": ["sample", str(run), "--n", "2", "--out", str(tmp_path / "g.png")],
            "resume": ["train", "cdcgan", "--out", str(run), "--resume", "--epochs", "2"],
            "export": ["export", str(run), "--out", str(tmp_path / "exports")]}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("keras-gen: error:") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("key,value,message", [
    ("options.base_filters", "eight", "options.base_filters is 'eight', not a whole number"),
    ("options.base_filters", -1, "Option base_filters must be >= 1, got -1"),
    ("options.learning_rate", True, "options.learning_rate is True, not a number"),
    ("options.generator_loss", "fancy", "Option generator_loss must be one of"),
    ("options.depth", 3, "options has the unknown key 'depth'; model cdcgan has "),
])
def test_config_options_are_checked_when_the_run_is_read(run, tmp_path, capsys, key, value, message):
    _edit_config(run, **{key: value})
    with pytest.raises(KerasGenError, match="is not a usable run config"):
        RunConfig.load(run)
    for argv in _commands(run, tmp_path).values():
        assert main(argv) == 2
        err = _one_line_error(capsys)
        assert message in err and "config.json" in err
    assert not (tmp_path / "exports").exists() and not (tmp_path / "g.png").exists()


def test_a_config_that_disagrees_with_the_checkpoint_is_an_error_that_says_so(run, tmp_path, capsys):
    """An edited learning_rate is not silently ignored by resume, and an export does not record a
    base_filters the network was not built with: the checkpoint is the truth."""
    commands = _commands(run, tmp_path)
    _edit_config(run, **{"options.learning_rate": 0.05})
    assert main(commands["resume"]) == 2
    err = _one_line_error(capsys)
    assert "config.json disagrees with checkpoint" in err and "last.keras" in err
    assert "options.learning_rate 0.05 (checkpoint: 0.0002)" in err
    _edit_config(run, **{"options.learning_rate": 0.0002, "options.base_filters": 16})
    for name in ("export", "sample"):
        assert main(commands[name]) == 2
        assert "options.base_filters 16 (checkpoint: 4)" in _one_line_error(capsys)
    assert not (tmp_path / "exports").exists()
    _edit_config(run, **{"options.base_filters": 4, "image_size": 32})
    assert main(commands["sample"]) == 2
    assert "image_size 32 (checkpoint: 16)" in _one_line_error(capsys)
    _edit_config(run, image_size=16)  # as trained: every command works again
    assert main(commands["export"]) == 0
    manifest = json.loads(next((tmp_path / "exports").rglob("manifest.json")).read_text())
    assert manifest["training"]["options"]["base_filters"] == manifest["metadata"]["options"]["base_filters"] == 4


def test_a_checkpoint_of_another_model_is_refused(run, tmp_path, capsys):
    """A cvae checkpoint in a cdcgan run is neither sampled nor resumed as a trained cdcgan."""
    cvae = registry.build("cvae", image_size=16, channels=1, num_classes=10, latent_dim=2, base_filters=4, hidden=8)
    cvae.compile()
    cvae.save(run / "checkpoints" / "last.keras")
    commands = _commands(run, tmp_path)
    for name in ("sample", "resume", "export"):
        assert main(commands[name]) == 2
        err = _one_line_error(capsys)
        assert f"Checkpoint {run / 'checkpoints' / 'last.keras'} holds a cvae model, but" in err
        assert "config.json names cdcgan" in err
    with pytest.raises(KerasGenError, match="holds a cvae model"):
        load_run(run)


def test_a_config_naming_another_model_is_one_line_not_a_graph_error(run, tmp_path, capsys):
    """config.json edited to name dcgan over a cdcgan checkpoint: resume would feed unlabelled
    batches to cdcgan's train_step (OperatorNotAllowedInGraphError)."""
    config = json.loads((run / "config.json").read_text())
    config["model"] = "dcgan"
    del config["options"]["embed_dim"]  # an option dcgan does not have would be refused first
    (run / "config.json").write_text(json.dumps(config))
    for name, argv in _commands(run, tmp_path).items():
        argv = [a if a != "cdcgan" else "dcgan" for a in argv]
        assert main(argv) == 2, name
        assert "holds a cdcgan model, but" in _one_line_error(capsys)


def test_options_given_as_text_are_recorded_as_the_model_holds_them(tmp_path):
    """From Python, `options={"base_filters": "4"}` builds a model with 4: config.json records 4,
    so the run reads back (a "4" there would be refused as not a whole number)."""
    run = tmp_path / "run"
    train(run, RunConfig("dcgan", data="digits", image_size=16, batch_size=16, steps_per_epoch=1, epochs=1,
                         options={"base_filters": "4", "latent_dim": 8.0, "spectral_norm": "false"}), verbose=0)
    assert json.loads((run / "config.json").read_text())["options"] == {
        "base_filters": 4, "latent_dim": 8, "spectral_norm": False, "seed": 0}
    model, config = load_run(run)
    assert model.options.base_filters == config["options"]["base_filters"] == 4
