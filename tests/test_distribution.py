"""Randomness and losses under tf.distribute: one DCGAN step on two logical CPU devices."""

import pytest

from tests.test_scale_equivalence import replica_results

pytestmark = pytest.mark.xdist_group("replica_equivalence")  # the worker that runs the script: no wait


def test_mirrored_replicas_draw_different_reproducible_noise_and_scale_losses(tmp_path_factory):
    # run by tests/scripts/replica_equivalence.py (randomness_and_losses), in the process that
    # tests/test_scale_equivalence.py needs too: two logical CPU devices, set before TF starts
    result = replica_results(tmp_path_factory)["randomness"]
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
