"""`keras-gen edit RUN --input IMG --direction NAME --amount A`: project the image (keras-gen
project), then move its latent along an attribute direction found from judged samples (Zhu et al.
2016, section 3.2; keras_gen/editing.py) and draw the path."""

from __future__ import annotations

from keras_gen.commands.common import check_writable_file, export_weights
from keras_gen.commands.project import add_projection_flags, load_and_project
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("edit", help="edit an image on a trained generator's manifold: project it, then move "
                                           "along an attribute direction (Zhu et al. 2016)")
    add_projection_flags(p)
    p.add_argument("--direction", required=True, metavar="NAME",
                   help="the attribute to move toward, as the data's judge names samples: a class name of the data "
                        "(digits: 0-9), or on shapes a colour and/or shape (\"red\", \"circle\", \"red circle\")")
    p.add_argument("--amount", type=float, default=1.0, help="how far: alpha in z* + alpha d/|d| sqrt(J)")
    p.add_argument("--frames", type=int, default=5, help="images along the path from 0 to --amount")
    p.add_argument("--n", type=int, default=2000, help="samples the judge labels to find the direction")
    p.add_argument("--out", default="edit.png", help="the image, then the path from its projection to the edit")
    p.set_defaults(func=run)


def judge_for(config, model):
    """(judge(uint8 images) -> tags, classifier, class names) for the run's data: on shapes,
    "colour shape" (the shapes classifier and the pixels); else the data's domain classifier's class."""
    from keras_gen.editing import classifier_judge
    from keras_gen.features.classifier import load_domain_classifier

    data = (config or {}).get("data")
    if data is None:
        raise KerasGenError("this run records no training data, so no judge can name its samples.")
    classifier = load_domain_classifier(data, verbose=0)
    if data == "shapes":
        from keras_gen.latent_arithmetic import shapes_judge

        return shapes_judge(classifier), classifier
    return classifier_judge(classifier, classifier.class_names and [str(c) for c in classifier.class_names]), classifier


def run(args) -> int:
    import numpy as np

    from keras_gen.editing import attribute_direction, edit
    from keras_gen.images import save_grid, to_uint8

    out = check_writable_file(args.out, "--out")
    if not 2 <= args.frames <= 32:
        raise KerasGenError(f"--frames must be from 2 to 32, got {args.frames}.")
    if not np.isfinite(args.amount):
        raise KerasGenError(f"--amount must be a number, got {args.amount}.")
    model, config, image, result = load_and_project(args)
    judge, _ = judge_for(config, model)
    with export_weights(model):
        direction, counts = attribute_direction(model, judge, args.direction, n=args.n, seed=args.seed,
                                                label=args.label)
        amounts = np.linspace(0.0, args.amount, args.frames)
        path = edit(model, result.latent, direction, amounts, label=args.label, seed=args.seed)[0]
    save_grid(np.concatenate([image, path]), out, ncols=len(path) + 1)
    tags = judge(path)
    print(f"wrote {out}: the image, its projection ({result.psnr[0]:.2f} dB) and {len(path) - 1} steps to amount "
          f"{args.amount:g} along {args.direction!r} ({counts[args.direction]} of {counts['all']} samples judged so); "
          f"the judge says {tags[0]!r} -> {tags[-1]!r}")
    return 0

