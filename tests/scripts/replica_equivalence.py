"""One training step on two replicas (MirroredStrategy over two logical CPU devices) against one
step on one device with the same global batch, for each model named on the command line (run by
tests/test_scale_equivalence.py in its own process: logical devices must be set before TensorFlow
starts). Each model is the harness's tiny one, built from the same seed in both places and fed the
harness's batch of 8 (4 rows a replica). Prints one JSON line: per model, the largest difference
of every kind of state after the step, and the size of the step itself (how far the weights
moved), so a difference has a scale. The same process (one TensorFlow start for both) also runs
the checks of tests/test_distribution.py: per-replica noise, loss scaling and the EMA on two
replicas (`randomness`).

    python tests/scripts/replica_equivalence.py dcgan vae dcgan@local

NAME@local trains NAME with per-replica batch statistics (--batch-norm local) on two replicas,
to show what synchronised batch norm removes.
"""

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_gen.distribute import skip_together, sync_batch_norm  # noqa: E402
from keras_gen.keras_adapter import inner_optimizer  # noqa: E402
from tests.test_model_harness import BATCH, _tiny, _tiny_batch  # noqa: E402


def state(model) -> dict:
    """Every piece of training state by kind: the model's variables (weights, batch-norm
    statistics, ADA's p), every optimizer's variables (moments, EMA), the seed generators."""
    out = {"variables": [np.asarray(v) for v in model.variables],
           "trainable": [np.asarray(v) for v in model.trainable_variables]}
    out["optimizers"] = [np.asarray(v) for name in sorted(model.optimizers)
                         for v in inner_optimizer(model.optimizers[name]).variables]
    out["seeds"] = [np.asarray(g.state) for g in model._named_seed_generators().values()]
    return out


def one_step(name: str, strategy, batch_norm: str):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = _tiny(name)
        model.compile()
    if strategy.num_replicas_in_sync > 1:
        sync_batch_norm(model, batch_norm == "sync")
    before = state(model)
    batch = _tiny_batch(model)
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    return before, state(model)


def largest_relative(a: list, b: list) -> float:
    """The largest difference of a tensor relative to the tensor's own largest magnitude (Adam's
    second moments are squared gradients: their absolute size says nothing)."""
    out = 0.0
    for x, y in zip(a, b, strict=True):
        if x.size and np.issubdtype(x.dtype, np.floating):
            scale = float(np.max(np.abs(x)))
            if scale > 0:
                out = max(out, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) / scale)
    return out


def largest(a: list, b: list) -> float:
    return max((float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) for x, y in zip(a, b, strict=True)
                if x.size), default=0.0)


def skip_decisions(strategy) -> dict:
    """skip_together on two replicas: gradients finite on both pass unchanged; gradients that
    overflowed on replica 1 alone become NaN on both (both loss-scaled optimizers then skip)."""
    out = {}
    for case, bad_replica in (("finite", -1), ("overflow_on_one", 1)):
        def fn(bad_replica=bad_replica):
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            grad = tf.where(tf.equal(replica, bad_replica), float("inf"), 1.0) * tf.ones([3])
            return skip_together([grad, None])[0]

        out[case] = [np.asarray(v).tolist() for v in strategy.experimental_local_results(strategy.run(fn))]
    return out


def randomness_and_losses(strategy) -> dict:
    """One DCGAN (EMA on) under `strategy`: the noise each replica draws from the same seed
    generator state (reproducible, different on each replica), the replicas' loss scale, and two
    fitted steps (the seed state, the step counters, the EMA's mirrored copies after them);
    checked by tests/test_distribution.py."""
    from keras_gen import registry
    from keras_gen.keras_adapter import replica_gradient_scale, weight_average

    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = registry.build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=4, seed=3, ema=0.9)
        model.compile()

    # The noise each replica draws in train_step, from the same seed generator state; drawn again
    # from the same state, it must repeat (reproducible), and differ between replicas.
    start = np.asarray(model.seed_generator.state)

    def draw():
        return [np.asarray(t) for t in strategy.experimental_local_results(
            strategy.run(lambda: model.random_normal((2, 8))))]

    per_replica = draw()
    model.seed_generator.state.assign(start)
    repeated = draw()
    uniform = [np.asarray(t) for t in strategy.experimental_local_results(
        strategy.run(lambda: model.random_uniform((4,), 0, 1000, dtype="int32")))]
    scaled = strategy.experimental_local_results(strategy.run(lambda: tf.constant(replica_gradient_scale())))

    state_before = np.asarray(model.seed_generator.state).tolist()
    images = np.random.default_rng(0).uniform(-1, 1, (16, 16, 16, 1)).astype("float32")
    history = model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0).history
    # The moving averages, updated in each replica's step: the same on both devices, and moved.
    averages = [a for o in model.optimizers.values() for _, a in weight_average(o).pairs()]
    ema_replicas_agree = all(np.array_equal(*[np.asarray(c) for c in strategy.experimental_local_results(a.value)])
                             for a in averages)
    ema_moved = any(np.any(np.asarray(a)) for a in averages)
    with model.ema_weights() as swapped:
        ema_swapped = bool(swapped)
    return {
        "replicas": strategy.num_replicas_in_sync,
        "z_differ": bool(not np.allclose(per_replica[0], per_replica[1])),
        "uniform_differ": bool(not np.array_equal(uniform[0], uniform[1])),
        "z_repeat": bool(all(np.array_equal(a, b) for a, b in zip(per_replica, repeated, strict=True))),
        "z_std": [float(z.std()) for z in per_replica],
        "scaled_loss": [float(v) for v in scaled],
        "losses": {k: float(v[-1]) for k, v in history.items()},
        "state_before": state_before,
        "state_after": np.asarray(model.seed_generator.state).tolist(),
        "steps": [int(np.asarray(o.iterations.numpy())) for o in model.optimizers.values()],
        "ema": {"replicas_agree": ema_replicas_agree, "moved": ema_moved, "swapped": ema_swapped,
                "averages": len(averages)},
    }


def main(specs):
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {}
    for spec in specs:
        name, _, batch_norm = spec.partition("@")
        batch_norm = batch_norm or "sync"
        started = time.time()
        before, single = one_step(name, tf.distribute.get_strategy(), batch_norm)
        before_two, mirrored = one_step(name, two, batch_norm)
        results[spec] = {
            "same_start": largest(before["variables"], before_two["variables"]) == 0.0,
            "step_size": largest(before["trainable"], single["trainable"]),
            **{kind: largest(single[kind], mirrored[kind]) for kind in single if kind != "trainable"},
            "optimizers_relative": largest_relative(single["optimizers"], mirrored["optimizers"]),
            "counts": {kind: len(single[kind]) for kind in single if kind != "trainable"},
            "seconds": round(time.time() - started, 1),
        }
    print(json.dumps({"replicas": two.num_replicas_in_sync, "batch": BATCH, "models": results,
                      "skip_together": skip_decisions(two), "randomness": randomness_and_losses(two)}))


if __name__ == "__main__":
    main(sys.argv[1:])
