"""`keras-gen project RUN --input IMG`: the latent whose image is nearest a real one (Zhu et al.
2016, section 3.1; keras_gen/editing.py), written beside the image it reconstructs."""

from __future__ import annotations

from keras_gen.commands.common import check_writable_file, export_weights, quiet_tensorflow
from keras_gen.errors import KerasGenError


def add_projection_flags(p) -> None:
    p.add_argument("path", help="training run folder (projection needs the Keras generator's gradients)")
    p.add_argument("--input", required=True, metavar="IMG", help="image file; read at the model's image size")
    p.add_argument("--steps", type=int, default=300, help="Adam steps on z")
    p.add_argument("--restarts", type=int, default=8, help="seeded draws the optimisation starts from the best of "
                                                           "(models without an encoder)")
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--prior-weight", type=float, default=1e-3, help="lambda of the ||z||^2 term keeping z likely")
    p.add_argument("--no-encoder", action="store_true", help="start from seeded draws even where the model encodes")
    p.add_argument("--label", type=int, default=None, help="class of a class-conditional model (default 0)")
    p.add_argument("--seed", type=int, default=0)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("project", help="project an image into a trained generator's latent space (Zhu et al. "
                                              "2016): z* with G(z*) nearest the image")
    add_projection_flags(p)
    p.add_argument("--out", default="projection.png", help="the image, then its projection G(z*), side by side")
    p.add_argument("--latent-out", default=None, metavar="Z.npy", help="also save z* (1, J) as .npy")
    p.set_defaults(func=run)


def load_and_project(args, check=None):
    """(model, run config, uint8 input (1, H, W, C), Projection) for the flags of add_projection_flags;
    `check(args, model)` runs before the projection (bad input fails before minutes of work)."""
    from keras_gen.editing import project
    from keras_gen.images import load_image_file
    from keras_gen.paths import RUN, path_kind

    if path_kind(args.path) != RUN:
        raise KerasGenError(f"{args.path} is not a training run: projection optimises through the Keras generator; "
                            "pass the run folder the export came from.")
    quiet_tensorflow()
    from keras_gen.runs import load_run

    model, config = load_run(args.path)
    image = load_image_file(args.input, model.image_shape)
    if check is not None:
        check(args, model)
    with export_weights(model):
        result = project(model, image, steps=args.steps, restarts=args.restarts, learning_rate=args.learning_rate,
                         prior_weight=args.prior_weight, label=args.label, seed=args.seed,
                         use_encoder=not args.no_encoder)
    return model, config, image, result


def run(args) -> int:
    import numpy as np

    from keras_gen.images import save_grid, to_uint8

    out = check_writable_file(args.out, "--out")
    latent_out = check_writable_file(args.latent_out, "--latent-out") if args.latent_out else None
    model, _, image, result = load_and_project(args)
    save_grid(np.concatenate([image, to_uint8(result.images)]), out, ncols=2)
    if latent_out is not None:
        np.save(latent_out, result.latent)
    print(f"wrote {out} (input | projection): PSNR {result.psnr[0]:.2f} dB after {args.steps} steps, from "
          f"{result.start_psnr[0]:.2f} dB at the start" + (f"; z* -> {latent_out}" if latent_out else ""))
    return 0
