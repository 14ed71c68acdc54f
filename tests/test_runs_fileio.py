"""Leftovers of killed writers: temporaries whose owner process is gone are removed, no others."""

import os
import subprocess
import sys

from keras_gen.fileio import atomic_path, partial_path, partial_pid, remove_stale_temporaries


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped), so no live process owns it."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_partial_files_are_removed_and_live_ones_kept(tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".last.partial-{dead}.keras"
    ours = partial_path(tmp_path / "last.keras")  # this process is alive: maybe still writing
    unrelated = [tmp_path / "last.keras", tmp_path / ".hidden.keras", tmp_path / ".x.partial-abc.keras"]
    for path in (stale, ours, *unrelated):
        path.write_bytes(b"x")
    assert ours.name == f".last.partial-{os.getpid()}.keras" and partial_pid(ours.name) == os.getpid()
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and ours.exists() and all(p.exists() for p in unrelated)
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_export_style_temporary_folders_with_the_pid_in_their_name(tmp_path):
    """How the exporter calls it for `.tmp-<version>-<pid>-<random>` folders."""
    dead = _dead_pid()
    stale, live = tmp_path / f".tmp-3-{dead}-k2j4", tmp_path / f".tmp-4-{os.getpid()}-a9x1"
    old_style = tmp_path / ".tmp-5-abcdef"  # no pid in its name: not provably stale, kept
    for folder in (stale, live, old_style):
        (folder / "variables").mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"x")
    removed = remove_stale_temporaries(tmp_path, ".tmp-*", pid_of=lambda name: int(name.split("-")[2]))
    assert removed == [stale] and not stale.exists() and live.is_dir() and old_style.is_dir()


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "state.json"
    try:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_new_training_run_removes_stale_checkpoint_temporaries(tmp_path):
    from keras_gen.training import RunConfig, train

    run = tmp_path / "run"
    leftover = run / "checkpoints" / f".last.partial-{_dead_pid()}.keras"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a checkpoint")
    train(run, RunConfig("dcgan", image_size=16, batch_size=16, steps_per_epoch=1, epochs=1,
                         options={"base_filters": 4, "latent_dim": 8}), verbose=0)
    assert not leftover.exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.keras"]
