"""`keras-gen train MODEL --out RUN`: train a registered model with `model.fit` (checkpoints,
per-epoch samples, TensorBoard logs, `--resume`, periodic FID/KID with `--eval-every`), or the
domain classifier behind offline FID/KID (`keras-gen train classifier`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_gen.commands.common import quiet_tensorflow, warnings_as_lines
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a registered model (or `classifier`) with model.fit")
    p.add_argument("model")
    p.add_argument("--data", default=None,
                   help="digits (default) | shapes | photos | textures | tfds:NAME | a folder")
    p.add_argument("--data-b", default=None,
                   help="second domain of unpaired models (a bundled name, tfds:NAME or a folder)")
    p.add_argument("--data-dir", default=None, help="TFDS data directory")
    p.add_argument("--out", default=None, help="run folder (for `classifier`: the cache folder)")
    p.add_argument("--image-size", type=_image_size_flag, default=None, metavar="N|HxW",
                   help="one side (32), or height x width (12x20) for a model that takes any size; default: the data's")
    p.add_argument("--epochs", type=int, default=None,
                   help="total epochs (default 10); with --resume, a new total (default: the run's own)")
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="default 64")
    p.add_argument("--seed", type=int, default=None, help="default 0")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model option (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--jit-compile", default=None, type=_jit_compile_flag,
                   help="XLA-compile train_step: true | false | auto (default: XLA on GPU, not on CPU)")
    p.add_argument("--eval-every", type=int, default=0,
                   help="evaluate every N epochs (domain FID/KID to TensorBoard); not part of the run's config")
    p.add_argument("--eval-metrics", default="fid,kid")
    p.add_argument("--eval-n", type=int, default=500, help="samples per periodic evaluation")
    p.set_defaults(func=run)


def _image_size_flag(value: str):
    from keras_gen.data.common import parse_image_size

    try:
        return parse_image_size(value)
    except KerasGenError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _jit_compile_flag(value: str):
    choices = {"true": True, "false": False, "auto": "auto"}
    if value.lower() not in choices:
        raise argparse.ArgumentTypeError(f"expected true, false or auto, got {value!r}")
    return choices[value.lower()]


def run(args) -> int:
    quiet_tensorflow()
    if args.model == "classifier":
        from keras_gen.data.common import check_image_size
        from keras_gen.features.classifier import train_domain_classifier

        if args.epochs is not None and args.epochs < 1:
            raise KerasGenError(f"--epochs must be at least 1, got {args.epochs}.")
        if args.image_size is not None:
            check_image_size(args.image_size, default=0)  # 0 is refused, not read as "the default"
        _, meta = train_domain_classifier(
            args.data or "digits", image_size=args.image_size, data_dir=args.data_dir, seed=args.seed or 0,
            **({"batch_size": args.batch_size} if args.batch_size else {}),
            cache_dir=args.out, force=True, verbose=1 if sys.stdout.isatty() else 2,
            **({"epochs": args.epochs} if args.epochs is not None else {}),
        )
        print(f"domain classifier for {args.data or 'digits'}: test accuracy {meta['test_accuracy']:.4f}")
        print(f"saved: {meta.get('path', '(cache)')}")
        return 0
    if not args.out:
        raise KerasGenError("train needs --out RUN, the folder for checkpoints, samples and logs.")
    from keras_gen import registry
    from keras_gen.callbacks import TrainingWarning
    from keras_gen.training import RunConfig, resolve_config, train

    given = RunConfig(
        args.model, options=registry.parse_options(registry.get(args.model), args.set), data=args.data,
        data_b=args.data_b, data_dir=args.data_dir, image_size=args.image_size, batch_size=args.batch_size,
        seed=args.seed, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, jit_compile=args.jit_compile,
    )
    config = resolve_config(args.out, given, resume=args.resume)  # every refusal before any evaluator is built
    callbacks = [_periodic_evaluation(args, config)] if args.eval_every else []
    with warnings_as_lines(TrainingWarning):
        summary = train(args.out, given, resume=args.resume, callbacks=callbacks,
                        verbose=1 if sys.stdout.isatty() else 2)  # one line an epoch in logs
    print(f"\ntrained {summary['model']} for epochs {summary['initial_epoch'] + 1}..{summary['epochs']} "
          f"({summary['steps_per_epoch']} steps each) in {summary['seconds']} s")
    print(f"  checkpoint:    {summary['checkpoint']}")
    print(f"  samples:       {summary['samples']}  (per epoch: {Path(summary['run']) / 'samples'})")
    for picture in ("interpolation", "traversal", "manifold", "code_traversal"):
        if summary.get(picture):
            label = picture + ":"
            print(f"  {label:15s}{' ' if len(label) >= 15 else ''}{summary[picture]}")
    print(f"  tensorboard:   tensorboard --logdir {summary['logs']}")
    return 0


def _periodic_evaluation(args, config):
    """The PeriodicEvaluation callback `--eval-every` asks for, its sample count checked now, not at epoch N."""
    if args.eval_every < 0:
        raise KerasGenError(f"--eval-every must be 0 (off) or a number of epochs, got {args.eval_every}.")
    if args.eval_n < 1:
        raise KerasGenError(f"--eval-n must be at least 1, got {args.eval_n}.")
    from keras_gen.callbacks import PeriodicEvaluation
    from keras_gen.evaluation import Evaluator, parse_metrics

    metrics = parse_metrics(args.eval_metrics)
    evaluator = Evaluator(config.data, image_size=config.image_size, channels=config.channels, n_real=args.eval_n,
                          seed=config.seed, data_dir=config.data_dir)
    evaluator.check_sample_count(args.eval_n, metrics)
    return PeriodicEvaluation(evaluator, every=args.eval_every, n=args.eval_n, metrics=metrics,
                              log_dir=Path(args.out) / "logs")
