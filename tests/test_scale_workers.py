"""Two real worker processes on 127.0.0.1 (tf.distribute.MultiWorkerMirroredStrategy, TF_CONFIG)
train like one process, and a worker killed mid-epoch costs nothing but time.

One test, to start the workers as few times as it can (each start is ~15 s of TensorFlow and
gRPC on a shared machine); every wait is bounded, and every process it starts is killed when it
ends, passed or not:

1. one process trains the tiny DCGAN (EMA on) for 2 epochs of 2 steps, keeping its checkpoint
   of epoch 1: the reference (an uninterrupted run, which a resumed one equals: the harness holds
   that resume is exact);
2. two workers start the same run (--strategy multiworker, global batch 8: 4 a worker); worker 1
   stops at the second batch of epoch 2, after the chief wrote epoch 1's checkpoint: that
   checkpoint (two steps on two workers) equals the reference's after epoch 1;
3. worker 1 is killed (SIGKILL, as a preempted pod); the chief sees it gone and stops with one
   line saying so (not a hang, not a traceback of collective ops);
4. both are started again as a TFJob's pods are, each running the command `keras-gen launch` puts
   in them (`keras-gen train ... --strategy multiworker --auto-resume`, the real CLI in a fresh
   process): they resume after epoch 1 and end equal to the reference after epoch 2: weights,
   optimizer moments, EMA, seed-generator states;
5. only the chief wrote into the run folder; the other worker's temporary folder is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "worker_train.py"
CONFIG = {"model": "dcgan", "options": {"latent_dim": 8, "base_filters": 4, "ema": 0.9}, "data": "digits",
          "image_size": 16, "batch_size": 8, "seed": 3, "steps_per_epoch": 2}
START_S, STOP_S = 480, 240  # bounds on a loaded 2-core machine (the test takes about 90 s idle)


def _free_ports(n: int) -> list[int]:
    """n ports free now, below the kernel's ephemeral range: the workers bind them seconds later,
    and a port from bind(0) could be handed meanwhile to any outgoing connection of the other
    xdist worker; below that range only an explicit bind can take it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = np.random.default_rng(os.getpid()).permutation(np.arange(max(1024, low - 12000), low))
    ports = []
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", int(port)))
            except OSError:
                continue
        ports.append(int(port))
        if len(ports) == n:
            return ports
    raise RuntimeError(f"no {n} free ports below {low}")


def _cli_command(run: Path, config: Path) -> list[str]:
    """The command `keras-gen launch` gives every pod of the TFJob for this run config."""
    from keras_gen.launch import read_run_config, train_command

    command = train_command(read_run_config(config), str(run))
    assert command[:2] == ["keras-gen", "train"] and "--auto-resume" in command
    return [sys.executable, "-m", "keras_gen", *command[1:]]


def _start_workers(run: Path, config: Path, ports: list[int], tmp: Path, stall_marker: Path | None = None,
                   command: list[str] | None = None):
    procs = []
    for index in range(len(ports)):
        tf_config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
        (tmp / f"tmp{index}").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CONFIG": json.dumps(tf_config), "TMPDIR": str(tmp / f"tmp{index}"),
               "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "2"}
        extra = ["--stall-in-epoch", "2", "--marker", str(stall_marker)] if stall_marker and index == 1 else []
        argv = command or [sys.executable, str(SCRIPT), str(run), str(config), *extra]
        # output to files, not pipes: nobody reads a pipe while the test waits, and a full one blocks the worker
        out, err = tmp / f"out{index}.log", tmp / f"err{index}.log"
        with out.open("w") as out_file, err.open("w") as err_file:
            procs.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=out_file, stderr=err_file))
        procs[-1].logs = out, err
    return procs


def _output(proc, timeout: float) -> tuple[str, str]:
    """(stdout, stderr) of a worker once it has exited."""
    proc.wait(timeout=timeout)
    return tuple(path.read_text() for path in proc.logs)


def _kill(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _state(path):
    from keras_gen.keras_adapter import inner_optimizer
    from keras_gen.runs import load_checkpoint

    model = load_checkpoint(path)
    return ([np.asarray(v) for v in model.variables],
            [np.asarray(v) for name in sorted(model.optimizers) for v in inner_optimizer(model.optimizers[name]).variables],
            [np.asarray(g.state) for g in model._named_seed_generators().values()])


def _assert_same_state(path, reference):
    """Every variable within float32 round-off of an all-reduce (the two workers' gradients are
    summed in another order than one device sums its batch); steps and seed states exactly."""
    (va, oa, sa), (vb, ob, sb) = _state(path), _state(reference)
    for x, y in zip(va, vb, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6, rtol=0)
    for x, y in zip(oa, ob, strict=True):
        scale = float(np.max(np.abs(y))) if y.size else 0.0
        np.testing.assert_allclose(x, y, atol=1e-4 * scale + 1e-12, rtol=0)
    for x, y in zip(sa, sb, strict=True):
        np.testing.assert_array_equal(x, y)


def test_two_workers_equal_one_process_and_a_killed_worker_resumes_exactly(tmp_path):
    from keras_gen.runs import RunConfig
    from keras_gen.training import train

    import keras

    one, after_one_epoch = tmp_path / "one", tmp_path / "one_epoch1.keras"

    class KeepEpochOne(keras.callbacks.Callback):  # after the run's own checkpoint callback
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                shutil.copy(one / "checkpoints" / "last.keras", after_one_epoch)

    # one run of 2 epochs, not 1 and a resume to 2: one model build and step trace less
    train(one, RunConfig(**CONFIG, epochs=2), callbacks=[KeepEpochOne()], verbose=0)
    assert after_one_epoch.exists()

    run, config = tmp_path / "two", tmp_path / "config.json"
    config.write_text(json.dumps({**CONFIG, "epochs": 2, "strategy": "multiworker"}))
    marker = tmp_path / "stalled"
    procs = _start_workers(run, config, _free_ports(2), tmp_path / "first", stall_marker=marker)
    try:
        deadline = time.time() + START_S
        while not marker.exists():
            assert time.time() < deadline, "the workers did not reach epoch 2 in time"
            assert all(p.poll() is None for p in procs), [p.logs[1].read_text()[-2000:] for p in procs]
            time.sleep(0.5)
        # Two steps on two workers: the chief's checkpoint of epoch 1 is one process's.
        _assert_same_state(run / "checkpoints" / "last.keras", after_one_epoch)
        os.kill(int(marker.read_text()), signal.SIGKILL)  # worker 1, preempted mid-epoch
        _, err = _output(procs[0], STOP_S)
        assert procs[0].returncode != 0
        assert "A worker of the job was lost" in err and "--auto-resume goes on from the run's last checkpoint, " \
                                                        "after epoch 1" in err, err[-2000:]
    finally:
        _kill(procs)

    restarted = _start_workers(run, config, _free_ports(2), tmp_path / "second", command=_cli_command(run, config))
    try:
        outputs = [_output(p, START_S) for p in restarted]
    finally:
        _kill(restarted)
    for proc, (out, err) in zip(restarted, outputs):
        assert proc.returncode == 0, err[-3000:]
    chief, worker = (out for out, _ in outputs)
    for printed in (chief, worker):
        assert "trained dcgan for epochs 2..2" in printed, printed  # resumed after epoch 1
    assert "on:            2 replica(s) (multiworker, worker 0 (chief) of 2 workers)" in chief, chief
    assert "worker 1 of 2 workers" in worker and "(written by the chief)" in worker, worker
    assert "checkpoint:" in chief and "checkpoint:" not in worker
    _assert_same_state(run / "checkpoints" / "last.keras", one / "checkpoints" / "last.keras")

    recorded = json.loads((run / "config.json").read_text())
    assert (recorded["strategy"], recorded["replicas"], recorded["batch_size"]) == ("multiworker", 2, 8)
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    assert not (run / "train.lock").exists()  # the chief held it, and let it go
    assert list((tmp_path / "second" / "tmp1").iterdir()) == [], "worker 1's temporary folder was left behind"
