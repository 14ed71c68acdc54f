"""Runs: train any registered model with `fit`, and resume it exactly.

A run directory holds everything about one training run (keras_gen/runs.py reads it back):

    RUN/config.json                 the RunConfig (model, options, data, sizes, seed, epochs, ...)
    RUN/state.json                  epochs finished and the last epoch's logs
    RUN/checkpoints/last.keras      the whole model: weights, every optimizer's slots, RNG state
    RUN/checkpoints/previous.keras  the checkpoint before it, the fallback if last.keras is damaged
    RUN/train.lock                  while a process trains the run (one at a time: keras_gen.run_lock)
    RUN/samples/epoch_NNNN.png      a grid of the same latents after every epoch
    RUN/logs/                       TensorBoard scalars and sample images
    RUN/samples.png, RUN/interpolation.png   written when training ends
    RUN/traversal.png, RUN/manifold.png      also, for a model with one Gaussian latent vector
                                    (keras_gen.pictures); the manifold only for a 2-D latent
    RUN/morph.png                   also, for a model with classes to morph (chairs): a row per class
    RUN/code_traversal.png          also, for a model with InfoGAN codes (keras_gen.pictures.code_traversal)

    from keras_gen.training import RunConfig, train
    train("runs/x", RunConfig("dcgan", data="digits", epochs=20, options={"base_filters": 32}))
    train("runs/x", resume=True)                            # on to the run's own 20 epochs
    train("runs/x", RunConfig("dcgan", epochs=40), resume=True)   # a new total

Evaluation during training is a callback (`keras_gen.callbacks.PeriodicEvaluation`) passed in
`callbacks`; this module does not know about metrics.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import keras

from keras_gen import __version__, registry
from keras_gen.callbacks import RunCheckpoint, SampleGrid, StopOnNonFinite, WatchLosses, latent_interpolation
from keras_gen.pictures import code_specs, code_traversal
from keras_gen.errors import KerasGenError
from keras_gen.core.fileio import remove_stale_temporaries, write_json_atomic
from keras_gen.images import save_grid, to_uint8
from keras_gen.run_lock import hold_run, refuse_if_held
from keras_gen.runs import RunConfig, checkpoints, load_latest_checkpoint, run_state

DEFAULT_DATA, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_SEED = "digits", 10, 64, 0
PREVIEW_SAMPLES = 64  # the grid written after every epoch and at the end
# What resume may change: how far to train and how to run it, never what is trained.
RESUME_MAY_CHANGE = ("epochs", "jit_compile", "keras_gen_version", "created")


# -- resolving what a run will do --------------------------------------------------------------
def _resolve_new(out: Path, given: RunConfig) -> RunConfig:
    from keras_gen.data import describe_training_data
    from keras_gen.data.common import check_channels, check_image_size
    from keras_gen.models.base import coerce_option, option_fields

    if any(p.is_file() for p in checkpoints(out)):
        raise KerasGenError(f"{out} already holds a run. Pass --resume to continue it, or choose another --out.")
    spec = registry.get(given.model)
    registry.check_option_names(spec, sorted(given.options))
    data = given.data or DEFAULT_DATA
    info = describe_training_data(spec.data_kind, data, given.data_b, data_dir=given.data_dir)
    batch_size = given.batch_size or DEFAULT_BATCH_SIZE
    seed = DEFAULT_SEED if given.seed is None else int(given.seed)
    fields = option_fields(spec.model_class.Options)  # config.json records the values the model is built with
    options = {key: coerce_option(fields[key], value) for key, value in given.options.items()}
    if "seed" in spec.defaults and "seed" not in options:
        options["seed"] = seed  # the model's own noise follows the run's seed
    if spec.data_kind == "indexed":  # one variable per train image: the table's size is the data's
        options["num_images"] = _indexed_size(options.get("num_images"), info.train_size, data)
    if spec.data_kind == "captioned":  # the words and example captions are the data's unless given
        from keras_gen.data.training_data import caption_facts

        vocabulary, examples = caption_facts(data)
        options.setdefault("vocabulary", " ".join(vocabulary))
        options.setdefault("examples", "; ".join(examples))
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


def _indexed_size(num_images, train_size: int, data) -> int:
    """The latent table's size for a model of the "indexed" data kind: the train split's size,
    which a given num_images (--set, or the run's own on resume) must equal."""
    if num_images not in (None, 0, "0") and int(num_images) != train_size:
        raise KerasGenError(f"--data {data!r} has {train_size} train images, but the model's latent table holds "
                            f"{int(num_images)} (one per image). A run's data cannot change size: start a new run "
                            "for this data (and drop --set num_images, training fills it in).")
    return int(train_size)


def _resolve_resume(out: Path, given: RunConfig | None) -> RunConfig:
    """The run's own config, with the new total of epochs and jit choice `given` asks for; any
    other field of `given` that differs from the run's is an error, not silently ignored."""
    if not any(p.is_file() for p in checkpoints(out)):
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
    refuse_if_held(out)  # another process training it now: say so, not "already holds a run"
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


def _dataset(config: RunConfig, model, initial_epoch: int):
    from keras_gen.data import training_dataset

    # tf.data's shuffle order depends on the global seed as well as its own: set it the same way
    # in a fresh process resuming the run as in the process that started it.
    keras.utils.set_random_seed(config.seed)
    dataset = training_dataset(model.data_kind, config.data, config.data_b, shapes=model.data_shapes(),
                               batch_size=config.batch_size, seed=config.seed, data_dir=config.data_dir,
                               text=model.text_spec())
    return dataset.skip(initial_epoch * config.steps_per_epoch)  # the batches finished epochs consumed


def _preview_examples(model, config: RunConfig):
    """The fixed test examples the model's per-epoch preview shows, when it wants any (a model
    whose request takes images), else None."""
    from keras_gen.data import preview_examples

    if not model.wants_preview_examples():
        return None
    return preview_examples(model.data_kind, config.data, config.data_b, shapes=model.data_shapes(),
                            n=PREVIEW_SAMPLES, seed=config.seed, data_dir=config.data_dir)


def _latent_pictures(model, config: RunConfig):
    """(traversal, manifold) LatentPictures of a model with one Gaussian latent vector, else
    None: the traversal's rows ranked by KL over the first test images when the model encodes."""
    from keras_gen.pictures import encoder_images, latent_manifold, latent_traversal, vector_latent

    latent = vector_latent(model)
    if latent is None:
        return None, None
    try:
        images, labels = encoder_images(model, config.to_dict())
    except KerasGenError:  # no test split to rank by: the first dimensions, not a failed run
        images = labels = None
    traversal = latent_traversal(model, images=images, labels=labels)
    return traversal, latent_manifold(model) if latent.shape[0] == 2 else None


def _divergence_error(out: Path, stop: StopOnNonFinite) -> KerasGenError:
    what = f"Training diverged in epoch {stop.epoch + 1}: {stop.describe()}."
    advice = "a lower learning rate (e.g. --set learning_rate=1e-4 where the model has it) or another --seed"
    if not any(p.is_file() for p in checkpoints(out)):
        return KerasGenError(f"{what} No epoch finished with finite weights, so nothing was saved (no checkpoint in "
                             f"{out}). Train again (the same --out can be reused) with {advice}.")
    kept = checkpoints(out)[0]
    return KerasGenError(f"{what} The last finite checkpoint, after epoch {run_state(out)['epoch']}, is kept in "
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
    One process trains a run at a time: another one training `out` now is a KerasGenError.
    """
    out = Path(out)
    with hold_run(out):  # resolved under the lock: a run finished meanwhile is not started again
        return _train(out, config, resume, callbacks, verbose)


def _train(out: Path, config: RunConfig | None, resume: bool, callbacks, verbose) -> dict:
    config = resolve_config(out, config, resume=resume)
    for folder in (out, out / "checkpoints"):  # temporaries of killed runs
        remove_stale_temporaries(folder)
    checkpoint = None
    if resume:
        model, checkpoint = load_latest_checkpoint(out)
        initial_epoch = int(run_state(out, checkpoint)["epoch"])
        if initial_epoch >= config.epochs:
            raise KerasGenError(f"{out} has already trained {initial_epoch} epochs (its total is {config.epochs}); "
                                "pass --epochs greater than that to continue.")
        if config.jit_compile != "auto":  # the loaded model compiled itself with "auto"
            model.jit_compile = config.jit_compile
    else:
        model, initial_epoch = _build_model(config), 0
    data_kind = registry.get(config.model).data_kind
    if data_kind == "indexed":  # the data may have changed under the run (a folder with more images)
        from keras_gen.data import describe_training_data

        info = describe_training_data(data_kind, config.data, data_dir=config.data_dir)
        _indexed_size(model.options.num_images, info.train_size, config.data)
    dataset = _dataset(config, model, initial_epoch)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", config.to_dict())

    log_dir = out / "logs"
    stop, watch = StopOnNonFinite(), WatchLosses()
    examples = _preview_examples(model, config)
    run_callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(log_dir), update_freq="epoch", write_graph=False),
        SampleGrid(out / "samples", n=PREVIEW_SAMPLES, seed=config.seed, log_dir=log_dir, examples=examples),
        # Resumed from previous.keras: last.keras is damaged, never to be rotated over the good one.
        RunCheckpoint(out, last_is_good=checkpoint != checkpoints(out)[1]), stop, watch, *callbacks,
    ]
    started = time.time()
    history = model.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch,
                        steps_per_epoch=config.steps_per_epoch, callbacks=run_callbacks, verbose=verbose,
                        shuffle=False)  # data is shuffled by tf.data
    seconds = time.time() - started
    if stop.stopped:
        raise _divergence_error(out, stop)

    with model.ema_weights():  # the weights an export carries
        preview, columns = model.preview(PREVIEW_SAMPLES, config.seed, examples)
        samples_png = save_grid(preview, out / "samples.png", ncols=columns)
        interpolation = latent_interpolation(model)
        traversal, manifold = _latent_pictures(model, config)
        # A class-conditional decoder's classes morphed into each other (models/latent/chairs.py).
        morph = to_uint8(model.morph_rows()) if callable(getattr(model, "morph_rows", None)) else None
        codes = code_traversal(model) if code_specs(model)[0] is not None else None
    morph_png = None if morph is None else save_grid(morph, out / "morph.png", ncols=len(morph) // model.num_classes)
    interpolation_png = None if interpolation is None else save_grid(interpolation, out / "interpolation.png", ncols=8)
    traversal_png = None if traversal is None else traversal.save(out / "traversal.png")
    manifold_png = None if manifold is None else manifold.save(out / "manifold.png")
    codes_png = None if codes is None else codes.save(out / "code_traversal.png")
    return {
        "run": str(out), "model": config.model, "epochs": config.epochs, "initial_epoch": initial_epoch,
        "steps_per_epoch": config.steps_per_epoch, "seconds": round(seconds, 1),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "samples": str(samples_png), "interpolation": str(interpolation_png) if interpolation_png else None,
        "traversal": str(traversal_png) if traversal_png else None,
        "manifold": str(manifold_png) if manifold_png else None,
        "morph": str(morph_png) if morph_png else None,
        "code_traversal": str(codes_png) if codes_png else None,
        "checkpoint": str(checkpoints(out)[0]), "logs": str(log_dir), "warnings": list(watch.problems),
        "config": config.to_dict(),
    }
