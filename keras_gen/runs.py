"""A training run on disk, read back: its config, its checkpoints, how far it trained.

    RUN/config.json                 the RunConfig (model, options, data, sizes, seed, epochs, ...)
    RUN/state.json                  epochs finished and the last epoch's logs
    RUN/checkpoints/last.keras      the whole model: weights, every optimizer's slots, RNG state
    RUN/checkpoints/previous.keras  the checkpoint before it, the fallback if last.keras is damaged
    RUN/train.lock                  while a process trains the run: its pid (keras_gen.run_lock)

Training (keras_gen.training) writes runs; the CLI's sample and export, evaluation and the
tests read them through this module, so reading a run never imports the training loop.

What a run was built with is its checkpoint's own config: config.json must agree with it (model,
sizes, options), and its options are checked like `--set` values (type, range, known name)
when the run is read, so a hand-edited config.json is one clear error, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras

from keras_gen import registry
from keras_gen.callbacks import CHECKPOINT_NAMES, read_checkpoint_state
from keras_gen.errors import KerasGenError
from keras_gen.core.inputs import MAX_SEED

# What every run's config.json holds (a started run has filled them in).
_RESOLVED_FIELDS = ("data", "image_size", "channels", "batch_size", "seed", "epochs", "steps_per_epoch")


@dataclass
class RunConfig:
    """Everything that defines a training run; `config.json` is this, as JSON.

    Fields left None take the data's or the library's defaults when a run starts (`resolve_config`)
    and, on resume, the run's own values; a resolved config has none left but `data_b`,
    `data_dir`, `num_classes` (data without labels) and the bookkeeping fields.
    """

    model: str  # a registered model name
    options: dict = field(default_factory=dict)  # model options (`--set key=value`), typed
    data: str | None = None  # bundled name, tfds:NAME or folder; default digits
    data_b: str | None = None  # second domain, for unpaired models
    data_dir: str | None = None  # TFDS data directory
    image_size: int | list | None = None  # one side, or [height, width]; default: the data's
    channels: int | None = None  # default: the data's (1 or 3)
    num_classes: int | None = None  # from the data; None without labels
    batch_size: int | None = None  # default 64
    seed: int | None = None  # weights, shuffle order and the model's noise; default 0
    epochs: int | None = None  # total epochs; default 10
    steps_per_epoch: int | None = None  # default: one pass over the train split
    jit_compile: bool | str | None = None  # XLA: True, False or "auto" (default)
    keras_gen_version: str | None = None  # written when the run starts
    created: str | None = None

    def __post_init__(self):
        # One spelling of a size, as JSON keeps it: an int for square images, else [height, width].
        if isinstance(self.image_size, (tuple, list)) and len(self.image_size) == 2:
            height, width = self.image_size
            self.image_size = height if height == width else [height, width]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, where: str = "run config") -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(values, dict) or "model" not in values or set(values) - names:
            unknown = sorted(set(values) - names) if isinstance(values, dict) else []
            raise KerasGenError(f"{where} is not a keras-gen run config"
                                + (f" (unknown keys: {', '.join(unknown)})" if unknown else "")
                                + ". Restore it, or start a new run in another --out.")
        return cls(**values)

    @classmethod
    def load(cls, run_dir) -> RunConfig:
        """The config of the run in `run_dir`; KerasGenError if it is missing or unreadable."""
        path = Path(run_dir) / "config.json"
        if not path.is_file():
            raise KerasGenError(f"{run_dir} is not a training run (no config.json). "
                                "Pass the --out folder of `keras-gen train`.")
        try:
            values = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise KerasGenError(f"{path} is not valid JSON ({err}). Restore it, or start a new run in "
                                "another --out.") from None
        config = cls.from_dict(values, where=str(path))
        missing = [name for name in _RESOLVED_FIELDS if getattr(config, name) is None]
        try:
            if missing:
                raise KerasGenError(f"it lacks {', '.join(missing)}")
            config.check().check_options()
        except KerasGenError as err:
            raise KerasGenError(f"{path} is not a usable run config ({err}). Restore it, or start a new run in "
                                "another --out.") from None
        # Runs written before jit_compile was recorded ran with Keras' default.
        return config if config.jit_compile is not None else dataclasses.replace(config, jit_compile="auto")

    def check(self) -> RunConfig:
        """Refuse values no run can have (before any data is loaded); returns self."""
        from keras_gen.data.common import check_image_size

        for flag, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size),
                            ("--steps-per-epoch", self.steps_per_epoch)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise KerasGenError(f"{flag} must be at least 1, got {value}.")
        if self.image_size is not None:  # 0 is a size to refuse, not "the default"
            check_image_size(self.image_size, default=0)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed <= MAX_SEED):
            raise KerasGenError(f"--seed must be between 0 and 2**32 - 1 (an integer), got {self.seed!r}.")
        if self.jit_compile not in (None, True, False, "auto"):
            raise KerasGenError(f"--jit-compile must be true, false or auto, got {self.jit_compile!r}.")
        if not isinstance(self.options, dict):
            raise KerasGenError(f"options must be a dict of model options, got {self.options!r}.")
        if self.channels is not None and (isinstance(self.channels, bool) or self.channels not in (1, 3)):
            raise KerasGenError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels!r}.")
        if self.num_classes is not None and (isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int)
                                             or self.num_classes < 1):
            raise KerasGenError(f"num_classes must be a positive whole number or null, got {self.num_classes!r}.")
        for name in ("model", "data", "data_b", "data_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise KerasGenError(f"{name} must be a string, got {value!r}.")
        return self

    def check_options(self) -> RunConfig:
        """Each option is one the model has, of its type and inside its range, as `--set` would
        take it: a hand-edited config.json is refused where the run is read, naming the key.
        Imports the model families (Keras); returns self."""
        from keras_gen.models.base import coerce_option, option_fields

        fields = option_fields(registry.get(self.model).model_class.Options)
        for key, value in self.options.items():
            if key not in fields:
                raise KerasGenError(f"options has the unknown key {key!r}; model {self.model} has "
                                    + ", ".join(sorted(fields)))
            kind = type(fields[key].default)
            if not _fits_type(value, kind):
                raise KerasGenError(f"options.{key} is {value!r}, not {_TYPE_NAMES.get(kind, kind.__name__)}")
            coerce_option(fields[key], value)  # choices and range: "Option base_filters must be >= 1, got -1"
        return self


_TYPE_NAMES = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}


def _fits_type(value, kind: type) -> bool:
    """Whether a JSON value is of an option's type (an int where a float goes, not the reverse)."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


# -- loading runs -----------------------------------------------------------------------------
# Keras only warns when a checkpoint's training state fails to load; each of these means resume
# would restart optimizer moments (or run without optimizers at all).
_TRAINING_STATE_SKIPPED = ("Skipping variable loading for optimizer", "compile() was not called",
                           "compile_from_config")


def _saved_compile_config(path: Path):
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json")).get("compile_config")
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, AttributeError):
        return None


def _import_model_class(path) -> None:
    """Import the registered model class the checkpoint holds, so Keras can deserialise it (a
    model's module is imported when it is used, not when the registry lists it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return  # a damaged file: keras.saving.load_model says so below
    if isinstance(config, dict):
        registry.import_class_of_checkpoint(config)


def load_checkpoint(path) -> keras.Model:
    """Load a keras-gen `.keras` checkpoint safely (no code runs) with its whole training state.

    KerasGenError for a missing, damaged or foreign file (a Keras model that is not a keras-gen
    model), and for a checkpoint whose optimizer or compile state did not load, for any reason:
    Keras only warns then, and a resume would silently restart the optimizers.
    """
    from keras_gen.models.base import GenerativeModel

    path = Path(path)
    if not path.is_file():
        raise KerasGenError(f"No checkpoint at {path}. Train first with `keras-gen train MODEL --out RUN`.")
    _import_model_class(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = keras.saving.load_model(path, safe_mode=True)
        except Exception as err:  # truncated, corrupt or foreign file: one clear message, no Keras trace
            raise KerasGenError(
                f"Cannot load checkpoint {path} ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
                "It may be truncated or written by another version; train again or restore the file."
            ) from None
    if not isinstance(model, GenerativeModel):
        raise KerasGenError(f"{path} is a Keras model file ({type(model).__name__}) but not a keras-gen model "
                            "checkpoint. Pass a run written by `keras-gen train`, or restore its checkpoint.")
    skipped = [str(w.message) for w in caught if any(m in str(w.message) for m in _TRAINING_STATE_SKIPPED)]
    if not skipped and _saved_compile_config(path) and not getattr(model, "optimizers", None):
        skipped = ["the checkpoint holds a compile config, but the loaded model has no optimizers"]
    if skipped:
        raise KerasGenError(
            f"The training state in checkpoint {path} did not load ({skipped[0].splitlines()[0][:200]}), so a "
            "resume would not be exact. The file may be from another version of keras-gen or Keras; "
            "train again with this version."
        )
    return model


def checkpoints(run_dir: Path) -> list[Path]:
    return [Path(run_dir) / "checkpoints" / name for name in CHECKPOINT_NAMES]


def check_checkpoint_matches(model, config: RunConfig, path: Path, run_dir) -> None:
    """The checkpoint is what was built and trained; the run's config.json must say the same:
    the same model class (a cvae checkpoint is no cdcgan), sizes and classes, and every option
    it records. Otherwise a KerasGenError naming what differs, never a run that samples or
    resumes as something it is not, or an export whose manifest records what was never built."""
    config_path = Path(run_dir) / "config.json"
    expected = registry.get(config.model).model_class
    if type(model) is not expected:
        held = getattr(model, "registered_name", None) or type(model).__name__
        raise KerasGenError(f"Checkpoint {path} holds a {held} model, but {config_path} names {config.model}: the "
                            "checkpoint belongs to another run, or config.json was edited. Restore the run's own "
                            "checkpoint and config.json, or start a new run in another --out.")
    size = model.image_size if isinstance(model.image_size, int) else list(model.image_size)  # as JSON keeps it
    built = {"image_size": size, "channels": model.channels, "num_classes": model.num_classes,
             **{f"options.{k}": getattr(model.options, k) for k in config.options}}
    recorded = {"image_size": config.image_size, "channels": config.channels, "num_classes": config.num_classes,
                **{f"options.{k}": v for k, v in config.options.items()}}
    differ = [f"{k} {recorded[k]!r} (checkpoint: {built[k]!r})" for k in built if recorded[k] != built[k]]
    if differ:
        raise KerasGenError(f"{config_path} disagrees with checkpoint {path}, which holds what was built and trained: "
                            + "; ".join(differ) + ". A run's model and options cannot change (resume is exact): "
                            "restore config.json, or start a new run in another --out with the new values.")


def load_latest_checkpoint(run_dir: Path, config: RunConfig | None = None) -> tuple[keras.Model, Path]:
    """The model of the newest checkpoint that loads: last.keras, else (with a warning) previous.keras,
    checked against the run's config (`config`, or its config.json)."""
    config = RunConfig.load(run_dir) if config is None else config
    last, previous = checkpoints(run_dir)
    try:
        model, path = load_checkpoint(last), last
    except KerasGenError as err:
        if not previous.is_file():
            raise
        warnings.warn(f"{err} Falling back to the previous checkpoint, {previous}.")
        model, path = load_checkpoint(previous), previous
    check_checkpoint_matches(model, config, path, run_dir)
    return model, path


def load_run(run_dir) -> tuple[keras.Model, dict]:
    """The trained model of a run (its newest loadable checkpoint) and its config as a dict."""
    config = RunConfig.load(run_dir)
    model, _ = load_latest_checkpoint(Path(run_dir), config)
    return model, config.to_dict()


def _read_state_json(run_dir: Path) -> dict | None:
    """state.json's record, or None (with a warning if it exists but is broken: the checkpoint
    carries its own epoch, so a damaged state.json must not block anything)."""
    path = run_dir / "state.json"
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
        int(state["epoch"])
        return state
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        warnings.warn(f"{path} is damaged; using the epoch recorded in the checkpoint.")
        return None


def run_state(run_dir: Path, checkpoint: Path | None = None) -> dict:
    """{"epoch", "logs"} of a run: from the checkpoint itself (written with it, atomically), else
    state.json. A stop between saving the checkpoint and state.json must not make resume
    retrain an epoch or skip the wrong batches."""
    recorded = _read_state_json(run_dir)
    candidates = [checkpoint] if checkpoint else checkpoints(run_dir)
    state = next((s for s in map(read_checkpoint_state, candidates) if s is not None), None)
    if state is None:  # a checkpoint written by other code: trust state.json
        if recorded is None:
            raise KerasGenError(f"{run_dir} records no finished epochs (no readable state.json, and the checkpoint "
                                "holds none); start a new run.")
        return recorded
    if recorded is not None and recorded["epoch"] != state["epoch"]:
        warnings.warn(f"state.json says {recorded['epoch']} epochs but the checkpoint holds {state['epoch']}; "
                      f"resuming after epoch {state['epoch']}.")
    return state


def run_summary(run_dir) -> dict:
    """The run's config with how far it trained: epochs_done, train_steps, last_logs."""
    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir).to_dict()
    state = run_state(run_dir) if any(p.is_file() for p in checkpoints(run_dir)) else {"epoch": 0}
    return {**config, "epochs_done": state["epoch"], "train_steps": state["epoch"] * config["steps_per_epoch"],
            "last_logs": state.get("logs", {})}
