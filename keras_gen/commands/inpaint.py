"""`keras-gen inpaint RUN|EXPORT --input IMG --out OUT [--mask MASK.png] [--outpaint L,T,R,B]`:
fill the white region of a mask (or grow the canvas and fill the new border) with an `inpaint`
network or a trained diffusion model (ddpm, cddpm: RePaint, no new training), on a run (Keras) or
an export (onnxruntime, no TensorFlow). The pixels outside the hole come back exactly as given.
"""

from __future__ import annotations

from keras_gen.errors import KerasGenError

DIFFUSION_FLAGS = ("steps", "sampler", "eta", "label", "guidance")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("inpaint", help="fill a masked region (or outpaint a border) with an inpaint network or "
                                              "a diffusion model (ddpm, cddpm), run or export",
                              description="Fills the pixels a mask marks white (and any border --outpaint adds); every "
                                          "other pixel of the output is the input's, exactly. An inpaint network takes "
                                          "the image at its own size; a diffusion model completes at its own size "
                                          "(the canvas is resized to it and the fill resized back) by RePaint: the "
                                          "known pixels are re-noised to each step's level. On an export it runs on "
                                          "onnxruntime.")
    p.add_argument("path", help="training run folder, or export folder (EXPORTS/NAME[/VERSION])")
    p.add_argument("--input", required=True, metavar="IMAGE", help="the image to complete")
    p.add_argument("--mask", default=None, metavar="MASK.png",
                   help="the image's size: white (> 127) where pixels are to be generated, black where they are kept")
    p.add_argument("--outpaint", default=None, metavar="LEFT,TOP,RIGHT,BOTTOM",
                   help="grow the canvas by these many pixels on each side and generate them")
    p.add_argument("--out", required=True,
                   help="out.png (one completion, or a grid of --n), or DIR/ (one PNG per completion)")
    p.add_argument("--n", type=int, default=1, help="completions to draw (diffusion models: each its own noise)")
    p.add_argument("--seed", type=int, default=0, help="seed of a diffusion model's noise")
    p.add_argument("--steps", type=int, default=None, help="diffusion: denoising steps (default: the model's)")
    p.add_argument("--sampler", default=None, help="diffusion: ddim or ddpm (default: the model's)")
    p.add_argument("--eta", type=float, default=None, help="diffusion: DDIM's noise, 0 to 1 (default: the model's)")
    p.add_argument("--resample", type=int, default=1,
                   help="diffusion: passes per step (RePaint's resampling, 1-20): the fill agrees better with its "
                        "context at that many times the cost; 1 is off")
    p.add_argument("--label", type=int, default=None, help="cddpm: the class to complete as")
    p.add_argument("--guidance", type=float, default=None, help="cddpm: classifier-free guidance scale")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from keras_gen.commands.upscale import read_image
    from keras_gen.core import inpainting
    from keras_gen.core.images import to_uint8
    from keras_gen.images import check_samples_path, save_grid, save_image
    from keras_gen.restorers import Completer

    out = check_samples_path(args.out)
    to_folder = str(args.out).endswith(("/", "\\")) or out.is_dir()
    if not to_folder and out.suffix.lower() != ".png":
        raise KerasGenError(f"--out {args.out}: inpaint writes an image (out.png) or a folder (DIR/).")
    if args.mask is None and args.outpaint is None:
        raise KerasGenError("nothing to generate: pass --mask MASK.png (white where pixels are to be generated) "
                            "and/or --outpaint LEFT,TOP,RIGHT,BOTTOM.")
    if not Path(args.input).is_file():
        raise KerasGenError(f"{args.input} does not exist or is not a file: pass the image to complete.")
    image = read_image(args.input)
    hole = inpainting.read_mask(args.mask, *image.shape[:2]) if args.mask else None
    outpaint = inpainting.parse_outpaint(args.outpaint) if args.outpaint else None
    known, hole = inpainting.canvas(image, hole, outpaint)
    completer = Completer.from_path(args.path)
    height, width, channels = known.shape
    if completer.fixed_size:
        model_shape = completer.image_shape
    else:
        if min(height, width) < completer.min_side:
            raise KerasGenError(f"the image is {height}x{width} px, below the smallest {completer.name} takes "
                                f"({completer.min_side} px a side): pass a larger image.")
        model_shape = (height, width, completer.channels)
    given = {name: getattr(args, name) for name in DIFFUSION_FLAGS if getattr(args, name) is not None}
    if completer.kind == "network" and (given or args.resample != 1):
        raise KerasGenError(f"{', '.join('--' + k for k in given) or '--resample'}: options of diffusion models; "
                            f"{completer.name} is an inpainting network (it takes only the image and the mask).")
    if not 1 <= args.resample <= 20:
        raise KerasGenError(f"--resample must be from 1 to 20, got {args.resample}.")
    model_image, model_hole = inpainting.fit_to_model(known, hole, model_shape)
    filled = completer.complete(model_image, model_hole, args.n, args.seed, given, args.resample)
    outputs = inpainting.composite(known, inpainting.back_to_canvas(to_uint8(filled), height, width, channels), hole)
    if to_folder:
        stem = Path(args.input).stem
        for i, completion in enumerate(outputs):
            save_image(completion, Path(out) / (f"{stem}.png" if len(outputs) == 1 else f"{stem}-{i}.png"))
        where = f"{out}/"
    elif len(outputs) == 1:
        save_image(outputs[0], out)
        where = str(out)
    else:
        save_grid(outputs, out, ncols=min(len(outputs), 8))
        where = str(out)
    resized = "" if model_shape[:2] == (height, width) else f", completed at {model_shape[0]}x{model_shape[1]} px"
    print(f"filled {int(hole.sum())} of {height * width} px of {args.input} ({height}x{width}{resized}) with "
          f"{completer.name} ({completer.runtime}): {len(outputs)} completion(s) in {where}")
    return 0
