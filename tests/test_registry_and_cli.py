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
        "import importlib.abc, pkgutil, sys\n"
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
        "runs = {n: p.get_default('func').__module__ for n, p in sub.choices.items()}\n"
        "assert runs == {n: f'keras_gen.commands.{n}' for n in modules}, runs\n"
        "assert [c.__name__ for c in COMMANDS] == [f'keras_gen.commands.{n}' for n in sub.choices]\n"
        "print(len(runs))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == 14
