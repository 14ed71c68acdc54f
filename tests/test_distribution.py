"""Randomness and losses under tf.distribute: one DCGAN step on two logical CPU devices."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mirrored_replicas_draw_different_reproducible_noise_and_scale_losses():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "scripts" / "mirrored_step.py")], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["z_differ"], "both replicas drew the same z: the batch would hold each fake twice"
    assert result["z_repeat"], "the same seed-generator state must give the same per-replica noise"
    assert result["uniform_differ"], "random_uniform (codes, timesteps) must differ between replicas too"
    assert all(0.5 < s < 1.5 for s in result["z_std"])
    # Per-replica mean losses' gradients are halved: the replicas' gradients are summed into one global step.
    assert result["scaled_loss"] == [0.5, 0.5]
    assert all(abs(v) < 10 for v in result["losses"].values())
    # Two steps, two draws each: the shared state advanced once per draw, not once per replica.
    assert result["state_after"][1] - result["state_before"][1] == 4
    assert result["steps"] == [2, 2]
    # The EMA's averages are updated in each replica's step: mirrored copies stay equal.
    assert result["ema"]["averages"] > 0 and result["ema"]["moved"] and result["ema"]["swapped"]
    assert result["ema"]["replicas_agree"], "the replicas' copies of the moving average differ"
