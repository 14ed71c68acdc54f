"""`keras-gen models`: the registered models, each with its family, data kind, paper and options.

The list is read from the model files' source: listing imports no TensorFlow.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    subparsers.add_parser("models", help="list registered models and what each exports").set_defaults(func=run)


def run(args) -> int:
    from keras_gen import registry

    # Read from the model files' source: listing names and options imports no TensorFlow.
    for entry in registry.catalog():
        print(f"{entry['name']:12s} {entry['description']}")
        print(f"{'':12s} family: {entry['family']}; trains on: {entry['data_kind']}; paper: {entry['paper']}")
        for key, (default, help_text) in entry["options"].items():
            print(f"{'':14s}--set {key}={default!r}" + (f"  ({help_text})" if help_text else ""))
    print(f"{'classifier':12s} domain classifier for offline FID/KID features (`keras-gen train classifier --data D`)")
    return 0
