"""One process trains a run at a time (keras_gen/run_lock.py): a second trainer into the same --out
is refused with one line naming the holder; a lock left by a killed holder is taken over."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

from keras_gen import KerasGenError
from keras_gen.cli import main
from keras_gen.run_lock import RUN_LOCK, hold_run, refuse_if_held
from keras_gen.runs import run_summary

TINY_FLAGS = ["--image-size", "16", "--batch-size", "16", "--steps-per-epoch", "3",
              "--set", "base_filters=4", "--set", "latent_dim=8"]
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "1"}


def _wait_for(condition, process, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the holder exited ({process.returncode}) before {what}: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} after {seconds} s")
        time.sleep(0.2)


def _kill(process) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_a_second_training_into_the_same_out_is_refused_and_a_killed_holders_lock_is_taken_over(tmp_path, capsys):
    """Two real processes: a `keras-gen train` that goes on for 1,000 epochs, and this one."""
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "keras_gen", "train", "dcgan", "--out", str(run), "--epochs", "1000",
                              *TINY_FLAGS], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (run / "state.json").is_file(), first, 300, "finished epoch")  # holding, with a checkpoint
        assert json.loads((run / RUN_LOCK).read_text())["pid"] == first.pid
        for flags in (["--epochs", "2"], ["--resume", "--epochs", "2000"]):  # a new run over it, or a second resume
            assert main(["train", "dcgan", "--out", str(run), *TINY_FLAGS, *flags]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"keras-gen: error: {run} is being trained by process {first.pid}")
            assert "one process trains a run at a time" in err and len(err.strip().splitlines()) == 1
        assert json.loads((run / "config.json").read_text())["epochs"] == 1000  # the first run's, untouched
        assert first.poll() is None  # still training
    finally:
        _kill(first)
    # kill -9 leaves its lock file behind, naming a dead process: the next trainer takes it over
    assert json.loads((run / RUN_LOCK).read_text())["pid"] == first.pid
    # How far it got is what its checkpoint holds (resume's own count): the kill may land after a
    # checkpoint is saved and before state.json follows it, leaving state.json one epoch behind.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "state.json says N epochs but the checkpoint holds N+1", if so
        done = run_summary(run)["epochs_done"]
    assert main(["train", "dcgan", "--out", str(run), "--resume", "--epochs", str(done + 1)]) == 0
    assert f"for epochs {done + 1}..{done + 1}" in capsys.readouterr().out
    assert not (run / RUN_LOCK).exists()  # released at the end


_HOLD = ("import sys, time\nfrom keras_gen.run_lock import hold_run\n"
         "with hold_run(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n")


def test_the_lock_names_a_live_holder_and_is_taken_over_after_it_dies(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        for attempt in (lambda: refuse_if_held(run), lambda: hold_run(run).__enter__()):
            with pytest.raises(KerasGenError, match=f"being trained by process {holder.pid} .since"):
                attempt()
    finally:
        _kill(holder)
    refuse_if_held(run)  # its lock file is still there, but nobody holds it
    with hold_run(run) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with pytest.raises(KerasGenError, match="already being trained by this process"):
            hold_run(run).__enter__()
        refuse_if_held(run)  # this process's own resolve_config inside train() is not refused
    assert not lock.exists() and run.is_dir()  # the folder was there before: kept


def test_a_folder_made_for_the_lock_is_removed_if_nothing_was_written(tmp_path):
    with hold_run(tmp_path / "new"):
        pass
    assert not (tmp_path / "new").exists()
    with hold_run(tmp_path / "kept"):
        (tmp_path / "kept" / "config.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["config.json"]
