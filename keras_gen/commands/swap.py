"""`keras-gen swap RUN|EXPORT --input IMAGE --to a|b`: face swap (a faceswap model's shared encoder,
then the other identity's decoder), or any image-to-image endpoint of a model with --endpoint;
on an export it runs on onnxruntime.
"""

from __future__ import annotations

from keras_gen.commands.common import quiet_tensorflow
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("swap", help="face swap: encode with the shared encoder, decode as the other identity "
                                           "(faceswap runs and exports)",
                              description="Encodes each input with the shared encoder and decodes it with the "
                                          "decoder of identity --to. Inputs of any size are centre-cropped to a square "
                                          "and resized to the model's image size. On an export it runs on onnxruntime.")
    p.add_argument("path", help="training run folder, or export folder (EXPORTS/NAME[/VERSION])")
    p.add_argument("--input", nargs="+", action="extend", required=True, metavar="IMAGE",
                   help="image files and/or folders of images (repeatable)")
    p.add_argument("--to", default=None, help="the identity to decode as: b (A -> B, swap_a_to_b) or a")
    p.add_argument("--endpoint", default=None,
                   help="any image-to-image endpoint of the model by name, instead of --to")
    p.add_argument("--out", default="swap.png",
                   help="swap.png (a grid of input | output pairs) or DIR/ (one PNG per input, named after it)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Face swap (and any image-to-image endpoint, --endpoint) on a run or an export."""
    from keras_gen import image_endpoints as ie
    from keras_gen.images import check_samples_path, save_grid, save_image
    from keras_gen.paths import RUN, path_kind

    if (args.to is None) == (args.endpoint is None):
        raise KerasGenError("pass --to a|b (the identity to decode as), or --endpoint NAME, one of the two.")
    out = check_samples_path(args.out)
    if out.suffix.lower() == ".npz":
        raise KerasGenError(f"--out {args.out}: swap writes a grid image (out.png) or a folder (DIR/).")
    files = ie.image_files(args.input)  # missing files are refused before any model loads
    if path_kind(args.path) == RUN:
        quiet_tensorflow()
    runner = ie.ImageToImage.from_path(args.path)
    name = runner.check(args.endpoint) if args.endpoint else ie.swap_endpoint(runner.names, args.to, runner.model_name)
    images, resized = ie.load_inputs(files, runner.image_shape)
    size = "x".join(str(d) for d in runner.image_shape[:2])
    if resized:
        print(f"resized {len(resized)} of {len(files)} input(s) to {size} (the model's image size; "
              "centre-cropped to a square first)")
    outputs = runner.run(name, images)
    if str(args.out).endswith(("/", "\\")) or out.is_dir():
        for image, file_name in zip(outputs, ie.output_names(files)):
            save_image(image, out / file_name)
        print(f"wrote {len(outputs)} image(s) through {name} ({runner.runtime}) to {out}/")
    else:
        ncols = ie.pair_grid_columns(len(outputs))
        save_grid(ie.interleave(images, outputs), out, ncols=ncols)
        print(f"wrote {len(outputs)} input | {name} pair(s) ({runner.runtime}) to {out}")
    return 0
