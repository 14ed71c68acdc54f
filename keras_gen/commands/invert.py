"""`keras-gen invert --image IMAGE --layer LAYER`: feature inversion (Mahendran & Vedaldi 2015),
the picture whose features at one VGG layer match the image's.
"""

from __future__ import annotations

from keras_gen.commands.common import PICTURE_HELP, print_notes, quiet_tensorflow


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("invert", help="feature inversion (Mahendran & Vedaldi 2015): the picture one VGG "
                                             "layer sees")
    p.add_argument("--image", required=True, metavar="IMAGE", help=PICTURE_HELP)
    p.add_argument("--layer", default="block3_conv1", help="conv4_2 or block4_conv2 style names")
    p.add_argument("--out", default="inversion.png")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--tv-weight", type=float, default=None, help="default: grows with the layer's depth")
    p.add_argument("--arch", default="vgg19", choices=("vgg19", "vgg16"))
    p.add_argument("--vgg-weights", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from keras_gen.images import check_image_path
    from keras_gen.models.style import inversion, io

    out = check_image_path(args.out)
    image, notes = io.load_float(args.image, args.size, "image")
    print_notes(notes)
    quiet_tensorflow()
    result, history = inversion.invert(image, args.layer, steps=args.steps, tv_weight=args.tv_weight,
                                       arch=args.arch, weights=args.vgg_weights, seed=args.seed,
                                       progress=not args.quiet)
    print(f"wrote {io.save_float(result, out)} (from {args.layer}; feature loss {history[-1]['feature']:.4g} "
          f"of its start value {history[0]['feature']:.4g})")
    return 0
