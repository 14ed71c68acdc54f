"""What several commands share: TensorFlow imported quietly, warnings and notes as one
`keras-gen: ...` line each, a run or an export loaded by its path, and the help text of a picture
argument. Plain Python at import: the commands that run on onnxruntime import this too."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from contextlib import contextmanager

from keras_gen.errors import KerasGenError

# The picture arguments of stylize, texture and invert.
PICTURE_HELP = "a file, or a bundled picture: photos:NAME (astronaut, chelsea, coffee, rocket, ...) or " \
               "textures:NAME (brick, grass, gravel); grey and RGBA images are converted to RGB with a note"


def quiet_tensorflow() -> None:
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


def print_warning(message) -> None:
    """One `keras-gen: warning: ...` line on stderr, flushed: said before the minutes of work that follow."""
    print(f"keras-gen: warning: {message}", file=sys.stderr, flush=True)


def print_notes(notes) -> None:
    for note in notes:
        print(f"keras-gen: note: {note}", file=sys.stderr)


@contextmanager
def warnings_as_lines(category):
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
                print_warning(w.message)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def load_run_or_export(path, variant: str | None = None):
    """(model, run config) of a training run (Keras, TensorFlow imported quietly), or (EdgeModel,
    None) of an export (onnxruntime only: no TensorFlow on this path). `variant` picks an export's
    smaller ONNX file; a run has none."""
    from keras_gen.paths import RUN, path_kind

    if path_kind(path) == RUN:
        quiet_tensorflow()
        if variant not in (None, "float32"):
            raise KerasGenError(f"--variant {variant} picks an export's ONNX variant; {path} is a run.")
        from keras_gen.runs import load_run

        return load_run(path)
    from keras_gen.edge import EdgeModel

    return EdgeModel.from_path(path, variant=variant), None


def export_weights(model):
    """The weights an export carries (the EMA, when the run kept one); nothing to swap on an export."""
    return model.ema_weights() if hasattr(model, "ema_weights") else contextlib.nullcontext()


def takes_label(model) -> bool:
    """Whether a run's or an export's model is class-conditional."""
    from keras_gen.pictures import request_specs

    return any(s.kind == "label" for s in request_specs(model))
