"""Side effects of training, kept out of `train_step`: sample grids, checkpoints, TensorBoard images.

Every callback works with any `GenerativeModel` that implements `sample(n, seed)` (latent
models get it from the base class), so a new family reuses them unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np

from keras_gen.core.fileio import atomic_path, write_json_atomic
from keras_gen.images import save_grid, to_uint8


def finite_logs(logs) -> bool:
    """Whether every logged value is finite: a diverged epoch writes no grid, score or checkpoint."""
    return all(np.isfinite(float(v)) for v in (logs or {}).values())


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, write the model's preview (`GenerativeModel.preview`: the same `n`
    samples of a fixed seed, or, for a model that takes images, its rows of input, output and
    target on fixed `examples`) as a PNG grid, plus an image summary to TensorBoard when
    `log_dir` is given, so the grids of successive epochs compare picture by picture.

    `last` is (epoch, images, columns) of the newest grid written, or None: the run's final
    `samples.png` is that grid when it is of the last epoch (the same weights and seed), so a
    diffusion model's sampling chain is not run twice at the end of training."""

    def __init__(self, out_dir, n: int = 64, seed: int = 0, log_dir=None, every: int = 1, examples=None):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.n, self.seed, self.every = n, seed, every
        self.examples = examples
        self.log_dir = log_dir
        self._writer = None
        self.last = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or not finite_logs(logs):
            return
        with self.model.ema_weights():  # what an export of this epoch would draw
            images, columns = self.model.preview(self.n, self.seed, self.examples)
        save_grid(images, self.out_dir / f"epoch_{epoch + 1:04d}.png", ncols=columns)
        self.last = (epoch + 1, images, columns)
        if self.log_dir is not None:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "samples"))
            with self._writer.as_default():
                tf.summary.image("samples", images[:16], step=epoch + 1, max_outputs=16)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


CHECKPOINT_STATE = "keras_gen_state.json"  # extra entry in the .keras zip; Keras ignores it


def read_checkpoint_state(path) -> dict | None:
    """The run state stored inside a checkpoint by RunCheckpoint, or None if it has none (or it
    is unreadable: a damaged file is for the loader to report)."""
    try:
        with zipfile.ZipFile(path) as archive:
            state = json.loads(archive.read(CHECKPOINT_STATE))
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("epoch"), int) else None


CHECKPOINT_NAMES = ("last.keras", "previous.keras")  # newest first: what load_run tries, in order


class RunCheckpoint(keras.callbacks.Callback):
    """Save the whole model (weights, every optimizer's variables, RNG state) as
    `checkpoints/last.keras` after each epoch, keeping the one before as `previous.keras`, with
    `state.json` recording the finished epoch count.

    The new file is written beside its final name; only when it is complete does the current
    `last.keras` become `previous.keras` (a hard link renamed into place, so `last.keras` never
    goes missing) and the new file replace it. An interrupted save never leaves a truncated
    checkpoint, and a checkpoint damaged later on disk still has a good predecessor.

    A damaged `last.keras` is never rotated over a good `previous.keras`: `last_is_good=False`
    says the run resumed from `previous.keras` because `last.keras` did not load, and a
    `last.keras` that fails its zip checksums is skipped too. The new checkpoint then replaces
    the damaged one and `previous.keras` keeps the good one until a newer good checkpoint exists.

    A checkpoint that cannot be written (a full disk, a folder that is not writable) stops the
    run with a KerasGenError saying so: it does not train on without one. Across the hosts of a
    multi-worker job every worker saves (the chief into the run, `chief=False` workers into a
    temporary folder: saving may read variables with collective operations), and one small
    all-reduce tells them all whether each save succeeded, so all stop together.
    """

    def __init__(self, run_dir, keep_every: int = 0, last_is_good: bool = True, chief: bool = True):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.keep_every = keep_every
        self.last_is_good = last_is_good
        self.chief = chief

    def on_epoch_end(self, epoch, logs=None):
        from keras_gen.distribute import all_workers_ok
        from keras_gen.errors import KerasGenError

        # A diverged epoch must not replace the last good checkpoint; the last batch can turn the
        # weights to NaN while the epoch's mean losses still look finite, so check both.
        if not finite_logs(logs) or not all(np.isfinite(v.numpy()).all() for v in self.model.trainable_variables):
            return
        ckpt_dir = self.run_dir / "checkpoints"
        state = {"epoch": epoch + 1, "logs": {k: float(v) for k, v in (logs or {}).items()}}
        failure = None
        try:
            self._save(ckpt_dir / CHECKPOINT_NAMES[0], state, keep_previous=True)
            if self.keep_every and (epoch + 1) % self.keep_every == 0:
                self._save(ckpt_dir / f"epoch_{epoch + 1:04d}.keras", state, keep_previous=False)
            write_json_atomic(self.run_dir / "state.json", state)  # for people and tools reading the run
        except OSError as err:
            failure = err
        if not all_workers_ok(self.model.distribute_strategy, failure is None):
            self.model.stop_training = True
            if failure is not None:
                where = failure.filename or ckpt_dir
                raise KerasGenError(
                    f"Cannot write the checkpoint of epoch {epoch + 1} to {where} ({failure.strerror or failure}); "
                    "training stopped rather than go on without one. Free space or fix the folder's permissions, "
                    "then resume with --resume" + (" (the last checkpoint written is kept)." if
                                                   (ckpt_dir / CHECKPOINT_NAMES[0]).is_file() else ".")) from None
            raise KerasGenError(f"Another worker of the job could not write its checkpoint of epoch {epoch + 1}; "
                                "this worker stops with it (the chief's error says why).")

    def _save(self, path: Path, state: dict, keep_previous: bool) -> None:
        with atomic_path(path) as tmp:
            self.model.save(tmp)
            # The epoch travels inside the checkpoint, so resume never trusts a stale state.json.
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(CHECKPOINT_STATE, json.dumps(state))
            if keep_previous and path.is_file() and self.last_is_good and checkpoint_intact(path):
                with atomic_path(path.with_name(CHECKPOINT_NAMES[1])) as previous:
                    _link_or_copy(path, previous)
        if keep_previous:
            self.last_is_good = True  # the file just written, complete


def checkpoint_intact(path) -> bool:
    """Whether a checkpoint file is a whole .keras archive: every member's checksum holds and
    Keras' config.json is there (a truncated or corrupted file fails; loading decides the rest)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None and "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links
        shutil.copyfile(source, target)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first batch whose logged losses are NaN or infinite (Keras' TerminateOnNaN
    only watches a single `loss`; GANs log one loss per network), or at the end of an epoch whose
    weights are (its last step can turn them NaN while the losses it logged were finite).
    `bad_logs` and `bad_weights` say what broke; `describe()` says it in words."""

    def __init__(self):
        super().__init__()
        self.bad_logs: dict = {}
        self.bad_weights: list[str] = []
        self.epoch = 0

    def describe(self) -> str:
        if self.bad_logs:
            return ", ".join(f"{k}={v}" for k, v in sorted(self.bad_logs.items()))
        shown = ", ".join(self.bad_weights[:3]) + (f" and {len(self.bad_weights) - 3} more"
                                                  if len(self.bad_weights) > 3 else "")
        return f"its losses were finite, but its last steps left non-finite weights ({shown})"

    @property
    def stopped(self) -> bool:
        return bool(self.bad_logs or self.bad_weights)

    def on_epoch_end(self, epoch, logs=None):
        if not self.stopped:
            self.bad_weights = _non_finite_weights(self.model)
            if self.bad_weights:
                self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not np.isfinite(float(v))}
        if bad and not self.bad_logs:
            self.bad_logs = bad
            self.model.stop_training = True


def _non_finite_weights(model) -> list[str]:
    """"generator conv2d/kernel", ...: each trained variable holding NaN or inf, named by the
    optimizer (sub-network) that trains it where the model says so."""
    groups = {name: model.variables_for(name) for name in getattr(model, "optimizers", None) or {}}
    seen, bad = set(), []
    for owner, variables in (groups or {"": model.trainable_variables}).items():
        for variable in variables:
            if id(variable) not in seen and not np.isfinite(np.asarray(variable)).all():
                bad.append(f"{owner} {variable.path}".strip())
            seen.add(id(variable))
    return bad


class TrainingWarning(UserWarning):
    """Training goes on but is probably not learning: exploding, stuck or collapsed losses."""


class WatchLosses(keras.callbacks.Callback):
    """Warn (a `TrainingWarning`) when an epoch's logged values show training has failed without
    turning NaN, for any model, from whatever `train_step` logs:

    - exploding: a finite value beyond `explode_at` in absolute value (a GAN whose discriminator
      won outright logs losses around 1e18);
    - stuck: a loss (a log whose name says "loss"; a logged constant such as a learning rate is
      no sign) that did not move over the epoch's batches (the logs are running means, so
      a loss that is exactly constant keeps them constant up to float32 rounding, while a
      learning model's means differ by about its batch-to-batch noise). A loss that is exactly
      0 at every batch is a term switched off by the model's options (cyclegan's identity loss
      at `identity_weight=0`, a weight of 0 on any term), not a stuck one: no computed loss of a
      learning model is exactly 0.0 batch after batch, and a game whose discriminator wins
      outright is the collapse check's;
    - collapsed: the discriminator's mean scores `d_real` -> 1 and `d_fake` -> 0 over the whole
      epoch (logged by adversarial models: D tells every sample apart and G gets no gradient).

    Each problem is warned about once, at the first epoch it appears; `problems` lists the messages.
    """

    def __init__(self, explode_at: float = 1e6, collapse_margin: float = 0.01, min_batches: int = 3):
        super().__init__()
        self.explode_at, self.collapse_margin, self.min_batches = explode_at, collapse_margin, min_batches
        self.problems: list[str] = []
        self._seen: set = set()
        self._batch_logs: dict[str, list[float]] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._batch_logs = {}

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            self._batch_logs.setdefault(key, []).append(float(value))

    def on_epoch_end(self, epoch, logs=None):
        series = {k: np.asarray(v, np.float64) for k, v in self._batch_logs.items()}
        if not series or not all(np.isfinite(v).all() for v in series.values()):
            return  # NaN and inf are StopOnNonFinite's to report
        exploded = {k: v[-1] for k, v in series.items() if np.abs(v).max() > self.explode_at}
        if exploded:
            self._warn("explode", epoch, f"logged values exploded past {self.explode_at:g} in absolute value ("
                       + ", ".join(f"{k}={v:.3g}" for k, v in sorted(exploded.items())) + ")")
        stuck = sorted(k for k, v in series.items() if "loss" in k and len(v) >= self.min_batches
                       and np.any(v != 0.0)  # all 0: switched off by configuration
                       and v.max() - v.min() <= 1e-4 * max(np.abs(v).max(), 1e-30))
        if stuck:
            self._warn("stuck", epoch, "losses did not change over the epoch's batches ("
                       + ", ".join(f"{k}={series[k][-1]:.6g}" for k in stuck) + ")")
        real, fake = series.get("d_real"), series.get("d_fake")
        if real is not None and fake is not None and real[-1] > 1 - self.collapse_margin \
                and fake[-1] < self.collapse_margin:
            self._warn("collapse", epoch, f"the discriminator collapsed: mean d_real={real[-1]:.4f} and "
                       f"d_fake={fake[-1]:.4f} over the epoch, so the generator gets no gradient")

    def _warn(self, kind: str, epoch: int, what: str) -> None:
        if kind in self._seen:
            return
        self._seen.add(kind)
        logged = ", ".join(sorted(self._batch_logs))
        message = (f"epoch {epoch + 1}: {what}; training is probably not learning (looked at: {logged}). "
                   "Try a lower learning rate (--set learning_rate=...) or another --seed.")
        self.problems.append(message)
        warnings.warn(message, TrainingWarning, stacklevel=2)


def latent_interpolation(model, seeds=(0, 1, 2, 3, 4, 5, 6, 7), steps: int = 8) -> np.ndarray | None:
    """Rows of images along spherical interpolations between pairs of latents (White 2016,
    "Sampling Generative Networks": slerp stays on the Gaussian shell where lerp cuts inside).
    Returns uint8 (rows * steps, H, W, C); row r goes from seed[2r] to seed[2r + 1], with the
    other inputs at their defaults (a class-conditional model keeps class r along row r).
    None for models with no vector latent or that sample in a loop."""
    from keras_gen.core.inputs import resolve_inputs
    from keras_gen.core.latents import gaussian_latents, slerp

    specs = model.request_specs()
    latent = next((s for s in specs if s.kind == "latent" and len(s.shape) == 1), None)
    if latent is None or model.sampler() is not None:
        return None
    rows = []
    for a, b in zip(seeds[0::2], seeds[1::2]):
        za, zb = gaussian_latents(1, latent.shape[0], a)[0], gaussian_latents(1, latent.shape[0], b)[0]
        rows.append(slerp(za, zb, np.linspace(0.0, 1.0, steps)))
    conditions = {latent.name: np.concatenate(rows)}
    conditions.update({s.name: np.repeat(np.arange(len(rows)) % s.num_classes, steps)
                       for s in specs if s.kind == "label"})
    # Every other random input (an InfoGAN code) holds one draw along a row: only z moves.
    per_row = resolve_inputs(specs, len(rows), 0)
    conditions.update({s.name: np.repeat(per_row[s.name], steps, axis=0) for s in specs if s.kind == "code"})
    values = resolve_inputs(specs, len(rows) * steps, 0, conditions)
    return to_uint8(np.asarray(model.generate(**values)))


class PeriodicEvaluation(keras.callbacks.Callback):
    """Every `every` epochs, score `n` samples with a `keras_gen.evaluation.Evaluator` and log
    each figure (and its real-vs-real floor, once) to TensorBoard under `eval/`; the figures
    also enter the epoch's logs, so `History` and later callbacks see them."""

    def __init__(self, evaluator, every: int = 5, n: int = 500, metrics=("fid", "kid"), seed: int = 1,
                 log_dir=None):
        super().__init__()
        self.evaluator, self.every, self.n, self.metrics, self.seed = evaluator, every, n, tuple(metrics), seed
        self.log_dir = log_dir
        self._writer = None
        self.results: list[tuple[int, dict]] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or not finite_logs(logs):
            return
        with self.model.ema_weights():  # scored as it would be exported
            report = self.evaluator.evaluate_model(self.model, self.metrics, n=self.n, seed=self.seed)
        scalars = {f"eval/{name}": r["generated"] for name, r in report["metrics"].items()}
        scalars.update({f"eval/{name}_floor": r["floor"] for name, r in report["metrics"].items()})
        self.results.append((epoch + 1, scalars))
        if logs is not None:
            logs.update({k.replace("/", "_"): v for k, v in scalars.items()})
        if self.log_dir is not None:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "eval"))
            with self._writer.as_default():
                for key, value in scalars.items():
                    tf.summary.scalar(key, value, step=epoch + 1)
            self._writer.flush()
