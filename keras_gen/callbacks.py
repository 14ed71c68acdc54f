"""Side effects of training, kept out of `train_step`: sample grids, checkpoints, TensorBoard images.

Every callback works with any `GenerativeModel` that implements `sample(n, seed)` (latent
models get it from the base class), so a new family reuses them unchanged.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np

from keras_gen.fileio import atomic_path, write_json_atomic
from keras_gen.images import save_grid, to_uint8


def finite_logs(logs) -> bool:
    """Whether every logged value is finite: a diverged epoch writes no grid, score or checkpoint."""
    return all(np.isfinite(float(v)) for v in (logs or {}).values())


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, draw the same `n` samples (fixed seed) and write a PNG grid, plus an
    image summary to TensorBoard when `log_dir` is given. A fixed seed makes the grids of
    successive epochs comparable picture by picture."""

    def __init__(self, out_dir, n: int = 64, seed: int = 0, log_dir=None, every: int = 1):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.n, self.seed, self.every = n, seed, every
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or not finite_logs(logs):
            return
        images = to_uint8(self.model.sample(self.n, seed=self.seed))
        save_grid(images, self.out_dir / f"epoch_{epoch + 1:04d}.png")
        if self.log_dir is not None:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "samples"))
            with self._writer.as_default():
                tf.summary.image("samples", images[: min(16, self.n)], step=epoch + 1, max_outputs=16)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


CHECKPOINT_STATE = "keras_gen_state.json"  # extra entry in the .keras zip; Keras ignores it


def read_checkpoint_state(path) -> dict | None:
    """The run state stored inside a checkpoint by RunCheckpoint, or None if it has none."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(CHECKPOINT_STATE))
    except (KeyError, zipfile.BadZipFile, OSError):
        return None


class RunCheckpoint(keras.callbacks.Callback):
    """Save the whole model (weights, every optimizer's variables, RNG state) as
    `last.keras` after each epoch, with `state.json` recording the finished epoch count.

    The file is written beside its final name and renamed into place, so an interrupted save
    never leaves a truncated checkpoint for `--resume` to choke on.
    """

    def __init__(self, run_dir, keep_every: int = 0):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.keep_every = keep_every

    def on_epoch_end(self, epoch, logs=None):
        # A diverged epoch must not replace the last good checkpoint; the last batch can turn the
        # weights to NaN while the epoch's mean losses still look finite, so check both.
        if not finite_logs(logs) or not all(np.isfinite(v.numpy()).all() for v in self.model.trainable_variables):
            return
        ckpt_dir = self.run_dir / "checkpoints"
        state = {"epoch": epoch + 1, "logs": {k: float(v) for k, v in (logs or {}).items()}}
        names = ["last.keras"] + ([f"epoch_{epoch + 1:04d}.keras"] if self.keep_every
                                  and (epoch + 1) % self.keep_every == 0 else [])
        for name in names:
            with atomic_path(ckpt_dir / name) as tmp:
                self.model.save(tmp)
                # The epoch travels inside the checkpoint, so resume never trusts a stale state.json.
                with zipfile.ZipFile(tmp, "a") as archive:
                    archive.writestr(CHECKPOINT_STATE, json.dumps(state))
        write_json_atomic(self.run_dir / "state.json", state)  # for people and tools reading the run


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first batch whose logged losses are NaN or infinite (Keras' TerminateOnNaN
    only watches a single `loss`; GANs log one loss per network). `bad_logs` says what broke."""

    def __init__(self):
        super().__init__()
        self.bad_logs: dict = {}
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not np.isfinite(float(v))}
        if bad and not self.bad_logs:
            self.bad_logs = bad
            self.model.stop_training = True


def latent_interpolation(model, seeds=(0, 1, 2, 3, 4, 5, 6, 7), steps: int = 8) -> np.ndarray:
    """Rows of images along spherical interpolations between pairs of latents (White 2016,
    "Sampling Generative Networks": slerp stays on the Gaussian shell where lerp cuts inside).
    Returns uint8 (rows * steps, H, W, C); row r goes from seed[2r] to seed[2r + 1]."""
    from keras_gen.latents import gaussian_latents

    rows = []
    for a, b in zip(seeds[0::2], seeds[1::2]):
        za, zb = gaussian_latents(1, model.latent_dim, a)[0], gaussian_latents(1, model.latent_dim, b)[0]
        omega = np.arccos(np.clip(np.dot(za, zb) / (np.linalg.norm(za) * np.linalg.norm(zb)), -1, 1))
        t = np.linspace(0.0, 1.0, steps)[:, None]
        if omega < 1e-6:
            z = (1 - t) * za + t * zb
        else:
            z = (np.sin((1 - t) * omega) * za + np.sin(t * omega) * zb) / np.sin(omega)
        rows.append(np.asarray(model.generate(z.astype(np.float32))))
    return to_uint8(np.concatenate(rows, axis=0))


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
        report = self.evaluator.evaluate(self.model.sample(self.n, seed=self.seed), self.metrics)
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
