"""Projection and editing on a trained generator (issue 31, part 4; keras_gen/editing.py).

    python benchmarks/editing.py --run RUN [--n 20] [--steps 200] [--amount 1.0] [--out strip.png]

Projects N real test images of the run's data into its generator's latent space and reports the
reconstruction PSNR of the projection beside the starting point's (the best of K seeded draws:
what the optimisation adds). Then edits each projection toward another class, t = (label + 1)
mod K, along the attribute direction of t (judged samples, --judge-n of them), and reports the
share of edits that raise the domain classifier's probability of t, and the share it then judges t.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=8)
    parser.add_argument("--amount", type=float, default=1.0)
    parser.add_argument("--judge-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="a picture: rows of input, projection, edit")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from keras_gen.commands.common import export_weights
    from keras_gen.commands.edit import judge_for
    from keras_gen.data.bundled import load_bundled_uint8
    from keras_gen.editing import attribute_direction, edit, project
    from keras_gen.images import from_uint8, to_uint8
    from keras_gen.runs import load_run

    model, config = load_run(args.run)
    images, labels = load_bundled_uint8(config["data"], "test", model.image_size, model.channels, args.n, args.seed)
    judge, classifier = judge_for(config, model)
    classes = classifier.num_classes
    with export_weights(model):
        result = project(model, images, steps=args.steps, restarts=args.restarts, seed=args.seed)
        targets = (labels + 1) % classes
        edited = np.zeros_like(images)
        for target in np.unique(targets):
            direction, _ = attribute_direction(model, judge, str(target), n=args.judge_n, seed=args.seed)
            rows = np.flatnonzero(targets == target)
            edited[rows] = edit(model, result.latent[rows], direction, [args.amount])[:, 0]
    before = classifier(result.images)["probs"][np.arange(args.n), targets]
    after = classifier(from_uint8(edited))["probs"][np.arange(args.n), targets]
    judged = classifier.predict(from_uint8(edited)) == targets
    figures = {"n": args.n, "projection_psnr_db": float(result.psnr.mean()),
               "start_psnr_db": float(result.start_psnr.mean()),
               "edits_raising_target_probability": float(np.mean(after > before)),
               "edits_judged_target": float(judged.mean()),
               "target_probability_before": float(before.mean()), "target_probability_after": float(after.mean())}
    print(f"{args.n} test images of {config['data']} projected into {Path(args.run).name} ({args.steps} Adam steps, "
          f"best of {args.restarts} draws to start):")
    print(f"  projection PSNR {figures['projection_psnr_db']:.2f} dB (start {figures['start_psnr_db']:.2f} dB)")
    print(f"  edit toward class (label + 1), amount {args.amount:g}: raises P(target) in "
          f"{100 * figures['edits_raising_target_probability']:.0f}% of images (mean {figures['target_probability_before']:.3f}"
          f" -> {figures['target_probability_after']:.3f}); judged the target in {100 * figures['edits_judged_target']:.0f}%")
    if args.out:
        from keras_gen.images import save_grid

        k = min(8, args.n)
        rows = np.stack([images[:k], to_uint8(result.images[:k]), edited[:k]])  # (3, k, H, W, C)
        save_grid(rows.reshape(-1, *images.shape[1:]), args.out, ncols=k)
        print(f"wrote {args.out}: inputs, projections, edits toward label + 1")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
