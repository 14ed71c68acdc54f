"""What several commands share: TensorFlow imported quietly, warnings and notes as one
`keras-gen: ...` line each, a run or an export loaded by its path, comma-separated flag values,
output files checked before the work, and the help text of a picture argument. Plain Python at
import: the commands that run on onnxruntime import this too."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

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
    text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(f"keras-gen: warning: {text}", file=sys.stderr, flush=True)


@contextmanager
def warnings_printed_as_lines():
    """Every warning shown while a command runs is one `keras-gen: warning: ...` line (print_warning),
    not Python's `file:line: UserWarning:` and a line of source. The warning filters still decide
    what is shown (a library's DeprecationWarning stays hidden, a repeated warning shows once);
    code that records warnings itself (`warnings.catch_warnings(record=True)`) still gets them."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        print_warning(message)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


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


def comma_list(text: str, flag: str, convert=int, what: str = "whole numbers") -> list:
    """`0,1,2` as [0, 1, 2]: every entry converted, none empty (`1,,2` is a typo, not [1, 2])."""
    entries = [entry.strip() for entry in str(text).split(",")]
    try:
        if not entries or "" in entries:
            raise ValueError(text)
        return [convert(entry) for entry in entries]
    except ValueError:
        raise KerasGenError(f"{flag} takes comma-separated {what} with no empty entry, e.g. 0,1,2; got {text!r}.") \
            from None


def check_writable_file(path, flag: str) -> Path:
    """`path` can be written (its folder made if missing), checked before the minutes of work that
    would end in writing it: a KerasGenError naming the flag otherwise."""
    path = Path(path)
    if path.is_dir():
        raise KerasGenError(f"{flag} {path} is a folder; pass a file name.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.probe-"):
            pass
    except OSError as err:
        raise KerasGenError(f"{flag} {path}: cannot write in {path.parent} ({err.strerror or err}); pass a path in a "
                            "writable folder.") from None
    return path


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
