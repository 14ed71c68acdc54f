"""DCGAN's vector arithmetic on averaged latents (Radford et al. 2016, fig. 7), offline on `shapes`,
scored by the shapes judge (keras_gen.latent_arithmetic): the shape from the domain classifier,
the colour measured from the pixels.

    python benchmarks/latent_arithmetic.py [--run RUN] [--expression "red circle - red square + blue square"]
        [--target "blue circle"] [--n 2000] [--out grid.png]

Without --run, a DCGAN is trained on shapes first (--image-size, --epochs x --steps-per-epoch) into
--train-out.
Prints the concepts' sample counts, the share of decoded neighbours of z* the judge tags as the
target, and the target's base rate among plain samples (the chance figure to beat).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_gen.features.classifier import load_domain_classifier  # noqa: E402
from keras_gen.latent_arithmetic import latent_arithmetic, shapes_judge  # noqa: E402
from keras_gen.runs import load_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="a trained run on shapes (dcgan, wgan, ...); default: train one")
    parser.add_argument("--expression", default="red circle - red square + blue square")
    parser.add_argument("--target", default="blue circle")
    parser.add_argument("--n", type=int, default=2000, help="latents drawn and tagged to average")
    parser.add_argument("--samples", type=int, default=16, help="z* and its noisy neighbours decoded and scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=32, help="of the DCGAN trained without --run")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=64)
    parser.add_argument("--train-out", default="benchmarks/out/arithmetic_dcgan")
    parser.add_argument("--out", default=None, help="also save the decoded images as a grid")
    args = parser.parse_args()

    run = args.run
    if run is None:
        from keras_gen.runs import RunConfig
        from keras_gen.training import train

        run = args.train_out
        train(run, RunConfig("dcgan", data="shapes", image_size=args.image_size, epochs=args.epochs,
                             steps_per_epoch=args.steps_per_epoch, seed=args.seed), verbose=0)
    model, config = load_run(run)
    judge = shapes_judge(load_domain_classifier("shapes", config["image_size"], config["channels"]))
    result = latent_arithmetic(model, judge, args.expression, args.target, n=args.n, seed=args.seed,
                               samples=args.samples)
    counts = ", ".join(f"{c}: {k}" for c, k in result.counts.items())
    print(f"{args.expression} -> target {args.target!r} (averaged latents per concept: {counts})")
    print(f"| decoded z* and neighbours tagged {args.target!r} | base rate among {args.n} samples | ratio |")
    print("|---:|---:|---:|")
    ratio = result.hit_rate / result.base_rate if result.base_rate else float("inf")
    print(f"| {result.hit_rate:.3f} | {result.base_rate:.3f} | {ratio:.1f}x |")
    print("tags of the decoded images:", ", ".join(result.tags))
    if args.out:
        from keras_gen.images import save_grid

        save_grid(result.images, args.out, ncols=min(8, len(result.images)))


if __name__ == "__main__":
    main()
