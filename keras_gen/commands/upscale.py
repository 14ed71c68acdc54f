"""`keras-gen upscale RUN|EXPORT --input FILE|DIR --out FILE|DIR [--scale S] [--colour auto|rgb|y]
[--tile T]`: super-resolution of real images of any size and aspect by a vdsr, srresnet, srgan or
espcn run (Keras) or export (onnxruntime, no TensorFlow), with the same output on both.
"""

from __future__ import annotations

from keras_gen.core.upscaling import COLOUR_MODES, DEFAULT_TILE
from keras_gen.errors import KerasGenError

COLOUR_HELP = ("how colour images go through the network: rgb (whole: the network on the image's channels; a grey "
               "network on R, G and B in turn), y (on Y: the luma of YCbCr through the network, the chroma Cb and Cr "
               "upscaled bicubically, as SR papers do), auto (default: rgb when the network has the image's colours, "
               "y for a colour image and a grey network)")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("upscale", help="super-resolution of images of any size with a vdsr, srresnet, srgan or "
                                              "espcn run or export",
                              description="Upscales each input at its own size and aspect. Images larger than --tile "
                                          "go through in overlapping tiles whose seams do not show: each tile keeps "
                                          "the model's receptive radius of context, so the output equals the "
                                          "untiled one. On an export it runs on onnxruntime.")
    p.add_argument("path", help="training run folder, or export folder (EXPORTS/NAME[/VERSION])")
    p.add_argument("--input", nargs="+", action="extend", required=True, metavar="FILE|DIR",
                   help="image files and/or folders of images (repeatable)")
    p.add_argument("--out", required=True, help="out.png (one input) or DIR/ (one PNG per input, named after it)")
    p.add_argument("--scale", type=int, default=None,
                   help="up-scaling factor, one the model was trained for (default: the smallest of them)")
    p.add_argument("--colour", "--color", dest="colour", default="auto", choices=COLOUR_MODES, help=COLOUR_HELP)
    p.add_argument("--tile", type=int, default=DEFAULT_TILE,
                   help=f"largest side (input pixels) run at once; larger images are tiled (default {DEFAULT_TILE})")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from keras_gen import image_endpoints as ie
    from keras_gen.core.images import from_uint8, to_uint8
    from keras_gen.core.upscaling import upscale_image
    from keras_gen.images import check_samples_path, save_image
    from keras_gen.restorers import Upscaler

    out = check_samples_path(args.out)
    to_folder = str(args.out).endswith(("/", "\\")) or out.is_dir()
    if out.suffix.lower() == ".npz" or (not to_folder and out.suffix.lower() != ".png"):
        raise KerasGenError(f"--out {args.out}: upscale writes an image (out.png) or a folder (DIR/).")
    files = ie.image_files(args.input)  # missing files are refused before any model loads
    if len(files) > 1 and not to_folder:
        raise KerasGenError(f"--out {args.out} is one image, and {len(files)} inputs were given: pass a folder "
                            "(--out DIR/).")
    upscaler = Upscaler.from_path(args.path)
    scale = upscaler.check_scale(args.scale)
    smallest = 2 * upscaler.margin + upscaler.min_side
    if args.tile < smallest:
        raise KerasGenError(f"--tile {args.tile} is below the smallest tile of {upscaler.name}: {smallest} px (its "
                            f"receptive radius of {upscaler.margin} px on each side and {upscaler.min_side} px within).")
    images = []
    for path in files:
        image = read_image(path)
        if min(image.shape[:2]) < upscaler.min_side:
            raise KerasGenError(f"{path} is {image.shape[0]}x{image.shape[1]} px, below the smallest tile of "
                                f"{upscaler.name} ({upscaler.min_side} px a side): pass a larger image.")
        images.append(image)
    written = []
    for path, image, name in zip(files, images, ie.output_names(files)):
        result = upscale_image(lambda x: upscaler.upscale(x, scale), from_uint8(image), scale, upscaler.channels,
                               args.colour, args.tile, upscaler.margin)
        target = Path(out) / name if to_folder else out
        save_image(to_uint8(result), target)
        written.append((path, image.shape, result.shape, target))
    for path, before, after, target in written:
        print(f"upscaled {path} x{scale} ({before[1]}x{before[0]} -> {after[1]}x{after[0]} px, {upscaler.runtime}) "
              f"to {target}")
    return 0


def read_image(path):
    """uint8 (H, W, C) of an image file at its own size and channels (grey stays grey, colour
    colour; alpha over white), or one line saying why not."""
    from keras_gen.core.decoding import MIN_SOURCE_SIDE, TooSmallImageError, decode_image

    try:
        return decode_image(path, None)
    except TooSmallImageError as err:
        raise KerasGenError(f"{path} is {err}: images need at least {MIN_SOURCE_SIDE} px a side.") from None
    except Exception as err:  # Pillow raises many types for bad files
        raise KerasGenError(f"Cannot read image {path}: {err}") from None
