"""`keras-gen sample RUN|EXPORT`: draw samples from a training run (Keras) or an export
(onnxruntime alone, no TensorFlow) into a grid, one PNG per sample, or an npz with the conditions.

Each input the model declares (an option such as --steps, a code, an image) is a flag of its own
(`--NAME VALUE`, parsed here against the model's request specs); --inputs lists them.
"""

from __future__ import annotations

import sys

from keras_gen.commands.common import comma_list, load_run_or_export
from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sample", help="draw samples from a run or an export",
                              description="Each option the model declares (--steps, --guidance, --truncation, "
                                          "...), each code (InfoGAN) and each image input is a flag too; --inputs "
                                          "lists them.")
    p.add_argument("path", help="training run folder, or export folder (EXPORTS/NAME[/VERSION])")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="grid.png",
                   help="grid.png (a grid), DIR/ (one PNG per sample), or samples.npz (uint8 array + conditions)")
    p.add_argument("--label", type=int, default=None, help="class label (conditional models)")
    p.add_argument("--labels", default=None, help="classes to cycle through, e.g. 0,1,2 (default: every class)")
    p.add_argument("--text", action="append", default=None, metavar="CAPTION",
                   help="caption of a text-to-image model, e.g. \"a large blue circle\"; repeat for several, cycled "
                        "over the samples (default: the model's example captions in turn)")
    p.add_argument("--inputs", action="store_true", help="list the model's request inputs and their flags, then stop")
    p.add_argument("--variant", default=None, choices=("float32", "fp16", "int8"),
                   help="on an export: run its smaller ONNX file (export --onnx-variants); default float32")
    p.add_argument("--quiet", action="store_true", help="no progress bar over a sampling loop's steps (there is "
                   "none either when stderr is not a terminal)")
    p.set_defaults(func=run, takes_request_flags=True)


def run(args, extra: list[str]) -> int:
    from keras_gen.images import check_samples_path, save_samples, to_uint8
    from keras_gen.inputs import check_request, resolve_conditions
    from keras_gen.paths import RUN, path_kind

    kind = path_kind(args.path)
    n, seed = check_request(args.n, args.seed)
    if not args.inputs:
        check_samples_path(args.out)
    model, _ = load_run_or_export(args.path, variant=args.variant)
    specs = model.request_specs() if kind == RUN else model.input_specs
    if args.inputs:
        print(describe_request(specs))
        return 0
    conditions = _request_conditions(args, extra, specs)
    _check_image_sides(conditions, specs, (model.export_metadata() if kind == RUN else model.metadata))
    if kind == RUN:
        with model.ema_weights():  # the weights an export carries: the EMA when the run kept one
            images = _sample_loop_with_bar(model, n, seed, conditions, args.quiet, looped=model.sampler())
            images = to_uint8(model.sample(n, seed=seed, **conditions) if images is None else images)
    else:
        images = _sample_loop_with_bar(model, n, seed, conditions, args.quiet, looped=model.sampler)
        images = model.sample(n, seed, **conditions) if images is None else images
    # The npz form records the conditions each sample was drawn with, spelled out per sample.
    out = save_samples(images, args.out, resolve_conditions(specs, n, seed, conditions),
                       ncols=_grid_columns(specs, conditions))
    print(f"wrote {n} samples (seed {seed}) to {out}")
    return 0


def _flag_value(spec, flag: str, value: str):
    """A request flag's text as the input's value: numbers, comma lists (cycled over the
    samples), `;`-separated vectors for a multi-dimensional code, or an image file's path."""
    from keras_gen.images import load_image_file

    if spec.kind == "image":
        _check_image_file_side(value, flag)
        return load_image_file(value, spec.shape)
    if spec.kind == "text":
        return _captions(spec, [value])
    number = int if spec.dtype.startswith("int") else float
    numbers = f"{'whole ' if number is int else ''}numbers"
    if spec.kind == "option" and spec.choices and value in spec.choices:
        return spec.choices.index(value)  # `--sampler ddpm`
    if spec.kind == "option":
        try:
            return number(value)
        except ValueError:
            raise KerasGenError(f"{flag} takes {numbers}, got {value!r}.") from None
    rows = [comma_list(row, flag, number, numbers) for row in value.split(";") if row.strip()]
    if not rows:
        raise KerasGenError(f"{flag} takes comma-separated {numbers}, got {value!r}.")
    return rows[0] if spec.shape == () and len(rows) == 1 else rows


def _check_image_file_side(path: str, flag: str) -> None:
    """Image files are decoded like a data folder's, which refuses a side below MIN_SOURCE_SIDE:
    say that minimum here (the file's header only), before the file is loaded."""
    from PIL import Image

    from keras_gen.data.folders import MIN_SOURCE_SIDE

    try:
        with Image.open(path) as image:
            width, height = image.size
    except Exception:  # missing or not an image: load_image_file says which
        return
    if min(width, height) < MIN_SOURCE_SIDE:
        raise KerasGenError(f"{flag} {path} is {width}x{height} px; image files need at least {MIN_SOURCE_SIDE} px on "
                            "each side. Pass a larger image.")


def _check_image_sides(conditions: dict, specs, metadata: dict) -> None:
    """An image input smaller than the model's networks take (a model that declares
    `min_image_side` in its export metadata: the translation models) is one line naming the rule."""
    min_side = int(metadata.get("min_image_side") or 1)
    for spec in specs:
        image = conditions.get(spec.name) if spec.kind == "image" else None
        if image is not None and min(image.shape[1:3]) < min_side:
            from keras_gen.core.translation import too_small_message

            raise KerasGenError(too_small_message(metadata.get("model", "the model"), min_side,
                                                  int(metadata.get("size_multiple") or 1), *image.shape[1:3],
                                                  f"--{spec.name}"))


def _request_conditions(args, extra: list[str], specs) -> dict:
    """--label/--labels, and one `--NAME VALUE` flag per declared option, code or image input."""
    from keras_gen.inputs import condition_specs

    settable = {s.name: s for s in condition_specs(specs)}
    conditions = {}
    label_specs = [s for s in specs if s.kind == "label"]
    if args.label is not None or args.labels is not None:
        if not label_specs:
            raise KerasGenError("--label/--labels need a class-conditional model; this one takes "
                                + (", ".join(f"--{k.replace('_', '-')}" for k in settable) or "no conditions") + ".")
        if args.label is not None and args.labels is not None:
            raise KerasGenError("pass --label L or --labels 0,1,2, not both.")
        values = [args.label] if args.label is not None else comma_list(args.labels, "--labels", int, "class indices")
        conditions[label_specs[0].name] = values
    if args.text is not None:
        text_specs = [s for s in specs if s.kind == "text"]
        if len(text_specs) != 1:
            raise KerasGenError("--text is for a text-to-image model; this one takes "
                                + (", ".join(f"--{k.replace('_', '-')}" for k in settable) or "no conditions") + ".")
        conditions[text_specs[0].name] = _captions(text_specs[0], args.text)
    it = iter(extra)
    for flag in it:
        flag, inline = flag.split("=", 1) if flag.startswith("--") and "=" in flag else (flag, None)
        name = flag[2:].replace("-", "_") if flag.startswith("--") else None
        if name in conditions:
            raise KerasGenError(f"{flag} is given twice (--text is the caption input).")
        if name not in settable or settable[name].kind == "label":
            known = ", ".join(f"--{k.replace('_', '-')}" for k, v in settable.items() if v.kind != "label") or "none"
            raise KerasGenError(f"unknown flag {flag!r} for this model; its request flags: {known}.")
        value = inline if inline is not None else next(it, None)
        if value is None:
            raise KerasGenError(f"{flag} needs a value.")
        conditions[name] = _flag_value(settable[name], flag, value)
    return conditions


def _captions(spec, captions: list[str]) -> list[str]:
    """The captions of --text, checked now (no words, too many: errors); unknown words are drawn
    as the model's unknown-word token, with a warning naming them."""
    from keras_gen.commands.common import print_warning
    from keras_gen.core.text import tokenize

    _, unknown = tokenize(captions, spec.vocabulary, spec.max_words)
    if unknown:
        print_warning(f"the model does not know {', '.join(map(repr, unknown))}: drawn as an unknown word (its "
                      f"vocabulary: {' '.join(spec.vocabulary[:60])}{' ...' if len(spec.vocabulary) > 60 else ''}).")
    return list(captions)


def _grid_columns(specs, conditions) -> int | None:
    """A class-conditional model's default grid: one column per class (samples go through the
    classes in turn), so each column is one class."""
    label = next((s for s in specs if s.kind == "label"), None)
    return label.num_classes if label is not None and label.name not in conditions else None


def describe_request(specs) -> str:
    lines = ["inputs of a sampling request (keras-gen sample PATH --NAME VALUE):"]
    for spec in specs:
        flag = f"--{spec.name.replace('_', '-')}"
        if spec.kind == "latent":
            how = "drawn from --seed"
        elif spec.kind == "code":
            how = f"drawn from --seed unless given ({flag} VALUE; comma lists cycle over the samples)"
        elif spec.kind == "label":
            how = "--label L | --labels 0,1,2 (default: every class in turn)"
        elif spec.kind == "image":
            how = f"{flag} IMAGE_FILE (required)"
        elif spec.kind == "text":
            how = f"--text \"CAPTION\" (repeat for several; default: {len(spec.examples or ())} example captions in turn)"
        else:
            how = f"{flag} VALUE (default {spec.default}, range {list(spec.range)})"
        lines.append(f"  {spec.name:12s} {spec.kind:7s} {spec.description}; {how}")
    return "\n".join(lines)


def _sample_loop_with_bar(model, n, seed, conditions, quiet: bool, looped):
    """A loop model's samples with a progress bar over the sampler's steps on stderr (tqdm), or
    None where there is no loop, no terminal on stderr, or --quiet: then plain `model.sample`."""
    from keras_gen.samplers import sample_with_progress, takes_progress

    if quiet or not sys.stderr.isatty() or not takes_progress(looped):
        return None
    from tqdm import tqdm

    with tqdm(desc="sampling", unit="step", file=sys.stderr, leave=False) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        return sample_with_progress(model, n, seed, conditions, progress)
