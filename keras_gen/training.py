"""Runs: train any registered model with `fit`, resume it, and load it back.

A run directory holds everything about one training run:

    RUN/config.json             model name, options, data, image size, seed, batch size
    RUN/state.json              epochs finished and the last epoch's logs
    RUN/checkpoints/last.keras  the whole model: weights, every optimizer's slots, RNG state
    RUN/samples/epoch_NNNN.png  a grid of the same latents after every epoch
    RUN/logs/                   TensorBoard scalars and sample images
    RUN/samples.png, RUN/interpolation.png   written when training ends
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import keras

from keras_gen import __version__
from keras_gen.callbacks import (RunCheckpoint, SampleGrid, StopOnNonFinite, latent_interpolation,
                                 read_checkpoint_state)
from keras_gen.fileio import write_json_atomic
from keras_gen.errors import KerasGenError
from keras_gen.images import save_grid, to_uint8
from keras_gen import registry


def _checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / "last.keras"


def load_checkpoint(path) -> keras.Model:
    """Load a `.keras` checkpoint safely (no code runs), treating a skipped optimizer as an error:
    Keras only warns when optimizer variables fail to load, and a resume from such a
    checkpoint silently restarts Adam's moments."""
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
    for w in caught:
        text = str(w.message)
        if "Skipping variable loading for optimizer" in text:
            raise KerasGenError(f"Checkpoint {path} did not restore its optimizer state: {text}")
    return model


def load_run(run_dir) -> tuple[keras.Model, dict]:
    """The trained model of a run and its config."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise KerasGenError(
            f"{run_dir} is not a training run (no config.json). Pass the --out folder of `keras-gen train`."
        )
    config = json.loads(config_path.read_text())
    return load_checkpoint(_checkpoint_path(run_dir)), config


def run_summary(run_dir) -> dict:
    run_dir = Path(run_dir)
    state_path = run_dir / "state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"epoch": 0}
    config = json.loads((run_dir / "config.json").read_text())
    return {**config, "epochs_done": state["epoch"],
            "train_steps": state["epoch"] * config["steps_per_epoch"], "last_logs": state.get("logs", {})}


def _check_resume_flags(config: dict, **given) -> None:
    """A resumed run continues as configured; a flag that asks for something else is an error,
    not silently ignored."""
    differ = [f"{key} (run: {config[key]!r}, given: {value!r})" for key, value in given.items()
              if value is not None and key != "options" and value != config.get(key)]
    if given.get("options") is not None:
        differ.append(f"--set options (run: {config['options']!r}); options cannot change on resume")
    if differ:
        raise KerasGenError("--resume continues the run exactly as it was configured, but these differ: "
                            + "; ".join(differ) + ". Drop them, or start a new run in another --out.")


def _epochs_done(run_dir: Path) -> int:
    """Epochs the checkpoint holds, from the state stored inside the checkpoint file itself
    (written with it, atomically): a stop between saving the checkpoint and state.json must not
    make resume retrain an epoch or skip the wrong batches."""
    state_path = run_dir / "state.json"
    recorded = json.loads(state_path.read_text())["epoch"] if state_path.is_file() else None
    state = read_checkpoint_state(_checkpoint_path(run_dir))
    if state is None:  # a checkpoint written by other code: trust state.json
        if recorded is None:
            raise KerasGenError(f"{run_dir} records no finished epochs (no state.json); start a new run.")
        return int(recorded)
    if recorded is not None and recorded != state["epoch"]:
        warnings.warn(f"state.json says {recorded} epochs but the checkpoint holds {state['epoch']}; "
                      f"resuming after epoch {state['epoch']}.")
    return int(state["epoch"])


def train(
    model_name: str,
    data: str | None,
    out,
    image_size: int | None = None,
    epochs: int = 10,
    steps_per_epoch: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    options: list[str] | dict | None = None,
    resume: bool = False,
    data_dir: str | None = None,
    jit_compile: bool | str = "auto",
    verbose: int | str = "auto",
    extra_callbacks: list | None = None,
    eval_every: int = 0,
    eval_metrics: str = "fid,kid",
    eval_n: int = 500,
) -> dict:
    """Train (or with `resume`, continue) a registered model on a data source; return a summary.

    Resume is exact: the checkpoint restores weights, optimizer slots and the model's RNG state,
    and the input pipeline skips the batches the finished epochs consumed, so a run stopped after
    epoch k and resumed ends where an uninterrupted run would.
    """
    from keras_gen.data import describe, load_dataset

    out = Path(out)
    for flag, value in (("--epochs", epochs), ("--batch-size", batch_size), ("--steps-per-epoch", steps_per_epoch),
                        ("--eval-n", eval_n)):
        if value is not None and int(value) < 1:
            raise KerasGenError(f"{flag} must be at least 1, got {value}.")
    if eval_every < 0:
        raise KerasGenError(f"--eval-every must be 0 (off) or a number of epochs, got {eval_every}.")
    if seed is not None and not 0 <= int(seed) < 2**32:
        raise KerasGenError(f"--seed must be between 0 and 2**32 - 1, got {seed}.")
    # A folder counts as a run once it holds a checkpoint: a start that failed before its first
    # epoch (bad data, wrong size) leaves nothing that blocks trying again.
    has_checkpoint = _checkpoint_path(out).is_file()
    if resume:
        if not has_checkpoint:
            raise KerasGenError(f"Cannot resume: {out} has no checkpoint yet. Start the run without --resume.")
        config = json.loads((out / "config.json").read_text())
        _check_resume_flags(config, model=model_name, data=data, image_size=image_size, batch_size=batch_size,
                            seed=seed, steps_per_epoch=steps_per_epoch, options=options or None)
        model = load_checkpoint(_checkpoint_path(out))
        initial_epoch = _epochs_done(out)
        if initial_epoch >= epochs:
            raise KerasGenError(
                f"{out} has already trained {initial_epoch} epochs; pass --epochs greater than that to continue."
            )
        config["epochs"] = epochs
    else:
        if has_checkpoint:
            raise KerasGenError(f"{out} already holds a run. Pass --resume to continue it, or choose another --out.")
        data = data or "digits"
        batch_size = 64 if batch_size is None else batch_size
        seed = 0 if seed is None else seed
        spec = registry.get(model_name)
        opts = dict(options) if isinstance(options, dict) else registry.parse_options(spec, options)
        info = describe(data, data_dir=data_dir)
        image_size = int(image_size or info.default_image_size)
        steps_per_epoch = int(steps_per_epoch or max(1, info.split_sizes["train"] // batch_size))
        keras.utils.set_random_seed(seed)  # weight initialisation
        if "seed" in spec.defaults and "seed" not in opts:
            opts["seed"] = seed
        model = registry.build(model_name, image_size=image_size, channels=info.channels,
                               num_classes=info.num_classes, **opts)
        model.compile(jit_compile=jit_compile)
        config = {
            "model": model_name, "options": opts, "data": data, "data_dir": data_dir,
            "image_size": image_size, "channels": info.channels, "num_classes": info.num_classes,
            "batch_size": batch_size, "seed": seed, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
            "keras_gen_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        initial_epoch = 0

    steps = config["steps_per_epoch"]
    # tf.data's shuffle order depends on the global seed as well as its own: set it the same way
    # in a fresh process resuming the run as in the process that started it.
    keras.utils.set_random_seed(config["seed"])
    dataset = load_dataset(
        config["data"], split="train", image_size=config["image_size"], channels=config["channels"],
        batch_size=config["batch_size"], shuffle=True, seed=config["seed"], repeat=True,
        drop_remainder=True, data_dir=config["data_dir"],
    )
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", config)
    if initial_epoch:
        dataset = dataset.skip(initial_epoch * steps)  # the batches the finished epochs consumed

    log_dir = out / "logs"
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(log_dir), update_freq="epoch", write_graph=False),
        SampleGrid(out / "samples", n=64, seed=config["seed"], log_dir=log_dir),
        RunCheckpoint(out),
        StopOnNonFinite(),
        *(extra_callbacks or []),
    ]
    if eval_every:
        from keras_gen.callbacks import PeriodicEvaluation
        from keras_gen.evaluation import Evaluator, parse_metrics

        evaluator = Evaluator(config["data"], image_size=config["image_size"], channels=config["channels"],
                              n_real=eval_n, seed=config["seed"], data_dir=config["data_dir"])
        evaluator.check_sample_count(eval_n, parse_metrics(eval_metrics))  # before fit, not at epoch N
        callbacks.append(PeriodicEvaluation(evaluator, every=eval_every, n=eval_n, metrics=parse_metrics(eval_metrics),
                                            log_dir=log_dir))
    started = time.time()
    history = model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
                        callbacks=callbacks, verbose=verbose, shuffle=False)  # data is shuffled by tf.data
    seconds = time.time() - started
    diverged = next((c for c in callbacks if isinstance(c, StopOnNonFinite) and c.bad_logs), None)
    if diverged:
        raise KerasGenError(
            f"Training diverged in epoch {diverged.epoch + 1}: {diverged.bad_logs}. The last finite checkpoint "
            f"is kept in {_checkpoint_path(out)}. Resuming would diverge the same way (resume is exact): start a new "
            "run with a lower learning rate (e.g. --set learning_rate=1e-4 where the model has it) or another --seed."
        )

    samples_png = save_grid(to_uint8(model.sample(64, seed=config["seed"])), out / "samples.png")
    interpolation_png = None
    if getattr(model, "latent_dim", None):
        interpolation_png = save_grid(latent_interpolation(model), out / "interpolation.png", ncols=8)
    return {
        "run": str(out), "model": config["model"], "epochs": epochs, "initial_epoch": initial_epoch,
        "steps_per_epoch": steps, "seconds": round(seconds, 1),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "samples": str(samples_png), "interpolation": str(interpolation_png) if interpolation_png else None,
        "checkpoint": str(_checkpoint_path(out)), "logs": str(log_dir),
    }
