"""Runs: train any registered model with `fit`, resume it, and load it back.

A run directory holds everything about one training run:

    RUN/config.json                 the RunConfig (model, options, data, sizes, seed, epochs, ...)
    RUN/state.json                  epochs finished and the last epoch's logs
    RUN/checkpoints/last.keras      the whole model: weights, every optimizer's slots, RNG state
    RUN/checkpoints/previous.keras  the checkpoint before it, the fallback if last.keras is damaged
    RUN/samples/epoch_NNNN.png      a grid of the same latents after every epoch
    RUN/logs/                       TensorBoard scalars and sample images
    RUN/samples.png, RUN/interpolation.png   written when training ends

    from keras_gen.training import RunConfig, train
    train("runs/x", RunConfig("dcgan", data="digits", epochs=20, options={"base_filters": 32}))
    train("runs/x", resume=True)                            # on to the run's own 20 epochs
    train("runs/x", RunConfig("dcgan", epochs=40), resume=True)   # a new total

Evaluation during training is a callback (`keras_gen.callbacks.PeriodicEvaluation`) passed in
`callbacks`; this module does not know about metrics.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras

from keras_gen import __version__, registry
from keras_gen.callbacks import (CHECKPOINT_NAMES, RunCheckpoint, SampleGrid, StopOnNonFinite, WatchLosses,
                                 latent_interpolation, read_checkpoint_state)
from keras_gen.errors import KerasGenError
from keras_gen.fileio import remove_stale_temporaries, write_json_atomic
from keras_gen.images import save_grid, to_uint8

DEFAULT_DATA, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_SEED = "digits", 10, 64, 0
PREVIEW_SAMPLES = 64  # the grid written after every epoch and at the end
MAX_SEED = 2**32 - 1
# What every run's config.json holds (a started run has filled them in).
_RESOLVED_FIELDS = ("data", "image_size", "channels", "batch_size", "seed", "epochs", "steps_per_epoch")
# What resume may change: how far to train and how to run it, never what is trained.
RESUME_MAY_CHANGE = ("epochs", "jit_compile", "keras_gen_version", "created")


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
    image_size: int | None = None  # default: the data's
    channels: int | None = None  # default: the data's (1 or 3)
    num_classes: int | None = None  # from the data; None without labels
    batch_size: int | None = None  # default 64
    seed: int | None = None  # weights, shuffle order and the model's noise; default 0
    epochs: int | None = None  # total epochs; default 10
    steps_per_epoch: int | None = None  # default: one pass over the train split
    jit_compile: bool | str | None = None  # XLA: True, False or "auto" (default)
    keras_gen_version: str | None = None  # written when the run starts
    created: str | None = None

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
            config.check()
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
        if self.seed is not None and not 0 <= int(self.seed) <= MAX_SEED:
            raise KerasGenError(f"--seed must be between 0 and 2**32 - 1, got {self.seed}.")
        if self.jit_compile not in (None, True, False, "auto"):
            raise KerasGenError(f"--jit-compile must be true, false or auto, got {self.jit_compile!r}.")
        if not isinstance(self.options, dict):
            raise KerasGenError(f"options must be a dict of model options, got {self.options!r}.")
        return self


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
    registry.names()  # import every family, so their classes are registered for deserialisation
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


def _checkpoints(run_dir: Path) -> list[Path]:
    return [Path(run_dir) / "checkpoints" / name for name in CHECKPOINT_NAMES]


def _load_latest_checkpoint(run_dir: Path) -> tuple[keras.Model, Path]:
    """The model of the newest checkpoint that loads: last.keras, else (with a warning) previous.keras."""
    last, previous = _checkpoints(run_dir)
    try:
        return load_checkpoint(last), last
    except KerasGenError as err:
        if not previous.is_file():
            raise
        warnings.warn(f"{err} Falling back to the previous checkpoint, {previous}.")
        return load_checkpoint(previous), previous


def load_run_config(run_dir) -> RunConfig:
    return RunConfig.load(run_dir)


def load_run(run_dir) -> tuple[keras.Model, dict]:
    """The trained model of a run (its newest loadable checkpoint) and its config as a dict."""
    config = RunConfig.load(run_dir)
    model, _ = _load_latest_checkpoint(Path(run_dir))
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


def _run_state(run_dir: Path, checkpoint: Path | None = None) -> dict:
    """{"epoch", "logs"} of a run: from the checkpoint itself (written with it, atomically), else
    state.json. A stop between saving the checkpoint and state.json must not make resume
    retrain an epoch or skip the wrong batches."""
    recorded = _read_state_json(run_dir)
    candidates = [checkpoint] if checkpoint else _checkpoints(run_dir)
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
    state = _run_state(run_dir) if any(p.is_file() for p in _checkpoints(run_dir)) else {"epoch": 0}
    return {**config, "epochs_done": state["epoch"], "train_steps": state["epoch"] * config["steps_per_epoch"],
            "last_logs": state.get("logs", {})}


# -- resolving what a run will do --------------------------------------------------------------
def _check_options(spec, options: dict) -> None:
    unknown = sorted(set(options) - set(spec.defaults))
    if unknown:
        raise KerasGenError(f"Model {spec.name!r} has no option {unknown[0]!r}. Its options: "
                            + ", ".join(f"{k}={v!r}" for k, v in sorted(spec.defaults.items())))


def _resolve_new(out: Path, given: RunConfig) -> RunConfig:
    from keras_gen.data import describe_training_data
    from keras_gen.data.common import check_channels, check_image_size

    if any(p.is_file() for p in _checkpoints(out)):
        raise KerasGenError(f"{out} already holds a run. Pass --resume to continue it, or choose another --out.")
    spec = registry.get(given.model)
    _check_options(spec, given.options)
    data = given.data or DEFAULT_DATA
    info = describe_training_data(spec.data_kind, data, given.data_b, data_dir=given.data_dir)
    batch_size = given.batch_size or DEFAULT_BATCH_SIZE
    seed = DEFAULT_SEED if given.seed is None else int(given.seed)
    options = dict(given.options)
    if "seed" in spec.defaults and "seed" not in options:
        options["seed"] = seed  # the model's own noise follows the run's seed
    return dataclasses.replace(
        given, options=options, data=data,
        image_size=check_image_size(given.image_size, info.default_image_size),
        channels=check_channels(given.channels, info.channels),
        num_classes=info.num_classes if given.num_classes is None else given.num_classes,
        batch_size=batch_size, seed=seed, epochs=given.epochs or DEFAULT_EPOCHS,
        steps_per_epoch=given.steps_per_epoch or max(1, info.train_size // batch_size),
        jit_compile="auto" if given.jit_compile is None else given.jit_compile,
        keras_gen_version=__version__, created=given.created or time.strftime("%Y-%m-%dT%H:%M:%S"),
    )


def _resolve_resume(out: Path, given: RunConfig | None) -> RunConfig:
    """The run's own config, with the new total of epochs and jit choice `given` asks for; any
    other field of `given` that differs from the run's is an error, not silently ignored."""
    if not any(p.is_file() for p in _checkpoints(out)):
        raise KerasGenError(f"Cannot resume: {out} has no checkpoint yet. Start the run without --resume.")
    run = RunConfig.load(out)
    if given is None:
        return run
    differ = []
    for f in dataclasses.fields(RunConfig):
        value, recorded = getattr(given, f.name), getattr(run, f.name)
        if f.name in RESUME_MAY_CHANGE or value is None or value == recorded:
            continue
        if f.name != "options":
            differ.append(f"{f.name} (run: {recorded!r}, given: {value!r})")
        elif value:  # an empty dict is "no --set given"
            differ.append(f"--set options (run: {recorded!r}); options cannot change on resume")
    if differ:
        raise KerasGenError("--resume continues the run exactly as it was configured, but these differ: "
                            + "; ".join(differ) + ". Drop them, or start a new run in another --out.")
    return dataclasses.replace(run, epochs=given.epochs or run.epochs,
                               jit_compile=run.jit_compile if given.jit_compile is None else given.jit_compile)


def resolve_config(out, config: RunConfig | None = None, *, resume: bool = False) -> RunConfig:
    """The complete config the run in `out` will train with, checked, without training or writing
    anything: for a new run, `config` with every default filled in from the model and the data;
    on resume, the run's own config with `config`'s new epochs (and jit choice)."""
    out = Path(out)
    if config is not None:
        config.check()
    if resume:
        return _resolve_resume(out, config)
    if config is None:
        raise KerasGenError("A new run needs a RunConfig (at least the model name); pass resume=True to continue one.")
    return _resolve_new(out, config)


# -- training ---------------------------------------------------------------------------------
def _build_model(config: RunConfig) -> keras.Model:
    keras.utils.set_random_seed(config.seed)  # weight initialisation
    model = registry.build(config.model, image_size=config.image_size, channels=config.channels,
                           num_classes=config.num_classes, **config.options)
    model.compile(jit_compile=config.jit_compile)
    return model


def _dataset(config: RunConfig, data_kind: str, initial_epoch: int):
    from keras_gen.data import training_dataset

    # tf.data's shuffle order depends on the global seed as well as its own: set it the same way
    # in a fresh process resuming the run as in the process that started it.
    keras.utils.set_random_seed(config.seed)
    dataset = training_dataset(data_kind, config.data, config.data_b, image_size=config.image_size,
                               channels=config.channels, batch_size=config.batch_size, seed=config.seed,
                               data_dir=config.data_dir)
    return dataset.skip(initial_epoch * config.steps_per_epoch)  # the batches finished epochs consumed


def _preview_conditions(model, config: RunConfig) -> dict:
    """Fixed input images for the sample grids of a model whose request takes images (the first
    test images of its input domain); nothing for the others."""
    from keras_gen.data import preview_images

    specs = [s for s in model.request_specs() if s.kind == "image"]
    if not specs:
        return {}
    images = preview_images(model.data_kind, config.data, config.data_b, image_size=config.image_size,
                            channels=config.channels, n=PREVIEW_SAMPLES, seed=config.seed, data_dir=config.data_dir)
    return {s.name: to_uint8(images) if s.dtype == "uint8" else images for s in specs}


def _divergence_error(out: Path, stop: StopOnNonFinite) -> KerasGenError:
    what = f"Training diverged in epoch {stop.epoch + 1}: {stop.bad_logs}."
    advice = "a lower learning rate (e.g. --set learning_rate=1e-4 where the model has it) or another --seed"
    if not any(p.is_file() for p in _checkpoints(out)):
        return KerasGenError(f"{what} No epoch finished, so nothing was saved (no checkpoint in {out}). "
                             f"Train again (the same --out can be reused) with {advice}.")
    kept = _checkpoints(out)[0]
    return KerasGenError(f"{what} The last finite checkpoint, after epoch {_run_state(out)['epoch']}, is kept in "
                         f"{kept}. Resuming would diverge the same way (resume is exact): start a new run with "
                         f"{advice}.")


def train(out, config: RunConfig | None = None, *, resume: bool = False, callbacks=(),
          verbose: int | str = "auto") -> dict:
    """Train a new run in `out` (`config` says what), or with `resume`, continue the run there.

    Resume is exact: the checkpoint restores weights, optimizer slots and the model's RNG state,
    and the input pipeline skips the batches the finished epochs consumed, so a run stopped after
    epoch k and resumed ends where an uninterrupted run would. `callbacks` are added to the run's
    own (checkpoints, sample grids, TensorBoard, divergence checks). Returns a summary dict;
    its "warnings" list what `WatchLosses` found (each also issued as a TrainingWarning).
    """
    out = Path(out)
    config = resolve_config(out, config, resume=resume)
    for folder in (out, out / "checkpoints"):  # temporaries of killed runs
        remove_stale_temporaries(folder)
    if resume:
        model, checkpoint = _load_latest_checkpoint(out)
        initial_epoch = int(_run_state(out, checkpoint)["epoch"])
        if initial_epoch >= config.epochs:
            raise KerasGenError(f"{out} has already trained {initial_epoch} epochs (its total is {config.epochs}); "
                                "pass --epochs greater than that to continue.")
        if config.jit_compile != "auto":  # the loaded model compiled itself with "auto"
            model.jit_compile = config.jit_compile
    else:
        model, initial_epoch = _build_model(config), 0
    dataset = _dataset(config, registry.get(config.model).data_kind, initial_epoch)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", config.to_dict())

    log_dir = out / "logs"
    stop, watch = StopOnNonFinite(), WatchLosses()
    preview = _preview_conditions(model, config)
    run_callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(log_dir), update_freq="epoch", write_graph=False),
        SampleGrid(out / "samples", n=PREVIEW_SAMPLES, seed=config.seed, log_dir=log_dir, conditions=preview),
        RunCheckpoint(out), stop, watch, *callbacks,
    ]
    started = time.time()
    history = model.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch,
                        steps_per_epoch=config.steps_per_epoch, callbacks=run_callbacks, verbose=verbose,
                        shuffle=False)  # data is shuffled by tf.data
    seconds = time.time() - started
    if stop.bad_logs:
        raise _divergence_error(out, stop)

    samples_png = save_grid(to_uint8(model.sample(PREVIEW_SAMPLES, seed=config.seed, **preview)),
                            out / "samples.png")
    interpolation = latent_interpolation(model)
    interpolation_png = None if interpolation is None else save_grid(interpolation, out / "interpolation.png", ncols=8)
    return {
        "run": str(out), "model": config.model, "epochs": config.epochs, "initial_epoch": initial_epoch,
        "steps_per_epoch": config.steps_per_epoch, "seconds": round(seconds, 1),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "samples": str(samples_png), "interpolation": str(interpolation_png) if interpolation_png else None,
        "checkpoint": str(_checkpoints(out)[0]), "logs": str(log_dir), "warnings": list(watch.problems),
        "config": config.to_dict(),
    }
