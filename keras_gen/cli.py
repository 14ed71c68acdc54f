"""`keras-gen` command line: models, train, sample, export, evaluate.

Heavy imports (TensorFlow, Keras) happen inside the commands that need them, so `keras-gen
sample EXPORT` runs on onnxruntime alone. Errors a user can cause are `KerasGenError`s: the
CLI prints their message and exits with status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from keras_gen.errors import KerasGenError


def _quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up noise, so a command prints only its own lines.

    TF_CPP_MIN_LOG_LEVEL hides TensorFlow's C++ logs once they are set up, but the lines logged
    while its libraries load (oneDNN, the CUDA probe, "All log messages before
    absl::InitializeLog()") go straight to file descriptor 2: point it at /dev/null for the import.
    A failing import still raises; its message is printed after the descriptor is restored.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# -- commands ---------------------------------------------------------------------------------
def cmd_models(args) -> int:
    from keras_gen import registry

    # Read from the model files' source: listing names and options imports no TensorFlow.
    for entry in registry.catalog():
        print(f"{entry['name']:12s} {entry['description']}")
        print(f"{'':12s} family: {entry['family']}; trains on: {entry['data_kind']}; paper: {entry['paper']}")
        for key, (default, help_text) in entry["options"].items():
            print(f"{'':14s}--set {key}={default!r}" + (f"  ({help_text})" if help_text else ""))
    print(f"{'classifier':12s} domain classifier for offline FID/KID features (`keras-gen train classifier --data D`)")
    return 0


def cmd_train(args) -> int:
    _quiet_tensorflow()
    if args.model == "classifier":
        from keras_gen.data.common import check_image_size
        from keras_gen.features.classifier import train_domain_classifier

        if args.epochs is not None and args.epochs < 1:
            raise KerasGenError(f"--epochs must be at least 1, got {args.epochs}.")
        if args.image_size is not None:
            check_image_size(args.image_size, default=0)  # 0 is refused, not read as "the default"
        _, meta = train_domain_classifier(
            args.data or "digits", image_size=args.image_size, data_dir=args.data_dir, seed=args.seed or 0,
            **({"batch_size": args.batch_size} if args.batch_size else {}),
            cache_dir=args.out, force=True, verbose=1 if sys.stdout.isatty() else 2,
            **({"epochs": args.epochs} if args.epochs is not None else {}),
        )
        print(f"domain classifier for {args.data}: test accuracy {meta['test_accuracy']:.4f}")
        print(f"saved: {meta.get('path', '(cache)')}")
        return 0
    if not args.out:
        raise KerasGenError("train needs --out RUN, the folder for checkpoints, samples and logs.")
    from keras_gen import registry
    from keras_gen.callbacks import TrainingWarning
    from keras_gen.training import RunConfig, resolve_config, train

    given = RunConfig(
        args.model, options=registry.parse_options(registry.get(args.model), args.set), data=args.data,
        data_b=args.data_b, data_dir=args.data_dir, image_size=args.image_size, batch_size=args.batch_size,
        seed=args.seed, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, jit_compile=args.jit_compile,
    )
    config = resolve_config(args.out, given, resume=args.resume)  # every refusal before any evaluator is built
    callbacks = [_periodic_evaluation(args, config)] if args.eval_every else []
    with _warnings_as_lines(TrainingWarning):
        summary = train(args.out, given, resume=args.resume, callbacks=callbacks,
                        verbose=1 if sys.stdout.isatty() else 2)  # one line an epoch in logs
    print(f"\ntrained {summary['model']} for epochs {summary['initial_epoch'] + 1}..{summary['epochs']} "
          f"({summary['steps_per_epoch']} steps each) in {summary['seconds']} s")
    print(f"  checkpoint:    {summary['checkpoint']}")
    print(f"  samples:       {summary['samples']}  (per epoch: {Path(summary['run']) / 'samples'})")
    for picture in ("interpolation", "traversal", "manifold", "code_traversal"):
        if summary.get(picture):
            label = picture + ":"
            print(f"  {label:15s}{' ' if len(label) >= 15 else ''}{summary[picture]}")
    print(f"  tensorboard:   tensorboard --logdir {summary['logs']}")
    return 0


@contextmanager
def _warnings_as_lines(category):
    """Warnings of `category` raised in the block become `keras-gen: warning: ...` lines on stderr,
    printed also when the block then fails; other warnings show as usual. They are replayed once
    the recording has ended: inside it, `showwarning` would record them again, without end."""
    recorded = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", category)
            try:
                yield
            finally:
                recorded = list(caught)
    finally:
        for w in recorded:
            if issubclass(w.category, category):
                print(f"keras-gen: warning: {w.message}", file=sys.stderr)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _periodic_evaluation(args, config):
    """The PeriodicEvaluation callback `--eval-every` asks for, its sample count checked now, not at epoch N."""
    if args.eval_every < 0:
        raise KerasGenError(f"--eval-every must be 0 (off) or a number of epochs, got {args.eval_every}.")
    if args.eval_n < 1:
        raise KerasGenError(f"--eval-n must be at least 1, got {args.eval_n}.")
    from keras_gen.callbacks import PeriodicEvaluation
    from keras_gen.evaluation import Evaluator, parse_metrics

    metrics = parse_metrics(args.eval_metrics)
    evaluator = Evaluator(config.data, image_size=config.image_size, channels=config.channels, n_real=args.eval_n,
                          seed=config.seed, data_dir=config.data_dir)
    evaluator.check_sample_count(args.eval_n, metrics)
    return PeriodicEvaluation(evaluator, every=args.eval_every, n=args.eval_n, metrics=metrics,
                              log_dir=Path(args.out) / "logs")


def _flag_value(spec, flag: str, value: str):
    """A request flag's text as the input's value: numbers, comma lists (cycled over the
    samples), `;`-separated vectors for a multi-dimensional code, or an image file's path."""
    from keras_gen.images import load_image_file

    if spec.kind == "image":
        return load_image_file(value, spec.shape)
    number = int if spec.dtype.startswith("int") else float
    if spec.kind == "option" and spec.choices and value in spec.choices:
        return spec.choices.index(value)  # `--sampler ddpm`
    try:
        if spec.kind == "option":
            return number(value)
        rows = [[number(v) for v in row.split(",") if v.strip()] for row in value.split(";") if row.strip()]
    except ValueError:
        raise KerasGenError(f"{flag} takes {'whole ' if number is int else ''}numbers, got {value!r}.") from None
    return rows[0] if spec.shape == () and len(rows) == 1 else rows


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
        try:
            values = [args.label] if args.label is not None else [int(v) for v in args.labels.split(",") if v.strip()]
        except ValueError:
            raise KerasGenError(f"--labels takes comma-separated class indices, got {args.labels!r}.") from None
        conditions[label_specs[0].name] = values
    it = iter(extra)
    for flag in it:
        flag, inline = flag.split("=", 1) if flag.startswith("--") and "=" in flag else (flag, None)
        name = flag[2:].replace("-", "_") if flag.startswith("--") else None
        if name not in settable or settable[name].kind == "label":
            known = ", ".join(f"--{k.replace('_', '-')}" for k, v in settable.items() if v.kind != "label") or "none"
            raise KerasGenError(f"unknown flag {flag!r} for this model; its request flags: {known}.")
        value = inline if inline is not None else next(it, None)
        if value is None:
            raise KerasGenError(f"{flag} needs a value.")
        conditions[name] = _flag_value(settable[name], flag, value)
    return conditions


def _grid_columns(specs, conditions) -> int | None:
    """A class-conditional model's default grid: one column per class (samples go through the
    classes in turn), so each column is one class."""
    label = next((s for s in specs if s.kind == "label"), None)
    return label.num_classes if label is not None and label.name not in conditions else None


def _describe_request(specs) -> str:
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
        else:
            how = f"{flag} VALUE (default {spec.default}, range {list(spec.range)})"
        lines.append(f"  {spec.name:12s} {spec.kind:7s} {spec.description}; {how}")
    return "\n".join(lines)


def _sample_loop_with_bar(model, n, seed, conditions, quiet: bool, looped):
    """A loop model's samples with a progress bar over the sampler's steps on stderr (tqdm), or
    None where there is no loop, no terminal on stderr, or --quiet: then plain `model.sample`."""
    import sys

    from keras_gen.samplers import sample_with_progress, takes_progress

    if quiet or not sys.stderr.isatty() or not takes_progress(looped):
        return None
    from tqdm import tqdm

    with tqdm(desc="sampling", unit="step", file=sys.stderr, leave=False) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        return sample_with_progress(model, n, seed, conditions, progress)


def cmd_sample(args, extra: list[str]) -> int:
    from keras_gen.images import check_samples_path, save_samples, to_uint8
    from keras_gen.inputs import check_request, resolve_conditions
    from keras_gen.paths import RUN, path_kind

    kind = path_kind(args.path)
    n, seed = check_request(args.n, args.seed)
    if not args.inputs:
        check_samples_path(args.out)
    if kind == RUN:
        _quiet_tensorflow()
        from keras_gen.runs import load_run

        if args.variant not in (None, "float32"):
            raise KerasGenError(f"--variant {args.variant} picks an export's ONNX variant; {args.path} is a run.")
        model, _ = load_run(args.path)
        specs = model.request_specs()
        if args.inputs:
            print(_describe_request(specs))
            return 0
        conditions = _request_conditions(args, extra, specs)
        with model.ema_weights():  # the weights an export carries: the EMA when the run kept one
            images = _sample_loop_with_bar(model, n, seed, conditions, args.quiet, looped=model.sampler())
            images = to_uint8(model.sample(n, seed=seed, **conditions) if images is None else images)
    else:
        from keras_gen.edge import EdgeModel  # onnxruntime only: no TensorFlow on this path

        model = EdgeModel.from_path(args.path, variant=args.variant)
        specs = model.input_specs
        if args.inputs:
            print(_describe_request(specs))
            return 0
        conditions = _request_conditions(args, extra, specs)
        images = _sample_loop_with_bar(model, n, seed, conditions, args.quiet, looped=model.sampler)
        images = model.sample(n, seed, **conditions) if images is None else images
    # The npz form records the conditions each sample was drawn with, spelled out per sample.
    out = save_samples(images, args.out, resolve_conditions(specs, n, seed, conditions),
                       ncols=_grid_columns(specs, conditions))
    print(f"wrote {n} samples (seed {seed}) to {out}")
    return 0


def cmd_export(args) -> int:
    _quiet_tensorflow()
    from export import export_model
    from keras_gen.runs import load_run, run_summary

    model, config = load_run(args.run)
    summary = run_summary(args.run)
    training_info = {k: summary.get(k) for k in
                     ("model", "options", "data", "data_dir", "image_size", "channels", "batch_size", "seed",
                      "epochs_done", "train_steps", "last_logs")}
    training_info["run"] = Path(args.run).resolve().name  # the run's name; its location is the user's business
    version_dir = export_model(model, args.out, name=args.name or config["model"], version=args.version,
                               training_info=training_info, weights=args.weights, onnx_variants=args.onnx_variants)
    manifest = json.loads((Path(version_dir) / "manifest.json").read_text())
    print(f"exported {config['model']} ({manifest['metadata']['weights']} weights) to {version_dir}")
    parity = manifest["parity"]
    print(f"  parity on {parity['n']} inputs (max abs difference of float outputs, limit {parity['atol']:g}):")
    for output, pairs in parity["outputs"].items():
        for pair, value in pairs.items():
            print(f"    {output}: {pair.replace('_vs_', ' vs '):28s} {value:.3g}")
    for endpoint, outputs in parity.get("endpoints", {}).items():  # extra endpoints on onnxruntime
        dtypes = {o["name"]: o["dtype"] for o in manifest["endpoints"][endpoint]["outputs"]}
        for output, pairs in outputs.items():
            print(f"    {endpoint} {output}: " + ", ".join(f"{k.replace('_vs_', ' vs ')} {v:.3g}" for k, v in pairs.items())
                  + (" (uint8 levels)" if dtypes.get(output) == "uint8" else ""))
    sample = parity["sample"]
    print(f"  sample(n={parity['n']}, seed={parity['seed']}, conditions: {', '.join(sample['conditions']) or 'none'}), "
          f"uint8: SavedModel vs onnxruntime edge {sample['savedmodel_vs_edge']['max_abs_diff']}, "
          f"SavedModel vs Keras {sample['savedmodel_vs_keras']['max_abs_diff']}")
    for variant, entry in sorted((manifest.get("onnx_variants") or {}).items()):
        if not isinstance(entry, dict):
            continue
        if entry["status"] == "refused":
            print(f"  {entry['reason']}", file=sys.stderr)
            continue
        fid = entry.get("fid") or {}
        print(f"  {variant}: {entry['size']} bytes ({entry['size_ratio']:.0%} of float32), max abs diff "
              f"{entry['max_abs_diff']:.3g}, " + (f"domain FID {fid['variant']:.4g} vs float32 {fid['float32']:.4g} "
                                                   f"({fid['relative_change']:+.1%})" if "variant" in fid
                                                   else f"no FID: {fid.get('unavailable')}"))
    print(f"  files: {', '.join(sorted(manifest['files']))}")
    return 0


def cmd_deploy(args) -> int:
    from serving.tfserving import write_deployment

    written = write_deployment(args.exports, args.out, num_versions=args.num_versions, poll_seconds=args.poll_seconds,
                               replicas=args.replicas, max_replicas=args.max_replicas)
    print(f"wrote a TF Serving deployment for {args.exports} to {args.out}: {', '.join(sorted(written))}")
    print(f"  start it: cd {args.out} && docker compose up -d   (or kubectl apply -f kubernetes.yml; see README.md)")
    return 0


def cmd_serve(args) -> int:
    from serving.requests import Limits
    from serving.server import ServerOptions, serve

    options = ServerOptions(workers=args.workers, queue=args.queue, timeout_seconds=args.timeout,
                            poll_seconds=args.poll_seconds, lenient=args.lenient,
                            limits=Limits(max_batch=args.max_batch, max_image_side=args.max_image_side,
                                          max_steps=args.max_steps, max_body_bytes=args.max_body_mb << 20))
    serve(args.exports, port=args.port, grpc_port=None if args.grpc_port < 0 else args.grpc_port, host=args.host,
          options=options, onnx_variant=args.onnx_variant, session_threads=args.session_threads)
    return 0


def cmd_query(args, extra: list[str]) -> int:
    from serving.client import ServingClient

    client = ServingClient(args.url, timeout=args.timeout, retries=args.retries)
    try:
        if args.status or args.metadata:
            answer = client.status(args.model, args.version) if args.status else client.metadata(args.model, args.version)
            print(json.dumps(answer, indent=2))
            return 0
        conditions = {}
        for item in extra:  # --label 7, --steps 20, --set name=value: each a request input
            if item.startswith("--") and "=" in item:
                key, value = item[2:].split("=", 1)
            else:
                continue
            conditions[key.replace("-", "_")] = json.loads(value)
        names = [e[2:].replace("-", "_") for e in extra if e.startswith("--") and "=" not in e]
        values = [e for e in extra if not e.startswith("--")]
        if len(names) != len(values):
            raise KerasGenError(f"request flags come as --name value pairs, got {' '.join(extra)}.")
        for key, value in zip(names, values):
            try:
                conditions[key] = json.loads(value)
            except ValueError:
                raise KerasGenError(f"--{key}: {value!r} is not a number or a JSON list.") from None
        images = client.sample(args.model, n=args.n, seed=args.seed, version=args.version, **conditions)
    finally:
        client.close()
    from keras_gen.images import save_grid

    save_grid(images, args.out)
    print(f"{images.shape[0]} images {images.shape[1:]} from {args.url} ({args.model}) -> {args.out}")
    return 0


def cmd_swap(args) -> int:
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
        _quiet_tensorflow()
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


def _latent_model(path):
    """(model, run config or None) for latent pictures: a run's Keras model, or an export's EdgeModel."""
    from keras_gen.paths import RUN, path_kind

    if path_kind(path) == RUN:
        _quiet_tensorflow()
        from keras_gen.runs import load_run

        return load_run(path)
    from keras_gen.edge import EdgeModel

    return EdgeModel.from_path(path), None


def _weights(model):
    """The weights an export carries (the EMA, when the run kept one); nothing to swap on an export."""
    return model.ema_weights() if hasattr(model, "ema_weights") else contextlib.nullcontext()


def cmd_traverse(args) -> int:
    from keras_gen.images import check_image_path
    from keras_gen.pictures import check_latent_model, encoder_images, latent_traversal, model_name

    out = check_image_path(args.out)
    model, config = _latent_model(args.path)
    if args.codes:
        return _traverse_codes(args, out, model)
    args.span = 3.0 if args.span is None else args.span
    check_latent_model(model)  # before any data is read
    dims = [int(d) for d in args.dims.split(",") if d.strip()] if "," in args.dims else _whole(args.dims, "--dims")
    rank = args.rank
    if rank == "auto":
        rank = "kl" if config is not None and hasattr(model, "encode") and isinstance(dims, int) else "first"
    if rank == "kl" and (config is None or not hasattr(model, "encode")):
        raise KerasGenError(f"--rank kl needs a run of a model with an encoder (vae, cvae); {model_name(model)}"
                            + (" is an export (no encoder on onnxruntime)" if config is None else " has none")
                            + ". Use --rank first.")
    images = labels = None
    if rank == "kl":
        try:
            images, labels = encoder_images(model, config)
        except KerasGenError as err:
            raise KerasGenError(f"{err} (the KL ranking reads the run's test images; --rank first needs none)") from None
    with _weights(model):
        picture = latent_traversal(model, dims=dims, steps=args.steps, span=args.span, base=args.seed,
                                   label=args.label, images=images, labels=labels)
    picture.save(out)
    how = (f"ranked by mean KL over {len(images)} test images of {config['data']}: "
           + ", ".join(f"{k:.3g}" for k in picture.row_kl) + " nats" if picture.row_kl is not None else
           "as given" if isinstance(dims, list) else "the first ones")
    print(f"wrote {out}: {picture.rows} rows x {picture.cols} columns")
    print(f"  rows: latent dimensions {', '.join(map(str, picture.row_dims))} ({how})")
    print(f"  columns: z_d from {-args.span:g} to {args.span:g}; the other dimensions at "
          + ("0 (the prior's mean)" if args.seed is None else f"the latent of seed {args.seed}")
          + (f"; class {args.label if args.label is not None else 0}" if _labelled(model) else ""))
    return 0


def _traverse_codes(args, out, model) -> int:
    """`traverse --codes`: InfoGAN's figure 2 (keras_gen.pictures.code_traversal)."""
    from keras_gen.pictures import code_traversal

    span = 2.0 if args.span is None else args.span
    with _weights(model):
        picture = code_traversal(model, steps=args.steps, span=span, seed=0 if args.seed is None else args.seed)
    picture.save(out)
    print(f"wrote {out}: {picture.rows} rows x {picture.cols} columns")
    print(f"  rows: {picture.row_dims[0]} .. {picture.row_dims[-1]}")
    print(f"  columns: the continuous code from {-span:g} to {span:g}; z of seed {args.seed or 0}")
    return 0


def cmd_manifold(args) -> int:
    from keras_gen.images import check_image_path
    from keras_gen.pictures import latent_manifold

    out = check_image_path(args.out)
    model, _ = _latent_model(args.path)
    with _weights(model):
        picture = latent_manifold(model, steps=args.steps, label=args.label)
    picture.save(out)
    q = picture.values
    print(f"wrote {out}: {picture.rows} x {picture.cols} decoded latents at Gaussian quantiles "
          f"{q[0]:.2f} .. {q[-1]:.2f} (z_1 left to right, z_2 bottom to top)"
          + (f"; class {args.label if args.label is not None else 0}" if _labelled(model) else ""))
    return 0


def _labelled(model) -> bool:
    from keras_gen.pictures import request_specs

    return any(s.kind == "label" for s in request_specs(model))


def _whole(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise KerasGenError(f"{flag} takes a count or a comma list of dimensions, got {text!r}.") from None


def cmd_evaluate(args) -> int:
    _quiet_tensorflow()
    import warnings

    from keras_gen.evaluation import DataMismatchWarning, evaluate_path, format_report, save_report

    with warnings.catch_warnings():
        # Said at once on stderr, one line, before the minutes of scoring (the report's JSON keeps it too).
        warnings.simplefilter("ignore", DataMismatchWarning)
        report = evaluate_path(
            args.path, data=args.data, metrics=args.metrics, n=args.n, seed=args.seed, features=args.features,
            data_dir=args.data_dir, cache_dir=args.cache_dir, inception_weights=args.inception_weights,
            on_warning=lambda message: print(f"keras-gen: warning: {message}", file=sys.stderr, flush=True),
        )
    print(format_report(report))
    if args.json:
        print(f"wrote {save_report(report, args.json)}")
    return 0


# -- style and texture (issue 20): optimisation-based tools on images --------------------------
def _print_notes(notes) -> None:
    for note in notes:
        print(f"keras-gen: note: {note}", file=sys.stderr)


def _style_out(path) -> Path:
    from keras_gen.images import check_image_path

    return check_image_path(path)


def _layer_list(text: str, flag: str) -> tuple[str, ...]:
    layers = tuple(name.strip() for name in text.split(",") if name.strip())
    if not layers:
        raise KerasGenError(f"{flag}: give at least one VGG layer name, e.g. conv1_1,conv2_1")
    return layers


def cmd_stylize(args) -> int:
    """Gatys style transfer by optimisation, or one pass of a trained stylizer (--model)."""
    if args.content is None:
        raise KerasGenError("stylize needs --content IMAGE (a file, or a bundled picture such as photos:chelsea)")
    if args.model is not None:
        return _stylize_with_model(args)
    return _stylize_by_optimisation(args)


def _stylize_with_model(args) -> int:
    """fast_style (--style-mix over its trained styles) or adain (--style, --alpha) runs and exports."""
    from keras_gen.models.style.feedforward import stylize_with_model

    out = _style_out(args.out)
    _quiet_tensorflow()
    path, seconds, runtime, name, mix = stylize_with_model(args.model, args.content, out, args.style, args.style_mix,
                                                           args.alpha, args.size)
    print(f"wrote {path} ({name}, style weights {', '.join(f'{w:.3g}' for w in mix)}"
          + (f", alpha {args.alpha:g}" if name == "adain" else "") + f"; one pass in {seconds:.2f} s on {runtime})")
    return 0


def _stylize_by_optimisation(args) -> int:
    if not args.style:
        raise KerasGenError("stylize needs --style IMAGE (repeatable; a file or e.g. textures:brick)")
    from keras_gen.models.style import gatys, io

    out = _style_out(args.out)
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
    _print_notes(notes)
    _quiet_tensorflow()
    result, history = gatys.stylize(content, styles, mix, settings, progress=not args.quiet, intermediates=out)
    io.save_float(result, out)
    last = history[-1] if history else {}
    print(f"wrote {out} ({result.shape[1]}x{result.shape[0]}, {len(history)} steps, "
          f"content loss {last.get('content', float('nan')):.4g}, style loss {last.get('style', float('nan')):.4g} "
          "of its start value 1)")
    return 0


def cmd_texture(args) -> int:
    from keras_gen.models.style import io, texture

    out = _style_out(args.out)
    source, notes = io.load_float(args.source, args.source_size, "source image")
    _print_notes(notes)
    if args.method == "nn":
        result = texture.efros_leung(source, args.size, window=args.window, seed=args.seed)
        print(f"wrote {io.save_float(result, out)} ({args.size}x{args.size}, Efros-Leung, window {args.window})")
        return 0
    _quiet_tensorflow()
    result, history = texture.gram_texture(source, args.size, depth=args.depth, steps=args.steps, seed=args.seed,
                                           arch=args.arch, weights=args.vgg_weights, progress=not args.quiet)
    print(f"wrote {io.save_float(result, out)} ({args.size}x{args.size}, Gram matching to {args.depth}, "
          f"style loss {history[-1]['style']:.4g} of its start value 1)")
    return 0


def cmd_invert(args) -> int:
    from keras_gen.models.style import inversion, io

    out = _style_out(args.out)
    image, notes = io.load_float(args.image, args.size, "image")
    _print_notes(notes)
    _quiet_tensorflow()
    result, history = inversion.invert(image, args.layer, steps=args.steps, tv_weight=args.tv_weight,
                                       arch=args.arch, weights=args.vgg_weights, seed=args.seed,
                                       progress=not args.quiet)
    print(f"wrote {io.save_float(result, out)} (from {args.layer}; feature loss {history[-1]['feature']:.4g} "
          f"of its start value {history[0]['feature']:.4g})")
    return 0


def _add_style_parsers(sub) -> None:
    pictures = "a file, or a bundled picture: photos:NAME (astronaut, chelsea, coffee, rocket, ...) or textures:NAME " \
               "(brick, grass, gravel); grey and RGBA images are converted to RGB with a note"
    p = sub.add_parser("stylize", help="style transfer by optimisation (Gatys et al. 2016): L-BFGS or Adam on the "
                                       "pixels, content and style losses on VGG features")
    p.add_argument("--content", default=None, metavar="IMAGE", help=pictures)
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
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("texture", help="texture synthesis: Gram matching from noise (Gatys et al. 2015) or "
                                       "Efros-Leung nearest neighbours")
    p.add_argument("--source", required=True, metavar="IMAGE", help=pictures)
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
    p.set_defaults(func=cmd_texture)

    p = sub.add_parser("invert", help="feature inversion (Mahendran & Vedaldi 2015): the picture one VGG layer sees")
    p.add_argument("--image", required=True, metavar="IMAGE", help=pictures)
    p.add_argument("--layer", default="block3_conv1", help="conv4_2 or block4_conv2 style names")
    p.add_argument("--out", default="inversion.png")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--tv-weight", type=float, default=None, help="default: grows with the layer's depth")
    p.add_argument("--arch", default="vgg19", choices=("vgg19", "vgg16"))
    p.add_argument("--vgg-weights", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_invert)


# -- parser -----------------------------------------------------------------------------------
def _jit_compile_flag(value: str):
    choices = {"true": True, "false": False, "auto": "auto"}
    if value.lower() not in choices:
        raise argparse.ArgumentTypeError(f"expected true, false or auto, got {value!r}")
    return choices[value.lower()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-gen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("models", help="list registered models and what each exports").set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a registered model (or `classifier`) with model.fit")
    p.add_argument("model")
    p.add_argument("--data", default=None,
                   help="digits (default) | shapes | photos | textures | tfds:NAME | a folder")
    p.add_argument("--data-b", default=None,
                   help="second domain of unpaired models (a bundled name, tfds:NAME or a folder)")
    p.add_argument("--data-dir", default=None, help="TFDS data directory")
    p.add_argument("--out", default=None, help="run folder (for `classifier`: the cache folder)")
    p.add_argument("--image-size", type=int, default=None, help="default: the data's")
    p.add_argument("--epochs", type=int, default=None,
                   help="total epochs (default 10); with --resume, a new total (default: the run's own)")
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="default 64")
    p.add_argument("--seed", type=int, default=None, help="default 0")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model option (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--jit-compile", default=None, type=_jit_compile_flag,
                   help="XLA-compile train_step: true | false | auto (default: XLA on GPU, not on CPU)")
    p.add_argument("--eval-every", type=int, default=0,
                   help="evaluate every N epochs (domain FID/KID to TensorBoard); not part of the run's config")
    p.add_argument("--eval-metrics", default="fid,kid")
    p.add_argument("--eval-n", type=int, default=500, help="samples per periodic evaluation")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a run or an export",
                       description="Each option the model declares (--steps, --guidance, --truncation, ...), "
                                   "each code (InfoGAN) and each image input is a flag too; --inputs lists them.")
    p.add_argument("path", help="training run folder, or export folder (EXPORTS/NAME[/VERSION])")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="grid.png",
                   help="grid.png (a grid), DIR/ (one PNG per sample), or samples.npz (uint8 array + conditions)")
    p.add_argument("--label", type=int, default=None, help="class label (conditional models)")
    p.add_argument("--labels", default=None, help="classes to cycle through, e.g. 0,1,2 (default: every class)")
    p.add_argument("--inputs", action="store_true", help="list the model's request inputs and their flags, then stop")
    p.add_argument("--variant", default=None, choices=("float32", "fp16", "int8"),
                   help="on an export: run its smaller ONNX file (export --onnx-variants); default float32")
    p.add_argument("--quiet", action="store_true", help="no progress bar over a sampling loop's steps (there is "
                   "none either when stderr is not a terminal)")
    p.set_defaults(func=cmd_sample, takes_request_flags=True)

    p = sub.add_parser("export", help="export a run to SavedModel + ONNX + manifest (TF Serving layout)")
    p.add_argument("run")
    p.add_argument("--out", default="exports")
    p.add_argument("--name", default=None, help="model name in the repository (default: the model's)")
    p.add_argument("--version", type=int, default=None, help="version number (default: next free)")
    p.add_argument("--weights", default="auto", choices=("auto", "ema", "raw"),
                   help="export the EMA of the weights (auto: when the model kept one) or the raw weights")
    p.add_argument("--onnx-variants", default="", metavar="fp16,int8",
                   help="also write NAME.fp16.onnx / NAME.int8.onnx, each measured (size, parity, domain FID) and "
                        "refused when it moves the FID by more than 10%%")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("deploy", help="write a TF Serving deployment for an export repository: models.config, "
                                      "batching, compose and Kubernetes files")
    p.add_argument("exports", help="the export repository (EXPORTS/NAME/VERSION)")
    p.add_argument("--out", required=True, help="folder for the deployment files")
    p.add_argument("--num-versions", type=int, default=1, help="versions of each model TF Serving keeps serving")
    p.add_argument("--poll-seconds", type=int, default=30, help="how often TF Serving looks for new versions")
    p.add_argument("--replicas", type=int, default=2, help="Kubernetes replicas (the autoscaler's minimum)")
    p.add_argument("--max-replicas", type=int, default=8, help="the autoscaler's maximum")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("serve", help="serve an export repository on onnxruntime with TF Serving's REST and "
                                     "gRPC APIs")
    p.add_argument("exports", help="the export repository (EXPORTS/NAME/VERSION)")
    p.add_argument("--port", type=int, default=8501, help="REST port")
    p.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (-1: no gRPC)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--workers", type=int, default=4, help="predictions run at once")
    p.add_argument("--queue", type=int, default=64, help="requests that may wait for a worker; past it: 429")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per prediction; past it: 504")
    p.add_argument("--poll-seconds", type=float, default=2.0, help="how often new versions are looked for")
    p.add_argument("--max-batch", type=int, default=256, help="samples or rows per request")
    p.add_argument("--max-image-side", type=int, default=1024, help="pixels, for image inputs")
    p.add_argument("--max-steps", type=int, default=1000, help="a sampler's steps option")
    p.add_argument("--max-body-mb", type=int, default=8, help="request body limit (413 past it)")
    p.add_argument("--onnx-variant", default="float32", choices=("float32", "fp16", "int8"),
                   help="serve each version's smaller ONNX file (export --onnx-variants); default float32")
    p.add_argument("--session-threads", type=int, default=0,
                   help="onnxruntime intra-op threads per model session (0: one per physical core, fastest on a "
                        "machine of its own; 1 when the cores are shared or --workers requests keep them all busy)")
    p.add_argument("--lenient", action="store_true",
                   help="accept requests TF Serving refuses: options left out take their defaults, gRPC tensors of "
                        "another dtype are converted, {\"b64\": PNG} images are decoded (default: strict, as TF Serving)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("query", help="sample from TF Serving or `keras-gen serve` over REST (http://) or gRPC "
                                     "(grpc://)",
                       description="Request inputs are flags: --label 7, --labels '[0,1,2]' as --label, --steps 20.")
    p.add_argument("url", help="http://HOST:8501 (REST) or grpc://HOST:8500")
    p.add_argument("--model", required=True)
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="grid.png")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--retries", type=int, default=3, help="retries on 429/503, with exponential back-off")
    p.add_argument("--status", action="store_true", help="print the model's version status and stop")
    p.add_argument("--metadata", action="store_true", help="print the model's signatures and stop")
    p.set_defaults(func=cmd_query, takes_request_flags=True)

    p = sub.add_parser("swap", help="face swap: encode with the shared encoder, decode as the other identity "
                                    "(faceswap runs and exports)",
                       description="Encodes each input with the shared encoder and decodes it with the decoder of "
                                   "identity --to. Inputs of any size are centre-cropped to a square and resized to "
                                   "the model's image size. On an export it runs on onnxruntime.")
    p.add_argument("path", help="training run folder, or export folder (EXPORTS/NAME[/VERSION])")
    p.add_argument("--input", nargs="+", action="extend", required=True, metavar="IMAGE",
                   help="image files and/or folders of images (repeatable)")
    p.add_argument("--to", default=None, help="the identity to decode as: b (A -> B, swap_a_to_b) or a")
    p.add_argument("--endpoint", default=None,
                   help="any image-to-image endpoint of the model by name, instead of --to")
    p.add_argument("--out", default="swap.png",
                   help="swap.png (a grid of input | output pairs) or DIR/ (one PNG per input, named after it)")
    p.set_defaults(func=cmd_swap)

    p = sub.add_parser("traverse", help="latent traversal grid: one row per latent dimension, varied over "
                                        "[-span, span] (vae, cvae, dcgan, ...: one Gaussian latent)")
    p.add_argument("path", help="training run folder, or export folder")
    p.add_argument("--out", default="traversal.png")
    p.add_argument("--dims", default="8",
                   help="rows: a count (the most active dimensions by KL for a vae/cvae run, else the first), "
                        "or a comma list of dimensions, e.g. 0,3,5")
    p.add_argument("--steps", type=int, default=9, help="columns")
    p.add_argument("--span", type=float, default=None, help="z_d runs from -span to span (default 3; --codes: 2, "
                                                             "the paper's)")
    p.add_argument("--codes", action="store_true", help="InfoGAN: one row per category, a continuous code varied "
                                                        "over [-span, span] instead of z")
    p.add_argument("--seed", type=int, default=None, help="the base latent: drawn from this seed (default: zeros)")
    p.add_argument("--label", type=int, default=None, help="class of a class-conditional model (default 0)")
    p.add_argument("--rank", default="auto", choices=("auto", "kl", "first"),
                   help="which dimensions: by mean KL over the run's test images (auto: when the model encodes), "
                        "or the first ones")
    p.set_defaults(func=cmd_traverse)

    p = sub.add_parser("manifold", help="2-D latent manifold: decode a grid of Gaussian quantiles "
                                        "(Kingma & Welling fig. 4; latent_dim 2 only)")
    p.add_argument("path", help="training run folder, or export folder")
    p.add_argument("--out", default="manifold.png")
    p.add_argument("--steps", type=int, default=20, help="rows and columns")
    p.add_argument("--label", type=int, default=None, help="class of a class-conditional model (default 0)")
    p.set_defaults(func=cmd_manifold)

    p = sub.add_parser("evaluate", help="FID/KID/precision-recall/memorisation, label accuracy, PSNR/SSIM or "
                                        "bits/dim of a run or export, each beside its floor")
    p.add_argument("path")
    p.add_argument("--data", default=None, help="real data to compare with (default: the run's training data; "
                                                "other data gives a warning)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--metrics", default=None,
                   help="comma-separated: fid,kid,is,pr,mem,div (samples), label_acc (conditional models), "
                        "psnr,ssim (paired models), bpd (likelihood models); default: every one the model can "
                        "feed except is and div")
    p.add_argument("--n", type=int, default=2000, help="generated samples (and at most as many real ones)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--features", default="domain", help="domain (offline, trained classifier) | inception")
    p.add_argument("--inception-weights", default=None, help="local InceptionV3 .h5 weights file")
    p.add_argument("--cache-dir", default=None, help="where domain classifiers are cached")
    p.add_argument("--json", default=None, help="also write the report as JSON")
    p.set_defaults(func=cmd_evaluate)
    _add_style_parsers(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_request_flags", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args, extra) if getattr(args, "takes_request_flags", False) else args.func(args)
    except KerasGenError as err:
        print(f"keras-gen: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # unwritable --out, full disk, permissions: the path says what to fix
        print(f"keras-gen: error: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("keras-gen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
