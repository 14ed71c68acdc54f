"""One step on two replicas equals one step on one device with the same global batch.

tests/scripts/replica_equivalence.py trains, in its own process (two logical CPU devices must be
set before TensorFlow starts), one step of each model below on one device and on two replicas of
tf.distribute.MirroredStrategy, from the same seeded initialisation and on the harness's batch of
8 (4 rows a replica), and compares every piece of training state after it: the model's variables
(weights, batch-norm statistics, counters), every optimizer's variables (moments, EMA), the seed
generators. What makes them equal is keras_gen.distribute: gradients scaled by 1/replicas, noise
drawn for the global batch and sliced per replica, batch statistics synchronised.

One model of each family, at the harness's tiny settings: dcgan (GAN, batch norm in G and D:
synchronised), vae (latent), ddpm (diffusion), pixelcnn (autoregressive), adain (style), and the
test-only toy_pix2pix (paired data, the translation family's step). The whole registry takes about
nine minutes on two shared cores, so the suite runs one model a family; the script takes any
registered names (`python tests/scripts/replica_equivalence.py NAME ...`) to check others.
The same run checks that a float16 step skipped on one replica is skipped on all (skip_together).

Tolerances are float32 round-off, not the size of a training step: weights after the step within
1e-6 (the step itself moves them by 1e-4 to 1e-3; a replica's missing or doubled gradient shows as
a difference of the step's size), optimizer variables within 1e-4 of each tensor's own largest
value (Adam's second moments are squared gradients; its smallest first moments carry the float
noise of sums over the batch), seed generators exactly. dcgan with per-replica batch statistics
(`--batch-norm local`) must differ by more than that: the check sees what sync removes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# With tests/test_distribution.py, which reads the same run: one xdist worker runs both files (the
# other would wait for the script's lock instead of running tests).
pytestmark = pytest.mark.xdist_group("replica_equivalence")
FAMILIES = ["dcgan", "vae", "ddpm", "pixelcnn", "adain", "toy_pix2pix"]
WEIGHTS_ATOL, OPTIMIZER_RTOL = 1e-6, 1e-4


def replica_results(tmp_path_factory) -> dict:
    """The script's JSON, run once a test session: its process also holds tests/test_distribution.py's
    checks (one TensorFlow start with two logical devices for both files); the first test worker to
    ask runs it, the other waits for it and reads it."""
    from tests.conftest import shared_session_dir, workers_lock

    cache = shared_session_dir(tmp_path_factory, "replica_equivalence")
    path = cache / "results.json"
    with workers_lock(cache / ".running"):
        if not path.exists():
            env = {**os.environ, "PYTHONPATH": str(REPO), "TF_NUM_INTRAOP_THREADS": "1"}
            proc = subprocess.run([sys.executable, str(REPO / "tests" / "scripts" / "replica_equivalence.py"),
                                   *FAMILIES, "dcgan@local"], capture_output=True, text=True, cwd=REPO, env=env,
                                  timeout=600)
            assert proc.returncode == 0, proc.stderr[-3000:]
            path.write_text(proc.stdout.strip().splitlines()[-1])
        return json.loads(path.read_text())


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = replica_results(tmp_path_factory)
    assert out["replicas"] == 2 and out["batch"] == 8
    return out


@pytest.mark.parametrize("name", FAMILIES)
def test_one_step_on_two_replicas_equals_one_device(name, results):
    r = results["models"][name]
    assert r["same_start"], "the two models did not start from the same weights"
    assert r["step_size"] > 1e-5, "the step did not move the weights: nothing would be compared"
    assert r["variables"] <= WEIGHTS_ATOL, r
    assert r["optimizers_relative"] <= OPTIMIZER_RTOL, r
    assert r["seeds"] == 0.0, r


def test_per_replica_batch_statistics_differ_by_more_than_the_tolerance(results):
    synced, local = results["models"]["dcgan"], results["models"]["dcgan@local"]
    assert local["variables"] > 100 * max(synced["variables"], WEIGHTS_ATOL), (synced, local)


def test_float16_overflow_on_one_replica_skips_the_step_on_all(results):
    """A loss-scaled optimizer decides per replica whether to skip a step; keras_gen makes the
    decision the job's (distribute.skip_together), so no replica steps on summed non-finite
    gradients while another skips."""
    decisions = results["skip_together"]
    assert decisions["finite"] == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert all(all(v != v for v in replica) for replica in decisions["overflow_on_one"]), decisions  # NaN on both
