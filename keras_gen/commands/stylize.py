"""`keras-gen stylize --content IMAGE --style IMAGE`: style transfer by optimisation (Gatys et al.
2016: L-BFGS or Adam on the pixels, content and style losses on VGG features), or one forward
pass of a trained fast_style or adain run or export (--model).
"""

from __future__ import annotations

from keras_gen.commands.common import PICTURE_HELP, print_notes, quiet_tensorflow
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("stylize", help="style transfer by optimisation (Gatys et al. 2016): L-BFGS or Adam "
                                              "on the pixels, content and style losses on VGG features")
    p.add_argument("--content", default=None, metavar="IMAGE", help=PICTURE_HELP)
    p.add_argument("--style", action="append", default=[], metavar="IMAGE", help="style image (repeatable, to mix)")
    p.add_argument("--style-weights", default=None, help="mixing weights, one per --style, e.g. 0.7,0.3")
    p.add_argument("--out", default="stylized.png")
    p.add_argument("--size", type=int, default=256, help="longer side of the result in pixels (style images too)")
    p.add_argument("--steps", type=int, default=100, help="optimiser iterations at the finest scale")
    p.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"))
    p.add_argument("--lr", type=float, default=0.02, help="Adam learning rate, in [-1, 1] pixel units")
    p.add_argument("--init", default="content", choices=("content", "noise"))
    p.add_argument("--preserve-colour", "--preserve-color", action="store_true",
                   help="luminance-only transfer: keep the content's colours")
    p.add_argument("--content-weight", type=float, default=1.0, help="alpha")
    p.add_argument("--style-weight", type=float, default=1e3, help="beta (the style loss is 1 at the start image)")
    p.add_argument("--tv-weight", type=float, default=0.0)
    p.add_argument("--scales", type=int, default=0, help="coarse-to-fine levels (0: one per halving above 256 px)")
    p.add_argument("--save-every", type=int, default=0, help="write OUT_s{scale}_{step}.png every k steps")
    p.add_argument("--style-layers", default="conv1_1,conv2_1,conv3_1,conv4_1,conv5_1", help="VGG layers whose "
                   "Gram matrices are matched (equal weights)")
    p.add_argument("--content-layers", default="conv4_2", help="VGG layers whose activations are matched")
    p.add_argument("--arch", default="vgg19", choices=("vgg19", "vgg16"))
    p.add_argument("--vgg-weights", default="auto", help="auto | imagenet | hed | PATH to a notop .h5")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--model", default=None, metavar="RUN|EXPORT",
                   help="a trained fast_style or adain run or export: one forward pass instead of an optimisation")
    p.add_argument("--style-mix", default=None, help="--model: fast_style weights over its trained styles "
                   "(0.3,0.7) or one style's index; adain weights over the --style images")
    p.add_argument("--alpha", type=float, default=1.0, help="--model adain: style-content trade-off in [0, 1]")
    p.set_defaults(func=run)


def run(args) -> int:
    """Gatys style transfer by optimisation, or one pass of a trained stylizer (--model)."""
    if args.content is None:
        raise KerasGenError("stylize needs --content IMAGE (a file, or a bundled picture such as photos:chelsea)")
    if args.model is not None:
        return _stylize_with_model(args)
    return _stylize_by_optimisation(args)


def _stylize_with_model(args) -> int:
    """fast_style (--style-mix over its trained styles) or adain (--style, --alpha) runs and exports."""
    from keras_gen.images import check_image_path
    from keras_gen.models.style.feedforward import stylize_with_model

    out = check_image_path(args.out)
    quiet_tensorflow()
    path, seconds, runtime, name, mix = stylize_with_model(args.model, args.content, out, args.style, args.style_mix,
                                                           args.alpha, args.size)
    print(f"wrote {path} ({name}, style weights {', '.join(f'{w:.3g}' for w in mix)}"
          + (f", alpha {args.alpha:g}" if name == "adain" else "") + f"; one pass in {seconds:.2f} s on {runtime})")
    return 0


def _stylize_by_optimisation(args) -> int:
    if not args.style:
        raise KerasGenError("stylize needs --style IMAGE (repeatable; a file or e.g. textures:brick)")
    from keras_gen.images import check_image_path
    from keras_gen.models.style import gatys, io

    out = check_image_path(args.out)
    mix = gatys.parse_style_weights(args.style_weights, len(args.style))
    settings = gatys.StyleSettings(
        alpha=args.content_weight, beta=args.style_weight, tv_weight=args.tv_weight, steps=args.steps,
        optimizer=args.optimizer, learning_rate=args.lr, init=args.init, preserve_colour=args.preserve_colour,
        scales=args.scales, arch=args.arch, weights=args.vgg_weights, save_every=args.save_every, seed=args.seed,
        style_layers=_layer_list(args.style_layers, "--style-layers"),
        content_layers=_layer_list(args.content_layers, "--content-layers"))
    settings.check()
    content, notes = io.load_float(args.content, args.size, "content image")
    styles = []
    for spec in args.style:
        image, more = io.load_float(spec, args.size, "style image")
        styles.append(image)
        notes += more
    print_notes(notes)
    quiet_tensorflow()
    result, history = gatys.stylize(content, styles, mix, settings, progress=not args.quiet, intermediates=out)
    io.save_float(result, out)
    last = history[-1] if history else {}
    print(f"wrote {out} ({result.shape[1]}x{result.shape[0]}, {len(history)} steps, "
          f"content loss {last.get('content', float('nan')):.4g}, style loss {last.get('style', float('nan')):.4g} "
          "of its start value 1)")
    return 0


def _layer_list(text: str, flag: str) -> tuple[str, ...]:
    layers = tuple(name.strip() for name in text.split(",") if name.strip())
    if not layers:
        raise KerasGenError(f"{flag}: give at least one VGG layer name, e.g. conv1_1,conv2_1")
    return layers
