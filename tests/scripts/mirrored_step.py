"""One DCGAN training step under MirroredStrategy on two logical CPU devices, with the EMA of
the weights on (run by tests/test_distribution.py in its own process: logical devices must be set
before TF starts). Prints one JSON line with what the test checks."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
# Each graph here runs once or twice: Grappler's rewriting costs more CPU than it saves, and
# leaves what is checked (the ops' results) unchanged.
tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})

import keras  # noqa: E402

from keras_gen import registry  # noqa: E402
from keras_gen.keras_adapter import replica_gradient_scale, weight_average  # noqa: E402

keras.utils.set_random_seed(0)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = registry.build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=4, seed=3, ema=0.9)
    model.compile()

# The noise each replica draws in train_step, from the same seed generator state; drawn again
# from the same state, it must repeat (reproducible), and differ between replicas.
start = np.asarray(model.seed_generator.state)


def draw():
    return [np.asarray(t) for t in strategy.experimental_local_results(strategy.run(lambda: model.random_normal((2, 8))))]


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
print(json.dumps({
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
}))
