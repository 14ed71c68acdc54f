"""One process trains a run at a time: RUN/train.lock.

Two trainings into the same --out would overwrite each other's checkpoints, and the first run
would be lost without a word. `hold_run` holds the run folder while a process trains it: the
lock file records the holder (pid, host, start, command) and is locked exclusively with flock,
which the kernel drops when the holder dies, kill -9 included, so a lock file left behind by a
dead process is stale and the next trainer takes it over. Where the filesystem has no locks,
a lock whose pid is no longer running is stale. Plain Python (no TensorFlow).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from keras_gen.errors import KerasGenError
from keras_gen.fileio import pid_alive

RUN_LOCK = "train.lock"
_held: set[Path] = set()  # run folders this process holds (resolve_config inside train() is not refused)

try:
    import fcntl
except ImportError:  # not POSIX: the lock falls back on the holder's pid alone
    fcntl = None


def _lock_key(run_dir) -> Path:
    return Path(os.path.abspath(run_dir))


def _holder_text(record: dict) -> str:
    pid = record.get("pid")
    if not isinstance(pid, int):
        return "another process"
    host = record.get("host")
    return (f"process {pid}" + (f" on {host}" if host and host != socket.gethostname() else "")
            + (f" (since {record['since']})" if record.get("since") else ""))


def _read_holder(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def _held_error(run_dir, path: Path) -> KerasGenError:
    return KerasGenError(f"{run_dir} is being trained by {_holder_text(_read_holder(path))}: one process trains a run "
                         f"at a time ({path}). Wait for it to finish (then --resume to go on), or train into another "
                         "--out.")


def _flock(fd: int, flags: int) -> bool | None:
    """True if locked, False if another process holds it, None where the filesystem has no locks."""
    try:
        fcntl.flock(fd, flags | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return None
        raise


def refuse_if_held(run_dir) -> None:
    """KerasGenError naming the holder if another process is training the run in `run_dir` now.
    Writes nothing: `resolve_config` asks it before anything else about the run."""
    path = Path(run_dir) / RUN_LOCK
    if _lock_key(run_dir) not in _held and path.is_file() and _held_by_another(path):
        raise _held_error(run_dir, path)


def _held_by_another(path: Path) -> bool:
    if fcntl is not None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            locked = _flock(fd, fcntl.LOCK_SH)  # shared: two lookers do not exclude each other
        finally:
            os.close(fd)  # releases the look
        if locked is not None:
            return not locked
    return _pid_holds(path)


def _pid_holds(path: Path) -> bool:
    pid = _read_holder(path).get("pid")
    return isinstance(pid, int) and pid != os.getpid() and pid_alive(pid)


def _take_lock(run_dir: Path, path: Path) -> int:
    """An open descriptor holding RUN/train.lock exclusively, with this process's record written in."""
    for _ in range(20):
        run_dir.mkdir(parents=True, exist_ok=True)  # again: a holder that created it removes it when done
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        locked = _flock(fd, fcntl.LOCK_EX) if fcntl is not None else None
        if locked is False or (locked is None and _pid_holds(path)):
            os.close(fd)
            raise _held_error(run_dir, path)
        try:  # the holder before us may have removed the file between our open and our lock: lock the new one
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(record).encode())
        return fd
    raise KerasGenError(f"Could not lock {path}: other processes keep replacing it. Train into another --out.")


@contextmanager
def hold_run(run_dir):
    """Hold the run folder `run_dir` for this process while the block trains it.

    RUN/train.lock records the holder's pid and is locked exclusively (flock) while the block
    runs; a second trainer gets a KerasGenError naming the holder, instead of two processes
    overwriting each other's checkpoints. The kernel drops the lock when the holder dies, kill -9
    included, so a lock file left by a dead process is stale and the next trainer takes it over
    (where the filesystem has no locks, a lock whose pid is not running). Removed when the block
    ends, and with it the folder if this call created it and nothing else was written there."""
    run_dir = Path(run_dir)
    key = _lock_key(run_dir)
    if key in _held:
        raise KerasGenError(f"{run_dir} is already being trained by this process; train into another --out.")
    created = not run_dir.exists()
    path = run_dir / RUN_LOCK
    fd = _take_lock(run_dir, path)
    _held.add(key)
    try:
        yield path
    finally:
        _held.discard(key)
        path.unlink(missing_ok=True)  # before the lock is released, so nobody takes over a file on its way out
        os.close(fd)
        if created:
            try:
                run_dir.rmdir()  # only if empty: a start refused on its data leaves nothing behind
            except OSError:
                pass
