"""What a folder given on the command line is: a training run or an export. Decided here only.

A training run holds `config.json` (written by `keras_gen.training`); anything else is taken for
an export repository (EXPORTS/NAME or EXPORTS/NAME/VERSION), whose resolver
(`serving.repository.resolve_version`) says precisely what is wrong with it if it is not one.
Plain Python: the onnxruntime sampling path calls this without importing TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from keras_gen.core.errors import KerasGenError

RUN, EXPORT = "run", "export"
RUN_CONFIG = "config.json"


def path_kind(path) -> str:
    """"run" or "export" for an existing folder; KerasGenError when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise KerasGenError(f"{path} does not exist. Pass a training run (--out of train) or an export folder.")
    return RUN if (path / RUN_CONFIG).is_file() else EXPORT
