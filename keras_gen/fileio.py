"""Atomic file writes: a reader (a resuming run, a cache lookup, a server) never sees half a file.

Everything is written under a hidden temporary name in the target's folder (same filesystem, so
the final `os.replace` is atomic) and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path` (same suffix, so writers that infer the format from
    it, like `model.save`, still work); rename it onto `path` if the block succeeds, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
