"""`keras-gen manifold RUN|EXPORT`: the 2-D latent manifold of a model with latent_dim 2, a grid
of decoded Gaussian quantiles (Kingma & Welling, fig. 4).
"""

from __future__ import annotations

from keras_gen.commands.common import export_weights, load_run_or_export, takes_label


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("manifold", help="2-D latent manifold: decode a grid of Gaussian quantiles "
                                               "(Kingma & Welling fig. 4; latent_dim 2 only)")
    p.add_argument("path", help="training run folder, or export folder")
    p.add_argument("--out", default="manifold.png")
    p.add_argument("--steps", type=int, default=20, help="rows and columns")
    p.add_argument("--label", type=int, default=None, help="class of a class-conditional model (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from keras_gen.images import check_image_path
    from keras_gen.pictures import latent_manifold

    out = check_image_path(args.out)
    model, _ = load_run_or_export(args.path)
    with export_weights(model):
        picture = latent_manifold(model, steps=args.steps, label=args.label)
    picture.save(out)
    q = picture.values
    print(f"wrote {out}: {picture.rows} x {picture.cols} decoded latents at Gaussian quantiles "
          f"{q[0]:.2f} .. {q[-1]:.2f} (z_1 left to right, z_2 bottom to top)"
          + (f"; class {args.label if args.label is not None else 0}" if takes_label(model) else ""))
    return 0
