from pathlib import Path

import pytest

from keras_gen import KerasGenError, registry
from keras_gen.cli import main


def test_dcgan_is_registered_with_typed_options():
    assert "dcgan" in registry.names()
    spec = registry.get("dcgan")
    assert {"serving_default", "sample"} <= set(spec.exports)
    opts = registry.parse_options(spec, ["latent_dim=16", "generator_loss=minimax", "label_smoothing=0.1"])
    assert opts == {"latent_dim": 16, "generator_loss": "minimax", "label_smoothing": 0.1}
    model = registry.build("dcgan", image_size=16, channels=1, **opts)
    assert model.options.latent_dim == 16 and model.options.generator_loss == "minimax"


@pytest.mark.parametrize("pairs,match", [
    (["nope=1"], "has no option 'nope'"),
    (["latent_dim=big"], "expected a int"),
    (["latent_dim"], "key=value"),
])
def test_bad_options_are_clear_errors(pairs, match):
    with pytest.raises(KerasGenError, match=match):
        registry.parse_options(registry.get("dcgan"), pairs)


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(KerasGenError, match="dcgan"):
        registry.get("stylegan9")


def test_cli_errors_are_one_line_and_exit_2(capsys, tmp_path):
    assert main(["train", "stylegan9", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-gen: error: Unknown model") and "Traceback" not in err
    assert main(["sample", str(tmp_path / "missing"), "--out", str(tmp_path / "g.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "e")]) == 2
    assert "not a training run" in capsys.readouterr().err


def test_cli_lists_models_one_line_each_and_describes_one(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    cdcgan = next(line for line in lines if line.startswith("cdcgan "))
    assert cdcgan.split()[:3] == ["cdcgan", "adversarial", "labelled"] and "samples a requested class" in cdcgan
    assert not any("--set" in line for line in lines)  # options belong to `models NAME`
    assert main(["models", "cdcgan"]) == 0
    page = capsys.readouterr().out
    assert "--set base_filters=64" in page and "--set embed_dim=50" in page and "paper: Mirza & Osindero 2014" in page
    assert "label        label" in page and "exports: serving_default, sample, generate" in page
    assert main(["models", "wgan"]) == 0
    wgan = capsys.readouterr().out
    assert "--set beta_1" not in wgan and "--set clip_value=0.01" in wgan  # RMSprop: no betas listed
    assert main(["models", "autoencoder"]) == 0
    assert "latent_dim=100" not in capsys.readouterr().out  # nothing of another family's
    assert main(["models", "nope"]) == 2 and "Unknown model 'nope'" in capsys.readouterr().err


def test_a_default_may_be_any_expression(capsys):
    from tests.models import toy_upscaler  # noqa: F401  (registers it; its filters default is 2 * SCALE)

    assert main(["models", "toy_upscaler"]) == 0
    assert "--set filters=4  width of the network" in capsys.readouterr().out


def test_warnings_during_a_command_are_replayed_once(capsys):
    """Other warnings raised inside a command show once, after it: replaying them while still
    recording would record them again without end."""
    import warnings

    from keras_gen.callbacks import TrainingWarning
    from keras_gen.commands.common import warnings_as_lines

    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with warnings_as_lines(TrainingWarning):
            warnings.warn("a training problem", TrainingWarning)
            warnings.warn("something else", UserWarning)
    assert "keras-gen: warning: a training problem" in capsys.readouterr().err
    assert [str(w.message) for w in outer] == ["something else"]


def test_the_cli_assembles_one_module_per_command_and_imports_no_tensorflow():
    """`keras_gen.cli` and every command module import with TensorFlow and Keras blocked (the
    heavy imports sit inside the commands' run functions), and each subcommand runs its own
    module's `run`."""
    import subprocess
    import sys

    code = (
        "import argparse, importlib.abc, pkgutil, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras'):\n"
        "            raise ImportError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import keras_gen.commands\n"
        "from keras_gen.cli import COMMANDS, build_parser\n"
        "modules = {m.name for m in pkgutil.iter_modules(keras_gen.commands.__path__)} - {'common'}\n"
        "for name in modules:\n"
        "    importlib.import_module(f'keras_gen.commands.{name}')\n"
        "parser = build_parser()\n"
        "sub = next(a for a in parser._actions if a.dest == 'command')\n"
        "def module_of(p):\n"
        "    if p.get_default('func') is not None:\n"
        "        return p.get_default('func').__module__\n"
        "    nested = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))\n"
        "    (module,) = {q.get_default('func').__module__ for q in nested.choices.values()}\n"
        "    return module  # a command with actions (data pack|info): one module runs them all\n"
        "runs = {n: module_of(p) for n, p in sub.choices.items()}\n"
        "assert runs == {n: f'keras_gen.commands.{n}' for n in modules}, runs\n"
        "assert [c.__name__ for c in COMMANDS] == [f'keras_gen.commands.{n}' for n in sub.choices]\n"
        "print(len(runs))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import keras_gen.commands

    command_files = [f for f in Path(keras_gen.commands.__path__[0]).glob("*.py") if f.stem not in ("__init__", "common")]
    assert int(proc.stdout) == len(command_files) >= 15  # every command module is a command 


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory):
    from keras_gen.training import RunConfig, train

    run = tmp_path_factory.mktemp("cli") / "run"
    train(run, RunConfig("dcgan", data="digits", image_size=16, batch_size=16, steps_per_epoch=2, epochs=2,
                         options={"base_filters": 4, "latent_dim": 8}), verbose=0)
    return run


def test_every_warning_of_a_command_is_a_keras_gen_line(two_epoch_run, tmp_path, capsys):
    """Not Python's `runs.py:NNN: UserWarning: ...` with the source line under it."""
    import shutil
    import warnings

    from keras_gen.commands.common import warnings_printed_as_lines

    run = tmp_path / "run"
    shutil.copytree(two_epoch_run, run)
    last = run / "checkpoints" / "last.keras"
    last.write_bytes(last.read_bytes()[:1000])
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "g.png")]) == 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-gen: warning: Cannot load checkpoint")
    assert "Falling back to the previous checkpoint" in lines[0] and "UserWarning" not in err
    with warnings_printed_as_lines():
        warnings.warn("two\nlines", UserWarning)
    assert capsys.readouterr().err == "keras-gen: warning: two lines\n"


def test_evaluate_checks_its_json_path_before_evaluating(two_epoch_run, tmp_path, capsys, monkeypatch):
    import os
    from pathlib import Path

    import keras_gen.evaluation

    def evaluate_path(*args, **kwargs):
        raise AssertionError("evaluated before --json was checked")

    monkeypatch.setattr(keras_gen.evaluation, "evaluate_path", evaluate_path)
    read_only = tmp_path / "read_only"
    read_only.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root writes through file modes; sysfs refuses new files to everyone
        read_only = Path("/sys")
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    for target, why in ((read_only / "report.json", "cannot write in"), (not_a_folder / "report.json", "cannot write in"),
                        (tmp_path, "is a folder")):
        assert main(["evaluate", str(two_epoch_run), "--metrics", "fid", "--n", "20", "--json", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"keras-gen: error: --json {target}") and why in err and "Traceback" not in err


def test_comma_lists_refuse_empty_entries():
    from keras_gen.commands.common import comma_list

    assert comma_list("0, 1,2", "--labels") == [0, 1, 2]
    assert comma_list("0.5,-1", "--code", float, "numbers") == [0.5, -1.0]
    for text in ("1,,2", "1,2,", ",", ""):
        with pytest.raises(KerasGenError, match="--labels takes comma-separated whole numbers with no empty entry"):
            comma_list(text, "--labels")
    with pytest.raises(KerasGenError, match="got 'a,b'"):
        comma_list("a,b", "--labels")


def test_query_reads_both_flag_forms_and_refuses_malformed_ones_before_connecting(capsys):
    from keras_gen.commands.query import request_flags

    assert request_flags(["--steps=20", "--labels", "[0,1]", "--guidance", "-1.5"]) == {
        "steps": 20, "labels": [0, 1], "guidance": -1.5}
    url = "http://127.0.0.1:9"  # nothing listens there: every refusal comes before any request
    for flags, message in ((["--steps=abc"], "--steps: 'abc' is not a number or a JSON list"),
                           (["--steps", "abc"], "--steps: 'abc' is not a number or a JSON list"),
                           (["--a", "--b", "1", "2"], "--a needs a value"),
                           (["--a", "1", "2"], "'2' is neither"),
                           (["--steps"], "--steps needs a value"),
                           (["--steps=1", "--steps", "2"], "--steps is given twice"),
                           (["--set", "steps=20"], "--set is train's flag")):
        assert main(["query", url, "--model", "m", *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith("keras-gen: error:") and message in err and "Traceback" not in err


def test_train_classifier_names_the_default_data(monkeypatch, capsys):
    import keras_gen.features.classifier

    def trained(data, **kwargs):  # the classifier itself is trained in tests/features
        return None, {"test_accuracy": 0.9731, "path": "cache/digits.keras", "data": data}

    monkeypatch.setattr(keras_gen.features.classifier, "train_domain_classifier", trained)
    assert main(["train", "classifier"]) == 0
    assert "domain classifier for digits: test accuracy 0.9731" in capsys.readouterr().out
