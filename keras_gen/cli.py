"""`keras-gen` command line: models, train, sample, export, evaluate.

Each command is one module of `keras_gen.commands` (its arguments and its run function); this
module only assembles them into one parser and runs the chosen one. Heavy imports (TensorFlow,
Keras) happen inside the commands that need them, so `keras-gen sample EXPORT` runs on
onnxruntime alone. Errors a user can cause are `KerasGenError`s: the CLI prints their message
and exits with status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys

from keras_gen.commands import (data, deploy, edit, evaluate, export, inpaint, invert, launch, manifold, models,
                                project, query, sample, serve, stylize, swap, texture, train, translate, traverse,
                                upscale)
from keras_gen.commands.common import warnings_printed_as_lines
from keras_gen.errors import KerasGenError

# In the order `keras-gen --help` lists them.
COMMANDS = (models, train, data, launch, sample, export, deploy, serve, query, swap, translate, upscale, inpaint,
            traverse, manifold, project, edit, evaluate, stylize, texture, invert)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-gen", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `sample` and `query` read the flags they do not declare as request inputs (--steps 20, ...).
    takes_request_flags = getattr(args, "takes_request_flags", False)
    if extra and not takes_request_flags:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        with warnings_printed_as_lines():  # `keras-gen: warning: ...`, never a UserWarning with its source line
            return args.func(args, extra) if takes_request_flags else args.func(args)
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
