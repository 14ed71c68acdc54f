"""The adversarial family's two benchmark tables (issue 17, part 6), each against a baseline
measured in the same run:

  ablation     DCGAN on 32 px digits with no tricks, then + EMA, + DiffAugment/ADA, + hinge/R1 +
               spectral norm, each the same budget (epochs x steps x batch) and seed; domain FID,
               KID, precision and recall of n samples beside the real-vs-real floor (and label
               accuracy for the conditional candidates that --rows can add).
  throughput   training images/s (real images through D per second: one batch a train_step) of
               every registered GAN at its defaults, beside a reference network measured in the
               same process: the keras-io example "DCGAN overriding Model.train_step"
               (fchollet), rebuilt here from its published layer shapes and adapted to 32 px.

    python benchmarks/gan_ablation.py throughput [--steps 10 --repeats 3]
    python benchmarks/gan_ablation.py ablation [--epochs 4 --steps-per-epoch 50 --n 1000] [--rows "cDCGAN + EMA"]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from keras_gen import registry  # noqa: E402

SIZE, CHANNELS, CLASSES = 32, 1, 10
# The ablation's rows: each adds its tricks to the row above (options of the shared loop).
TRICKS = {
    "DCGAN, no tricks": {},
    "+ EMA (0.999)": {"ema": 0.999},
    "+ DiffAugment/ADA": {"ema": 0.999, "augment": "color,translation,cutout", "ada_target": 0.6},
    "+ hinge, R1, spectral norm": {"ema": 0.999, "augment": "color,translation,cutout", "ada_target": 0.6,
                                   "loss": "hinge", "r1_gamma": 1.0, "spectral_norm": True},
}
# Candidates for the target beyond the ablation (--rows): the class-conditional DCGAN with
# the same tricks. A row's "model" key picks the registered model (dcgan otherwise).
CANDIDATES = {
    "cDCGAN + EMA": {"model": "cdcgan", "ema": 0.999},
    "cDCGAN + all of the above": {"model": "cdcgan", **TRICKS["+ hinge, R1, spectral norm"]},
}


# -- the reference: keras-io's "GAN overriding train_step" network, at 32 px -------------------
class KerasIOReferenceGAN(keras.Model):
    """The keras-io example's networks and step, as published for 28 px MNIST, adapted to 32 px
    (G's dense layer projects to 8x8 instead of 7x7, so two stride-2 upsamplings reach 32):

        D: Conv2D(64, 3, stride 2) LeakyReLU(0.2), Conv2D(128, 3, stride 2) LeakyReLU(0.2),
           GlobalMaxPooling2D, Dense(1)
        G: Dense(8 * 8 * 128) LeakyReLU(0.2), Reshape, two Conv2DTranspose(128, 4, stride 2)
           LeakyReLU(0.2), Conv2D(1, 8) sigmoid

    Its step: D sees real and fake in one concatenated batch with noisy labels (+0.05 U(0, 1)),
    then G is trained against "all real" labels on fresh latents; binary cross-entropy on logits."""

    def __init__(self, latent_dim: int = 128, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.discriminator = keras.Sequential([
            keras.Input((SIZE, SIZE, CHANNELS)),
            layers.Conv2D(64, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2D(128, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.GlobalMaxPooling2D(), layers.Dense(1)], name="discriminator")
        side = SIZE // 4
        self.generator = keras.Sequential([
            keras.Input((latent_dim,)),
            layers.Dense(side * side * 128), layers.LeakyReLU(0.2), layers.Reshape((side, side, 128)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2D(CHANNELS, side, padding="same", activation="sigmoid")], name="generator")
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_optimizer = keras.optimizers.Adam(3e-4)
        self.g_optimizer = keras.optimizers.Adam(3e-4)

    def train_step(self, real_images):
        batch = tf.shape(real_images)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        images = tf.concat([self.generator(z), real_images], axis=0)
        labels = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)  # the example's label noise
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(images))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(tf.zeros((batch, 1)), self.discriminator(self.generator(z)))  # "all real"
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


def _dataset(labelled: bool, batch_size: int, steps: int):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch_size * steps, SIZE, SIZE, CHANNELS)).astype(np.float32)
    if labelled:
        data = (images, rng.integers(0, CLASSES, len(images)).astype(np.int32))
    else:
        data = images
    # Cached and prefetched: the figure is the step's cost, not the input pipeline's.
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size, drop_remainder=True).cache().repeat().prefetch(4)


def images_per_second(model, dataset, args) -> tuple[float, float]:
    """(median images/s, spread) of `repeats` fits of `steps` steps after a warm-up fit."""
    model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)  # warm-up: tracing
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return args.batch_size * args.steps / median, (max(seconds) - min(seconds)) / median


def throughput(args) -> None:
    gans = sorted(n for n in registry.names() if registry.get(n).family == "adversarial")
    keras.utils.set_random_seed(0)
    reference = KerasIOReferenceGAN()
    reference.compile(jit_compile=False)
    rows = [("keras-io train_step GAN (reference)", *images_per_second(reference, _dataset(False, args.batch_size,
                                                                                          args.steps), args), "")]
    for name in gans:
        keras.utils.set_random_seed(0)
        spec = registry.get(name)
        labelled = spec.data_kind == "labelled"
        model = registry.build(name, image_size=SIZE, channels=CHANNELS, num_classes=CLASSES if labelled else None)
        model.compile(jit_compile=False)
        n_critic = model.options.n_critic
        note = f"n_critic {n_critic}: {1 / n_critic:.2g} G updates a step" if n_critic > 1 else ""
        rows.append((name, *images_per_second(model, _dataset(labelled, args.batch_size, args.steps), args), note))
        print(f"{name}: {rows[-1][1]:.1f} images/s", flush=True)
    base = rows[0][1]
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"\nTraining throughput, {SIZE} px x{CHANNELS}, batch {args.batch_size}, median of {args.repeats} x "
          f"{args.steps} steps after a warm-up, {device}, TF {tf.__version__}:\n")
    print("| model | images/s | spread | vs keras-io reference | note |\n|---|---:|---:|---:|---|")
    for name, ips, spread, note in rows:
        print(f"| {name} | {ips:.1f} | {spread:.1%} | {ips / base:.2f}x | {note} |")


def ablation(args) -> None:
    from keras_gen.evaluation import Evaluator
    from keras_gen.runs import load_run, run_summary
    from keras_gen.training import RunConfig, train

    evaluator = Evaluator("digits", image_size=SIZE, channels=CHANNELS, n_real=args.n, seed=args.seed)
    rows, floor = [], None
    every = {**TRICKS, **CANDIDATES}
    chosen = [r.strip() for r in args.rows.split(";")] if args.rows else list(TRICKS)
    unknown = [r for r in chosen if r not in every]
    if unknown:
        raise SystemExit(f"unknown row(s) {unknown}; choose from {list(every)}")
    for name in chosen:
        options = dict(every[name])
        model_name = options.pop("model", "dcgan")
        run = Path(args.out) / name.replace(" ", "_").replace(",", "").replace("/", "_").replace("+", "plus")
        if args.score_only:  # a run trained earlier (by an interrupted or concurrent invocation)
            done = run_summary(run)["epochs_done"] if (run / "config.json").is_file() else 0
            if done < args.epochs:
                print(f"{name}: {run} has {done} of {args.epochs} epochs; skipped", flush=True)
                continue
            seconds = float("nan")
        else:
            shutil.rmtree(run, ignore_errors=True)
            start = time.time()
            train(run, RunConfig(model_name, data="digits", image_size=SIZE, epochs=args.epochs,
                                 steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, options=options,
                                 seed=args.seed), verbose=0)
            seconds = time.time() - start
        model, _ = load_run(run)
        labelled = registry.get(model_name).data_kind == "labelled"
        metrics = ("fid", "kid", "pr", "label_acc") if labelled else ("fid", "kid", "pr")
        with model.ema_weights():  # scored with the weights an export carries: the EMA where it is on
            m = evaluator.evaluate_model(model, metrics, n=args.n, seed=args.seed + 1)["metrics"]
        floor = floor or {k: m[k]["floor"] for k in ("fid", "kid", "precision", "recall")}
        label = m.get("label_accuracy")
        per_class = [v for v in (label or {}).get("per_class", []) if v is not None]
        scores = [m[k]["generated_matched"] for k in ("fid", "kid", "precision", "recall")]
        rows.append((name, *scores, seconds,
                     f"{label['generated']:.3f} / {min(per_class):.3f}" if label else "-"))
        print(f"{name}: FID {rows[-1][1]:.2f} in {seconds:.0f} s", flush=True)
    print(f"\nDCGAN ablation on {SIZE} px digits, {args.epochs} epochs x {args.steps_per_epoch} steps x batch "
          f"{args.batch_size} each, domain features, n={args.n}:\n")
    print("| configuration | FID | FID / floor | KID x1000 | precision | recall | label acc / worst class | train s |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| floor: test split vs train | {floor['fid']:.2f} | 1.0 | {floor['kid'] * 1000:.2f} | "
          f"{floor['precision']:.3f} | {floor['recall']:.3f} | - | - |")
    for name, fid, kid, precision, recall, seconds, label in rows:
        print(f"| {name} | {fid:.2f} | {fid / floor['fid']:.1f} | {kid * 1000:.2f} | {precision:.3f} | {recall:.3f} | "
              f"{label} | {seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("throughput", "ablation"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="throughput: timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="throughput: timed repeats (the median is reported)")
    parser.add_argument("--epochs", type=int, default=4, help="ablation: epochs per configuration")
    parser.add_argument("--steps-per-epoch", type=int, default=50, help="ablation: steps per epoch")
    parser.add_argument("--n", type=int, default=1000, help="ablation: samples scored (and real images at most)")
    parser.add_argument("--rows", default=None, help="ablation: semicolon-separated row names (default: the four "
                                                      f"ablation rows); also {', '.join(CANDIDATES)}")
    parser.add_argument("--score-only", action="store_true", help="ablation: score the rows' finished run folders "
                                                                  "under --out without training (train s: nan)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/out/gan_ablation", help="ablation's run folders (ignored by git)")
    args = parser.parse_args()
    (throughput if args.mode == "throughput" else ablation)(args)


if __name__ == "__main__":
    main()
