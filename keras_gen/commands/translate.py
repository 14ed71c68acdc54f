"""`keras-gen translate RUN|EXPORT --input FILE|DIR --out FILE|DIR [--direction a_to_b|b_to_a]`:
image-to-image translation by a translation model (pix2pix, cyclegan) through its direction's
endpoint: the Keras function on a run, its own ONNX file on onnxruntime on an export (no
TensorFlow imported), with the same output.

Every image keeps its own size (a translation network is fully convolutional): sides that are
not a multiple of what the network halves to are padded by reflection inside it and cropped back;
an image smaller than the model takes is refused before anything runs, with the rule.
"""

from __future__ import annotations

from keras_gen.commands.common import quiet_tensorflow
from keras_gen.core.translation import DIRECTIONS, direction_message, too_small_message
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("translate", help="translate images A -> B (or B -> A) with a pix2pix or cyclegan "
                                                "run or export",
                              description="Translates each input image, at its own size, through the model's "
                                          "a_to_b or b_to_a endpoint. On an export it runs on onnxruntime.")
    p.add_argument("path", help="training run folder, or export folder (EXPORTS/NAME[/VERSION])")
    p.add_argument("--input", nargs="+", action="extend", required=True, metavar="FILE|DIR",
                   help="image files and/or folders of images (repeatable)")
    p.add_argument("--out", required=True,
                   help="out.png (one input: its translation; several of one size: a grid of input | output pairs) "
                        "or DIR/ (one PNG per input, named after it)")
    p.add_argument("--direction", default="a_to_b", help="a_to_b (default) or b_to_a (cyclegan)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from keras_gen import image_endpoints as ie
    from keras_gen.core.decoding import load_image_file
    from keras_gen.images import check_samples_path, save_grid, save_image
    from keras_gen.paths import RUN, path_kind

    if args.direction not in DIRECTIONS:
        raise KerasGenError(f"--direction must be a_to_b or b_to_a, got {args.direction!r}.")
    out = check_samples_path(args.out)
    if out.suffix.lower() == ".npz":
        raise KerasGenError(f"--out {args.out}: translate writes an image (out.png) or a folder (DIR/).")
    to_folder = str(args.out).endswith(("/", "\\")) or out.is_dir()
    files = ie.image_files(args.input)  # missing files are refused before any model loads
    if path_kind(args.path) == RUN:
        quiet_tensorflow()
    runner = ie.ImageToImage.from_path(args.path)
    name = translation_endpoint(runner, args.direction)
    channels = runner.inputs[name].shape[-1]
    images = [load_image_file(path, (None, None, channels))[0] for path in files]  # each at its own size
    check_sides(runner, files, images)
    if not to_folder and len(files) > 1 and len({image.shape for image in images}) > 1:
        raise KerasGenError(f"--out {args.out} is one image, and the {len(files)} inputs differ in size: pass a "
                            "folder (--out DIR/) for one translation per input.")
    outputs = [None] * len(images)
    for shape in dict.fromkeys(image.shape for image in images):  # one batch per size, in input order
        chosen = [i for i, image in enumerate(images) if image.shape == shape]
        for i, image in zip(chosen, runner.run(name, np.stack([images[i] for i in chosen]))):
            outputs[i] = image
    if to_folder:
        for image, file_name in zip(outputs, ie.output_names(files)):
            save_image(image, Path(out) / file_name)
        print(f"translated {len(outputs)} image(s) {name} ({runner.runtime}) into {out}/")
    elif len(outputs) == 1:
        save_image(outputs[0], out)
        print(f"translated {files[0]} {name} ({runner.runtime}) to {out}")
    else:
        save_grid(ie.interleave(np.stack(images), np.stack(outputs)), out, ncols=ie.pair_grid_columns(len(outputs)))
        print(f"wrote {len(outputs)} input | {name} pair(s) ({runner.runtime}) to {out}")
    return 0


def translation_endpoint(runner, direction: str) -> str:
    """The endpoint of `direction`, or one line saying what the model translates."""
    held = [d for d in DIRECTIONS if d in runner.inputs]
    if not held:
        raise KerasGenError(f"translate works with translation models (pix2pix, cyclegan); {runner.model_name} has no "
                            "a_to_b or b_to_a endpoint" + (f" (its image-to-image endpoints: {', '.join(runner.names)};"
                                                          " keras-gen swap --endpoint runs them)" if runner.names else "")
                            + ".")
    if direction not in held:
        raise KerasGenError(direction_message(runner.model_name, direction, held))
    return direction


def check_sides(runner, files, images) -> None:
    """Refuse, in one line naming the rule, an input smaller than the model's networks take."""
    min_side = int(runner.metadata.get("min_image_side") or 1)
    for path, image in zip(files, images):
        height, width = image.shape[:2]
        if min(height, width) < min_side:
            raise KerasGenError(too_small_message(runner.model_name, min_side,
                                                  int(runner.metadata.get("size_multiple") or 1), height, width,
                                                  str(path)))
