"""`keras-gen traverse RUN|EXPORT`: a latent traversal grid, one row per latent dimension varied
over [-span, span] (dimensions ranked by KL on a vae/cvae run), or InfoGAN's code traversal (--codes).
"""

from __future__ import annotations

from keras_gen.commands.common import comma_list, export_weights, load_run_or_export, takes_label
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("traverse", help="latent traversal grid: one row per latent dimension, varied over "
                                               "[-span, span] (vae, cvae, dcgan, ...: one Gaussian latent)")
    p.add_argument("path", help="training run folder, or export folder")
    p.add_argument("--out", default="traversal.png")
    p.add_argument("--dims", default="8",
                   help="rows: a count (the most active dimensions by KL for a vae/cvae run, else the first), "
                        "or a comma list of dimensions, e.g. 0,3,5")
    p.add_argument("--steps", type=int, default=9, help="columns")
    p.add_argument("--span", type=float, default=None, help="z_d runs from -span to span (default 3; --codes: 2, "
                                                             "the paper's)")
    p.add_argument("--codes", action="store_true", help="InfoGAN: one row per category, a continuous code varied "
                                                        "over [-span, span] instead of z")
    p.add_argument("--seed", type=int, default=None, help="the base latent: drawn from this seed (default: zeros)")
    p.add_argument("--label", type=int, default=None, help="class of a class-conditional model (default 0)")
    p.add_argument("--rank", default="auto", choices=("auto", "kl", "first"),
                   help="which dimensions: by mean KL over the run's test images (auto: when the model encodes), "
                        "or the first ones")
    p.set_defaults(func=run)


def run(args) -> int:
    from keras_gen.images import check_image_path
    from keras_gen.pictures import check_latent_model, encoder_images, latent_traversal, model_name

    out = check_image_path(args.out)
    model, config = load_run_or_export(args.path)
    if args.codes:
        return _traverse_codes(args, out, model)
    args.span = 3.0 if args.span is None else args.span
    check_latent_model(model)  # before any data is read
    dims = comma_list(args.dims, "--dims", int, "latent dimensions") if "," in args.dims else _whole(args.dims, "--dims")
    rank = args.rank
    if rank == "auto":
        rank = "kl" if config is not None and hasattr(model, "encode") and isinstance(dims, int) else "first"
    if rank == "kl" and (config is None or not hasattr(model, "encode")):
        raise KerasGenError(f"--rank kl needs a run of a model with an encoder (vae, cvae); {model_name(model)}"
                            + (" is an export (no encoder on onnxruntime)" if config is None else " has none")
                            + ". Use --rank first.")
    images = labels = None
    if rank == "kl":
        try:
            images, labels = encoder_images(model, config)
        except KerasGenError as err:
            raise KerasGenError(f"{err} (the KL ranking reads the run's test images; --rank first needs none)") from None
    with export_weights(model):
        picture = latent_traversal(model, dims=dims, steps=args.steps, span=args.span, base=args.seed,
                                   label=args.label, images=images, labels=labels)
    picture.save(out)
    how = (f"ranked by mean KL over {len(images)} test images of {config['data']}: "
           + ", ".join(f"{k:.3g}" for k in picture.row_kl) + " nats" if picture.row_kl is not None else
           "as given" if isinstance(dims, list) else "the first ones")
    print(f"wrote {out}: {picture.rows} rows x {picture.cols} columns")
    print(f"  rows: latent dimensions {', '.join(map(str, picture.row_dims))} ({how})")
    print(f"  columns: z_d from {-args.span:g} to {args.span:g}; the other dimensions at "
          + ("0 (the prior's mean)" if args.seed is None else f"the latent of seed {args.seed}")
          + (f"; class {args.label if args.label is not None else 0}" if takes_label(model) else ""))
    return 0


def _traverse_codes(args, out, model) -> int:
    """`traverse --codes`: InfoGAN's figure 2 (keras_gen.pictures.code_traversal)."""
    from keras_gen.pictures import code_traversal

    span = 2.0 if args.span is None else args.span
    with export_weights(model):
        picture = code_traversal(model, steps=args.steps, span=span, seed=0 if args.seed is None else args.seed)
    picture.save(out)
    print(f"wrote {out}: {picture.rows} rows x {picture.cols} columns")
    print(f"  rows: {picture.row_dims[0]} .. {picture.row_dims[-1]}")
    print(f"  columns: the continuous code from {-span:g} to {span:g}; z of seed {args.seed or 0}")
    return 0


def _whole(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise KerasGenError(f"{flag} takes a count or a comma list of dimensions, got {text!r}.") from None
