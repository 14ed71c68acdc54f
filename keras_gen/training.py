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
    train("runs/x", RunConfig("dcgan", strategy="mirrored", precision="mixed_bfloat16"), resume="auto")

At scale (keras_gen.distribute): `strategy` runs the same training on one device, every local GPU
(mirrored) or several hosts (multiworker, TF_CONFIG); `batch_size` is the global batch, and a
step does not depend on the number of replicas, so a run moves between them at a resume. Only
the chief writes the run folder and holds its lock; `resume="auto"` starts the run or resumes it,
what a restarted cluster job runs. `precision` is Keras' dtype policy (float16 with loss
scaling); the checkpoint's variables are float32 whatever it is.

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
DEFAULT_STRATEGY, DEFAULT_PRECISION, DEFAULT_BATCH_NORM = "default", "float32", "sync"
PREVIEW_SAMPLES = 64  # the grid written after every epoch and at the end
# What resume may change: how far to train and how to run it (on how many devices), never what
# is trained. The precision stays: a float16 run's checkpoints hold its loss scaling.
RESUME_MAY_CHANGE = ("epochs", "jit_compile", "strategy", "batch_norm", "replicas", "keras_gen_version", "created")


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
        strategy=given.strategy or DEFAULT_STRATEGY, precision=given.precision or DEFAULT_PRECISION,
        batch_norm=given.batch_norm or DEFAULT_BATCH_NORM,
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
        elif _changed_options(run, value):  # the run's own values (the command that started it) are fine
            differ.append(f"--set options (run: {recorded!r}); options cannot change on resume")
    if differ:
        raise KerasGenError("--resume continues the run exactly as it was configured, but these differ: "
                            + "; ".join(differ) + ". Drop them, or start a new run in another --out.")
    return dataclasses.replace(run, epochs=given.epochs or run.epochs,
                               jit_compile=run.jit_compile if given.jit_compile is None else given.jit_compile,
                               strategy=given.strategy or run.strategy, batch_norm=given.batch_norm or run.batch_norm)


def _changed_options(run: RunConfig, given: dict) -> bool:
    """Whether `given` (--set options, typed) sets an option to another value than the run has: the
    command that started the run, run again (--auto-resume in a restarted job), changes none."""
    from keras_gen.models.base import coerce_option, option_fields

    fields = option_fields(registry.get(run.model).model_class.Options)
    for key, value in given.items():
        if key not in fields or key not in run.options or coerce_option(fields[key], value) != run.options[key]:
            return True
    return False


def resumes(out, resume) -> bool:
    """Whether training `out` continues a run: `resume` True or False, or "auto": when `out`
    holds a checkpoint (a restarted cluster job runs the command that started it)."""
    if resume == "auto":
        return any(p.is_file() for p in checkpoints(Path(out)))
    return bool(resume)


def resolve_config(out, config: RunConfig | None = None, *, resume: bool | str = False,
                   chief: bool = True) -> RunConfig:
    """The complete config the run in `out` will train with, checked, without training or writing
    anything: for a new run, `config` with every default filled in from the model and the data;
    on resume, the run's own config with `config`'s new epochs (and jit choice, strategy and
    batch-norm statistics). `resume="auto"` resumes where `out` holds a checkpoint. A worker
    that is not the chief of a multi-worker job (`chief=False`) reads the run the chief holds."""
    out = Path(out)
    if chief:
        refuse_if_held(out)  # another process training it now: say so, not "already holds a run"
    if config is not None:
        config.check()
    if resumes(out, resume):
        return _resolve_resume(out, config)
    if config is None:
        raise KerasGenError("A new run needs a RunConfig (at least the model name); pass resume=True to continue one.")
    return _resolve_new(out, config)


# -- training ---------------------------------------------------------------------------------
def _build_model(config: RunConfig) -> keras.Model:
    keras.utils.set_random_seed(config.seed)  # weight initialisation
    model = registry.build(config.model, image_size=config.image_size, channels=config.channels,
                           num_classes=config.num_classes, **config.options)
    model.compile()
    return model


def _dataset(config: RunConfig, model, initial_epoch: int, strategy=None, workers: int = 1):
    import tensorflow as tf

    from keras_gen.data import training_dataset
    from keras_gen.data.shards import is_shards, read_index

    def build(_=None):
        # tf.data's shuffle order depends on the global seed as well as its own: set it the same
        # way in a fresh process resuming the run as in the process that started it.
        keras.utils.set_random_seed(config.seed)
        return training_dataset(model.data_kind, config.data, config.data_b, shapes=model.data_shapes(),
                                batch_size=config.batch_size, seed=config.seed, data_dir=config.data_dir,
                                degradation=model.degradation(), text=model.text_spec())

    # TFRecord shards across hosts: each worker reads its own files (tf.data's FILE auto-shard),
    # not every file for a share of each batch; it needs at least one file a worker.
    by_file = (workers > 1 and config.data is not None and is_shards(config.data)
               and len(read_index(config.data)["splits"]["train"]["files"]) >= workers)
    if strategy is None or strategy is tf.distribute.get_strategy() or by_file:
        dataset = build()
    else:
        # Under a strategy, Keras' fit opens one iterator on the data before training (to build
        # the model from a batch) and trains on a second; a shuffle reshuffled each iteration
        # would give that second iterator another order than one device sees. Built inside
        # flat_map, the pipeline is made afresh for each iterator: every one starts at the order
        # of the first, so the data does not depend on the strategy.
        dataset = tf.data.Dataset.range(1).flat_map(build)
    dataset = dataset.skip(initial_epoch * config.steps_per_epoch)  # the batches finished epochs consumed
    # Across hosts every worker reads the pipeline and keeps its replicas' share of each global
    # batch (rows in order, as on one device: the run equals one process's), unless it reads
    # shards by file (each worker's own examples: faster on large sets, in another order).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (tf.data.experimental.AutoShardPolicy.FILE if by_file
                                                         else tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)


def _preview_examples(model, config: RunConfig):
    """The fixed test examples the model's per-epoch preview shows, when it wants any (a model
    whose request takes images), else None."""
    from keras_gen.data import preview_examples

    if not model.wants_preview_examples():
        return None
    return preview_examples(model.data_kind, config.data, config.data_b, shapes=model.data_shapes(),
                            n=PREVIEW_SAMPLES, seed=config.seed, data_dir=config.data_dir,
                            degradation=model.degradation())


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


def _lost_a_worker(err: Exception) -> bool:
    """Whether `err` is TensorFlow saying a peer of the job went away (its heartbeats stopped, a
    collective was aborted): what the workers left behind see when one is killed or preempted."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
            tf.errors.DeadlineExceededError)
    return isinstance(err, lost) or (isinstance(err, tf.errors.OpError) and "Collective ops is aborted" in str(err))


def _lost_worker_error(out: Path, err: Exception) -> KerasGenError:
    detail = next((line.strip() for line in str(err).splitlines() if "unhealthy" in line or "aborted" in line.lower()),
                  type(err).__name__)
    done = run_state(out)["epoch"] if any(p.is_file() for p in checkpoints(out)) else 0
    return KerasGenError(f"A worker of the job was lost ({detail[:200]}); this worker stops too. Restart the job "
                         f"(a TFJob restarts its pods): --auto-resume goes on from the run's last checkpoint, after "
                         f"epoch {done}, exactly as if it had not stopped.")


def train(out, config: RunConfig | None = None, *, resume: bool | str = False, callbacks=(),
          verbose: int | str = "auto", strategy=None) -> dict:
    """Train a new run in `out` (`config` says what), or with `resume`, continue the run there
    (`resume="auto"`: continue it if `out` holds a checkpoint, else start it).

    Resume is exact: the checkpoint restores weights, optimizer slots and the model's RNG state,
    and the input pipeline skips the batches the finished epochs consumed, so a run stopped after
    epoch k and resumed ends where an uninterrupted run would. `callbacks` are added to the run's
    own (checkpoints, sample grids, TensorBoard, divergence checks). Returns a summary dict;
    its "warnings" list what `WatchLosses` found (each also issued as a TrainingWarning).
    One process trains a run at a time: another one training `out` now is a KerasGenError.

    `strategy`: a tf.distribute strategy made by the caller (keras_gen.distribute.make_strategy),
    else the one `config.strategy` (or the run's own, on resume) names, made first thing: a
    multi-worker strategy must exist before TensorFlow runs anything else in the process.
    """
    from keras_gen.distribute import make_strategy, worker_role

    out = Path(out)
    if strategy is None:
        strategy = make_strategy(strategy_name(out, config, resume))
    role = worker_role(strategy)
    try:
        if not role.chief:  # the chief holds the run; this worker writes a temporary folder
            return _train(out, config, resume, callbacks, verbose, strategy, role)
        with hold_run(out):  # resolved under the lock: a run finished meanwhile is not started again
            return _train(out, config, resume, callbacks, verbose, strategy, role)
    finally:
        role.close()


def strategy_name(out: Path, config: RunConfig | None, resume) -> str:
    """The strategy a session asks for: `config`'s, else on resume the run's own, else "default"."""
    if config is not None and config.strategy:
        return config.strategy
    if resumes(out, resume) and (out / "config.json").is_file():
        try:
            return RunConfig.load(out).strategy or DEFAULT_STRATEGY
        except KerasGenError:
            pass  # resolving the run says what is wrong with it
    return DEFAULT_STRATEGY


def _train(out: Path, config: RunConfig | None, resume, callbacks, verbose, strategy, role) -> dict:
    from keras_gen.distribute import agree_across_workers, precision_policy, sync_batch_norm
    from keras_gen.xla import decide

    config = resolve_config(out, config, resume=resume, chief=role.chief)
    resume = resumes(out, resume)
    replicas = int(strategy.num_replicas_in_sync)
    if config.batch_size % replicas:
        raise KerasGenError(f"--batch-size {config.batch_size} (the global batch) does not split evenly over "
                            f"{replicas} replicas; pass a multiple of {replicas}.")
    config = dataclasses.replace(config, strategy=config.strategy or DEFAULT_STRATEGY, replicas=replicas)
    if role.chief:
        for folder in (out, out / "checkpoints"):  # temporaries of killed runs
            remove_stale_temporaries(folder)
    checkpoint = None
    with precision_policy(config.precision or DEFAULT_PRECISION), strategy.scope():
        if resume:
            model, checkpoint = load_latest_checkpoint(out)
            initial_epoch = int(run_state(out, checkpoint)["epoch"])
            if initial_epoch >= config.epochs:
                raise KerasGenError(f"{out} has already trained {initial_epoch} epochs (its total is "
                                    f"{config.epochs}); pass --epochs greater than that to continue.")
        else:
            model, initial_epoch = _build_model(config), 0
    agree_across_workers(strategy, initial_epoch, f"the epochs finished in {out}")
    if replicas > 1:  # statistics over the global batch, as on one device, unless asked otherwise
        sync_batch_norm(model, config.batch_norm != "local")
    model.jit_compile, jit_reason = decide(config.model, config.jit_compile)
    data_kind = registry.get(config.model).data_kind
    if data_kind == "indexed":  # the data may have changed under the run (a folder with more images)
        from keras_gen.data import describe_training_data

        info = describe_training_data(data_kind, config.data, data_dir=config.data_dir)
        _indexed_size(model.options.num_images, info.train_size, config.data)
    model.plan_training(config.epochs * config.steps_per_epoch)  # a schedule over the whole run keeps it
    dataset = _dataset(config, model, initial_epoch, strategy, role.workers)
    writes = role.write_dir(out)  # the run folder; a temporary one on a worker that is not the chief
    writes.mkdir(parents=True, exist_ok=True)
    if role.chief:
        write_json_atomic(out / "config.json", config.to_dict())

    log_dir = writes / "logs"
    stop, watch = StopOnNonFinite(), WatchLosses()
    examples = _preview_examples(model, config)
    grids = SampleGrid(writes / "samples", n=PREVIEW_SAMPLES, seed=config.seed, log_dir=log_dir, examples=examples)
    run_callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(log_dir), update_freq="epoch", write_graph=False), grids,
        # Resumed from previous.keras: last.keras is damaged, never to be rotated over the good one.
        RunCheckpoint(writes, last_is_good=checkpoint != checkpoints(out)[1] or not role.chief, chief=role.chief),
        stop, watch, *callbacks,
    ]
    started = time.time()
    try:
        history = model.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch,
                            steps_per_epoch=config.steps_per_epoch, callbacks=run_callbacks, verbose=verbose,
                            shuffle=False)  # data is shuffled by tf.data
    except Exception as err:
        if role.workers > 1 and _lost_a_worker(err):
            raise _lost_worker_error(out, err) from None
        raise
    seconds = time.time() - started
    if stop.stopped:
        raise _divergence_error(out, stop)
    scale = {"strategy": config.strategy, "replicas": replicas, "workers": role.workers,
             "worker": role.describe(), "precision": config.precision, "jit_compile": bool(model.jit_compile),
             "jit_compile_reason": jit_reason}
    if not role.chief:  # the run's pictures and files are the chief's to write
        return {"run": str(out), "model": config.model, "epochs": config.epochs, "initial_epoch": initial_epoch,
                "steps_per_epoch": config.steps_per_epoch, "seconds": round(seconds, 1),
                "history": {k: [float(x) for x in v] for k, v in history.history.items()},
                "warnings": list(watch.problems), "config": config.to_dict(), **scale}

    with model.ema_weights():  # the weights an export carries
        if grids.last is not None and grids.last[0] == config.epochs:  # the last epoch's grid: the same weights
            _, preview, columns = grids.last
        else:
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
        "config": config.to_dict(), **scale,
    }
