"""Text to image on `shapes`: does the model draw the shape, colour and size a held-out caption
names? (issue 31, part 3.)

    python benchmarks/text_to_image.py --run RUN [--n 300] [--seed 0] [--out grid.png]

Held-out captions are the full captions (size where named, colour, shape, position) of the
`shapes` test split at the run's image size, which training never saw. Each caption is drawn
once (seed S), and a judge reads the image back:

    shape    the shapes domain classifier's prediction (cache/classifiers; trained if missing)
    colour   the palette colour nearest the mean foreground pixel (keras_gen.latent_arithmetic)
    size     "large" when the foreground covers more than the midpoint between the mean areas of
             the test split's real small and large shapes (measured here), else "small"

Printed beside the model's scores, as their scale: the same judge on the real test images with
their own captions (its floor: what a perfect generator would score), and the model's images
judged against another image's caption (the captions rolled by one: what a model that ignores
the caption scores, up to the split's attribute frequencies).
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

from keras_gen.data.captions import full_captions, parse_caption  # noqa: E402
from keras_gen.data.shapes import BACKGROUND, COLOUR_NAMES, SHAPES, draw_shapes  # noqa: E402

FOREGROUND = 120  # summed |pixel - background| over RGB above which a pixel is the shape's


def foreground_share(images: np.ndarray) -> np.ndarray:
    pixels = np.asarray(images, np.float64).reshape(len(images), -1, 3)
    return (np.abs(pixels - np.asarray(BACKGROUND)).sum(-1) > FOREGROUND).mean(1)


def make_judge(classifier, size_threshold: float):
    from keras_gen.latent_arithmetic import shapes_judge

    tags = shapes_judge(classifier)

    def judge(images):
        named = [t.split() for t in tags(images)]
        shares = foreground_share(images)
        return [{"shape": SHAPES.index(t[1]) if len(t) == 2 else None,
                 "colour": COLOUR_NAMES.index(t[0]) if len(t) == 2 else None,
                 "size": "large" if s > size_threshold else "small"} for t, s in zip(named, shares)]

    return judge


def scores(judged, captions) -> dict:
    """Share right per attribute a caption names, and all three together where all are named."""
    out = {}
    wanted = [parse_caption(c) for c in captions]
    for key in ("shape", "colour", "size"):
        pairs = [(j[key], w[key]) for j, w in zip(judged, wanted) if w[key] is not None]
        out[key] = float(np.mean([a == b for a, b in pairs])) if pairs else float("nan")
    every = [all(j[k] == w[k] for k in ("shape", "colour", "size") if w[k] is not None)
             for j, w in zip(judged, wanted)]
    out["all named"] = float(np.mean(every))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a text2img or tddpm run trained on shapes")
    parser.add_argument("--n", type=int, default=300, help="held-out captions drawn and judged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also save the first 32 images with their captions' order")
    parser.add_argument("--json", default=None)
    parser.add_argument("--extra", action="append", default=[], help="a request flag as KEY=VALUE (guidance=3)")
    args = parser.parse_args()

    from keras_gen.commands.common import export_weights
    from keras_gen.features.classifier import load_domain_classifier
    from keras_gen.runs import load_run

    model, config = load_run(args.run)
    side = model.image_size
    real, attributes = draw_shapes(args.n, side, 1)  # the test split's seed family, never trained on
    captions = full_captions(attributes)
    sizes = [parse_caption(c)["size"] for c in captions]
    shares = foreground_share(real)
    small = shares[[s == "small" for s in sizes]].mean()
    large = shares[[s == "large" for s in sizes]].mean()
    judge = make_judge(load_domain_classifier("shapes", verbose=0), float((small + large) / 2))
    extra = {k: float(v) for k, v in (e.split("=", 1) for e in args.extra)}
    from keras_gen.images import to_uint8

    with export_weights(model):  # Keras' sample gives [-1, 1]; the judge reads uint8 pixels
        images = to_uint8(np.concatenate([model.sample(min(64, args.n - i), seed=args.seed + i, caption=captions[i:i + 64],
                                              **extra) for i in range(0, args.n, 64)]))
    judged = judge(images)
    rows = {"real images, own captions (floor)": scores(judge(real), captions),
            f"{Path(args.run).name}, its captions": scores(judged, captions),
            f"{Path(args.run).name}, another's caption (chance)": scores(judged, np.roll(captions, 1))}
    print(f"{args.n} held-out shapes captions at {side} px, seed {args.seed}; size threshold "
          f"{(small + large) / 2:.3f} of the image (small {small:.3f}, large {large:.3f})")
    print(f"{'':44s} {'shape':>7s} {'colour':>7s} {'size':>7s} {'all named':>10s}")
    for name, row in rows.items():
        print(f"{name:44s} " + " ".join(f"{row[k]:7.3f}" for k in ("shape", "colour", "size"))
              + f" {row['all named']:10.3f}")
    if args.out:
        from keras_gen.images import save_grid

        save_grid(images[:32], args.out, ncols=8)
        Path(args.out).with_suffix(".txt").write_text("\n".join(captions[:32]) + "\n")
        print(f"wrote {args.out} (captions in {Path(args.out).with_suffix('.txt')})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"run": args.run, "n": args.n, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
