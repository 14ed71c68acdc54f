"""Atomic file writes: a reader (a resuming run, a cache lookup, a server) never sees half a file.

Everything is written under a hidden temporary name in the target's folder (same filesystem, so
the final `os.replace` is atomic) and renamed into place only when complete. A temporary's name
carries the writer's process id, so leftovers of a killed process can be told from the files of
one still writing (`remove_stale_temporaries`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

PARTIAL_PATTERN = ".*.partial-*"  # glob of atomic_path's temporaries: .{stem}.partial-{pid}{suffix}
_PARTIAL_PID = re.compile(r"\.partial-(\d+)")


def partial_path(path) -> Path:
    """The temporary name `atomic_path` writes `path` under: `.{stem}.partial-{pid}{suffix}`."""
    path = Path(path)
    return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path` (same suffix, so writers that infer the format from
    it, like `model.save`, still work); rename it onto `path` if the block succeeds, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))


def partial_pid(name: str) -> int | None:
    """The writer's pid in an `atomic_path` temporary's name, or None if the name holds none."""
    match = _PARTIAL_PID.search(name)
    return int(match.group(1)) if match else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts: it is not ours to judge)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return True  # not a real owner: never delete on its account
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # e.g. pid out of range for the platform
        return False
    return True


def remove_stale_temporaries(folder, pattern: str = PARTIAL_PATTERN,
                             pid_of: Callable[[str], int | None] = partial_pid) -> list[Path]:
    """Delete the entries of `folder` matching the glob `pattern` whose owner process is gone.

    `pid_of(name)` reads the owner's pid from an entry's name; entries it gives None for (or
    raises ValueError/IndexError on) are not temporaries of ours and are left alone, as is
    anything a live process owns. Files and folders are both removed. Returns what was removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.glob(pattern)):
        try:
            pid = pid_of(entry.name)
        except (ValueError, IndexError):
            continue
        if pid is None or pid_alive(pid):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
