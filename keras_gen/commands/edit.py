"""`keras-gen edit RUN --input IMG --direction NAME --amount A`: project the image (keras-gen
project), then move its latent along an attribute direction found from judged samples (Zhu et al.
2016, section 3.2; keras_gen/editing.py) and draw the path.

`keras-gen edit RUN --input IMG --color PAINT.png [--mask MASK.png] [--sketch STROKES.png]`:
project the image, then find the latent nearest the projection whose image takes the painted
colours where the mask (or the paint's own alpha) is white and has edges along the sketch's white
strokes (their eq. 5; keras_gen/editing.py's constrained_edit). Drawings are made over the input:
the input file's size, read like it at the model's size."""

from __future__ import annotations

from keras_gen.commands.common import check_writable_file, export_weights
from keras_gen.commands.project import add_projection_flags, load_and_project
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("edit", help="edit an image on a trained generator's manifold: project it, then move "
                                           "along an attribute direction, or meet drawn colour/sketch constraints "
                                           "(Zhu et al. 2016)")
    add_projection_flags(p)
    p.add_argument("--direction", metavar="NAME",
                   help="the attribute to move toward, as the data's judge names samples: a class name of the data "
                        "(digits: 0-9), or on shapes a colour and/or shape (\"red\", \"circle\", \"red circle\")")
    p.add_argument("--amount", type=float, default=1.0, help="how far: alpha in z* + alpha d/|d| sqrt(J)")
    p.add_argument("--frames", type=int, default=5, help="images along the path from 0 to --amount")
    p.add_argument("--n", type=int, default=2000, help="samples the judge labels to find the direction")
    drawn = p.add_argument_group("constraints drawn by the user (instead of --direction; Zhu et al. 2016, eq. 5)")
    drawn.add_argument("--color", metavar="PAINT.png", help="colours the edit takes where --mask is white (or, "
                                                            "without --mask, where PAINT's alpha is opaque)")
    drawn.add_argument("--mask", metavar="MASK.png", help="white on black: the pixels --color holds for")
    drawn.add_argument("--sketch", metavar="STROKES.png", help="white strokes on black where the edit has edges")
    drawn.add_argument("--keep-weight", type=float, default=1.0,
                       help="lambda_s of the ||z - z0||^2 term keeping the edit near the projection z0 (the --steps, "
                            "--learning-rate and --prior-weight of the projection apply to the edit too)")
    p.add_argument("--out", default="edit.png", help="the image, then the path from its projection to the edit; with "
                                                     "constraints: the image, its projection, the constraints drawn "
                                                     "over it, the edit")
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


def _read_drawing(path, what: str, size: tuple, model, keep_alpha: bool = False):
    """uint8 (H, W, C or C + alpha) of a drawing over the input, checked to be the input file's
    (height, width) `size`, then read at the model's size the way the input was."""
    from pathlib import Path

    from keras_gen.core.decoding import decode_image, resize_uint8

    path = Path(path)
    if not path.is_file():
        raise KerasGenError(f"the {what} {path} is not a file: pass the path of an image drawn over the input.")
    try:
        pixels = decode_image(path, None, keep_alpha=keep_alpha)
    except Exception as err:  # Pillow raises many types for bad files
        raise KerasGenError(f"Cannot read {what} {path}: {err}") from None
    if pixels.shape[:2] != size:
        raise KerasGenError(f"the {what} {path} is {pixels.shape[0]}x{pixels.shape[1]} px and the input "
                            f"{size[0]}x{size[1]} px: draw it over the input, at the input's size.")
    return resize_uint8(pixels[None], tuple(model.image_shape[:2]))[0]


def read_constraints(args, model):
    """keras_gen.editing.Constraints from --color/--mask/--sketch, at the model's size."""
    import numpy as np

    from keras_gen.core.decoding import load_image_file
    from keras_gen.editing import constraints_for
    from keras_gen.images import convert_channels

    size = load_image_file(args.input, (None, None, 1)).shape[1:3]
    channels = model.image_shape[-1]
    color = color_mask = sketch = None
    if args.color is not None:
        paint = _read_drawing(args.color, "colour image", size, model, keep_alpha=True)
        has_alpha = paint.shape[-1] in (2, 4)
        if args.mask is not None:
            color_mask = _read_drawing(args.mask, "mask", size, model)[..., 0] > 127
        elif has_alpha:
            color_mask = paint[..., -1] > 127
        else:
            raise KerasGenError(f"{args.color} has no transparency, so it does not say which pixels are painted: "
                                "pass --mask MASK.png (white where the colours hold), or paint on a transparent layer.")
        color = convert_channels(paint[..., :-1] if has_alpha else paint, channels)
    if args.sketch is not None:
        sketch = _read_drawing(args.sketch, "sketch", size, model)[..., 0] > 127
    return constraints_for(model, color=color, color_mask=color_mask, sketch=sketch)


def overlay(image, constraints):
    """uint8 RGB (H, W, 3): the image with the painted colours in place and the sketch strokes in red."""
    import numpy as np

    from keras_gen.images import convert_channels, to_uint8

    view = convert_channels(np.asarray(image, np.uint8), 3).copy()
    if constraints.color is not None:
        view[constraints.color_mask] = convert_channels(to_uint8(constraints.color), 3)[constraints.color_mask]
    if constraints.sketch is not None:
        view[constraints.sketch] = (255, 0, 0)
    return view


def run_constrained(args, out) -> int:
    import numpy as np

    from keras_gen.editing import constrained_edit
    from keras_gen.images import convert_channels, save_grid, to_uint8

    drawn = {}

    def read(args, model):  # before the projection: a drawing of the wrong size fails at once
        drawn["constraints"] = read_constraints(args, model)

    model, _, image, result = load_and_project(args, check=read)
    constraints = drawn["constraints"]
    with export_weights(model):
        edited = constrained_edit(model, result.latent, constraints, steps=args.steps, learning_rate=args.learning_rate,
                                  keep_weight=args.keep_weight, prior_weight=args.prior_weight, label=args.label,
                                  seed=args.seed)
    projection = to_uint8(result.images)[0]
    panels = [image[0], projection, overlay(projection, constraints), to_uint8(edited.images)[0]]
    save_grid(np.stack([convert_channels(p, 3) for p in panels]), out, ncols=4)
    change = "; ".join(f"{name} error {edited.before[name][0]:.4f} -> {edited.after[name][0]:.4f}"
                       for name in edited.before)
    print(f"wrote {out}: the image, its projection ({result.psnr[0]:.2f} dB), the constraints over it and the edit "
          f"({args.steps} steps): {change}")
    return 0


def run(args) -> int:
    import numpy as np

    from keras_gen.editing import attribute_direction, edit
    from keras_gen.images import save_grid, to_uint8

    out = check_writable_file(args.out, "--out")
    if args.color is not None or args.sketch is not None or args.mask is not None:
        if args.direction is not None:
            raise KerasGenError("pass --direction NAME, or drawn constraints (--color/--sketch), not both.")
        if args.mask is not None and args.color is None:
            raise KerasGenError("--mask says which pixels --color holds for: pass --color PAINT.png too.")
        return run_constrained(args, out)
    if args.direction is None:
        raise KerasGenError("say what to edit: --direction NAME (an attribute), or drawn constraints --color PAINT.png "
                            "[--mask MASK.png] / --sketch STROKES.png.")
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

