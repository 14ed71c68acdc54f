"""`keras-gen texture --source IMAGE`: texture synthesis, by Gram matching from noise (Gatys et al.
2015) or by Efros-Leung nearest neighbours (--method nn, no TensorFlow).
"""

from __future__ import annotations

from keras_gen.commands.common import PICTURE_HELP, print_notes, quiet_tensorflow


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("texture", help="texture synthesis: Gram matching from noise (Gatys et al. 2015) or "
                                              "Efros-Leung nearest neighbours")
    p.add_argument("--source", required=True, metavar="IMAGE", help=PICTURE_HELP)
    p.add_argument("--out", default="texture.png")
    p.add_argument("--size", type=int, default=128, help="side of the square result")
    p.add_argument("--source-size", type=int, default=128, help="longer side the source is resized to")
    p.add_argument("--method", default="gram", choices=("gram", "nn"))
    p.add_argument("--depth", default="pool4", help="deepest layer matched: conv1_1, pool1, pool2, pool3 or pool4")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--window", type=int, default=11, help="nn: neighbourhood side (odd)")
    p.add_argument("--arch", default="vgg19", choices=("vgg19", "vgg16"))
    p.add_argument("--vgg-weights", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from keras_gen.images import check_image_path
    from keras_gen.models.style import io, texture

    out = check_image_path(args.out)
    source, notes = io.load_float(args.source, args.source_size, "source image")
    print_notes(notes)
    if args.method == "nn":
        result = texture.efros_leung(source, args.size, window=args.window, seed=args.seed)
        print(f"wrote {io.save_float(result, out)} ({args.size}x{args.size}, Efros-Leung, window {args.window})")
        return 0
    quiet_tensorflow()
    result, history = texture.gram_texture(source, args.size, depth=args.depth, steps=args.steps, seed=args.seed,
                                           arch=args.arch, weights=args.vgg_weights, progress=not args.quiet)
    print(f"wrote {io.save_float(result, out)} ({args.size}x{args.size}, Gram matching to {args.depth}, "
          f"style loss {history[-1]['style']:.4g} of its start value 1)")
    return 0
