"""`keras-gen models [NAME]`: the registered models, one line each; with NAME, that model's
paper, options and sampling request.

The list comes from the registrations alone (keras_gen/registry.py): it imports no TensorFlow and
no model module. `models NAME` imports the model's module, builds it at its defaults to show the
request its sampling takes, and lists the options of its `Options` dataclass.
"""

from __future__ import annotations

import dataclasses

# The data a model is built on to show its request: the first size its network accepts, gray,
# 10 classes when it needs labels (the request's shapes follow the data; this says which data).
EXAMPLE_SIZES, EXAMPLE_CHANNELS, EXAMPLE_CLASSES = (32, 16, 8, 64), 1, 10


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the registered models; `models NAME`: a model's options and "
                                             "sampling request")
    p.add_argument("name", nargs="?", default=None, help="a model to describe")
    p.set_defaults(func=run)


def run(args) -> int:
    from keras_gen import registry

    if args.name is None:
        entries = registry.catalog()
        width = max(len(e["name"]) for e in entries)
        kinds = max(len(e["data_kind"]) for e in entries)
        for e in entries:
            print(f"{e['name']:{width}s}  {e['family']:14s}  {e['data_kind']:{kinds}s}  {e['summary']}")
        print(f"{'classifier':{width}s}  {'evaluation':14s}  {'labelled':{kinds}s}  domain classifier for offline "
              "FID/KID features (`keras-gen train classifier --data D`)")
        print("\n`keras-gen models NAME` shows a model's options and sampling request.")
        return 0
    print(describe(registry.get(args.name)))
    return 0


def _option_line(f: dataclasses.Field) -> str:
    meta = f.metadata
    bounds = []
    if meta.get("choices"):
        bounds.append("one of " + ", ".join(map(str, meta["choices"])))
    if meta.get("min") is not None:
        bounds.append(f"{'>' if meta.get('min_exclusive') else '>='} {meta['min']}")
    if meta.get("max") is not None:
        bounds.append(f"<= {meta['max']}")
    text = meta.get("help", "")
    return f"    --set {f.name}={f.default!r}" + (f"  {text}" if text else "") + (f" [{'; '.join(bounds)}]" if bounds else "")


def _example_model(spec):
    """(the model built at its defaults on example data, what that data is) or (None, why not)."""
    from keras_gen.commands.common import quiet_tensorflow
    from keras_gen.errors import KerasGenError

    quiet_tensorflow()
    classes = EXAMPLE_CLASSES if spec.data_kind in ("labelled", "attributes") else None
    harness = spec.model_class.harness_image_size
    sizes = [*EXAMPLE_SIZES, harness] if isinstance(harness, int) else [harness, *EXAMPLE_SIZES]
    last = None
    for size in sizes:
        try:
            model = spec.model_class(image_size=size, channels=EXAMPLE_CHANNELS, num_classes=classes)
        except KerasGenError as err:  # a size this network does not take: try the next
            last = err
            continue
        shape = "x".join(map(str, model.image_shape))
        return model, f"{shape} images" + (f", {classes} classes" if classes else "")
    return None, str(last)


def describe(spec) -> str:
    """A model's page: summary, family, data kind, paper, options, request inputs, exports."""
    from keras_gen.commands.sample import describe_request

    lines = [f"{spec.name}: {spec.summary}",
             f"  family: {spec.family}; trains on: {spec.data_kind}; paper: {spec.paper or '-'}",
             "  options (train --set KEY=VALUE; recorded in the run's config and the export's manifest):"]
    lines += [_option_line(f) for f in dataclasses.fields(spec.model_class.Options)]
    model, data = _example_model(spec)
    if model is None:
        lines.append(f"  sampling request: shown once the model is built on data ({data})")
    else:
        lines.append(f"  sampling request (built at the defaults on {data}):")
        lines += ["    " + line for line in describe_request(model.request_specs()).splitlines()[1:]]
    lines.append(f"  exports: {', '.join(spec.exports)}")
    return "\n".join(lines)
