"""Training at scale on TensorFlow's own engine: the strategy, the worker's role, numeric precision.

    --strategy default       one device (TensorFlow's default strategy)
    --strategy mirrored      every local GPU (tf.distribute.MirroredStrategy); the CPU without one
    --strategy multiworker   several hosts (tf.distribute.MultiWorkerMirroredStrategy), each told its
                             place by TF_CONFIG (the Kubeflow training operator's TFJob sets it:
                             `keras-gen launch`)
    --precision float32 | mixed_float16 | mixed_bfloat16   Keras' dtype policies: variables stay
                             float32; float16 gets dynamic loss scaling (GenerativeModel.apply_gradients)

What keeps a run the same whatever the number of replicas R (tests/test_scale_equivalence.py):

- `--batch-size` is the global batch: tf.distribute splits each batch into R equal shares, in
  order (replica r gets rows r B/R ... (r+1) B/R - 1), and each replica's mean loss has its
  gradient scaled by 1/R before the replicas' gradients are summed (keras_adapter).
- Random draws (`replica_rows`): a replica draws the noise of the whole global batch from the
  shared seed state and keeps its own rows, so R replicas draw exactly what one device draws for
  the same batch (latents, diffusion noise and timesteps, augmentation, StyleGAN's noise maps).
  The price is R times the random numbers, small beside the networks' work.
- Batch normalisation computes its statistics over the global batch (`sync_batch_norm`: Keras'
  `synchronized=True`), unless the run asks for per-replica statistics (`--batch-norm local`,
  cheaper across hosts: each BN layer costs three small all-reduces a step when synchronised).

So one step on R replicas equals one step on one device, every weight within float tolerance,
and a run may move between one GPU, several and several hosts at a resume: its checkpoints are
the same files.

Only the chief (TF_CONFIG's "chief", else worker 0) writes to the run folder and holds its lock;
the other workers write their checkpoints, samples and logs to a temporary folder that is removed
(`WorkerRole.write_dir`), as TensorFlow's multi-worker tutorial does, so every worker runs the
same collective operations.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from keras_gen.errors import KerasGenError

STRATEGIES = ("default", "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
BATCH_NORMS = ("sync", "local")


def tf_config() -> dict | None:
    """The TF_CONFIG of this process (cluster and task), or None when it is not set."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except ValueError:
        raise KerasGenError("TF_CONFIG is not valid JSON; it must be {\"cluster\": {\"worker\": [\"host:port\", "
                            "...]}, \"task\": {\"type\": \"worker\", \"index\": N}}.") from None
    cluster, task = config.get("cluster") if isinstance(config, dict) else None, config.get("task", {})
    if not isinstance(cluster, dict) or not cluster or not isinstance(task, dict) or "type" not in task:
        raise KerasGenError("TF_CONFIG needs a cluster ({\"worker\": [\"host:port\", ...]}) and this process's task "
                            "({\"type\": \"worker\", \"index\": N}); the Kubeflow training operator sets it for each "
                            "worker of a TFJob (keras-gen launch).")
    if task["type"] not in cluster or not 0 <= int(task.get("index", 0)) < len(cluster[task["type"]]):
        raise KerasGenError(f"TF_CONFIG's task {task} is not in its cluster {sorted(cluster)}.")
    return config


def make_strategy(name: str):
    """The tf.distribute strategy `name` names (STRATEGIES). A multi-worker strategy must be
    made before TensorFlow runs anything else in the process (it configures the collective
    ops of the eager context): keras_gen.training.train makes it first."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise KerasGenError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf_config() is not None and len(_cluster_hosts(tf_config())) > 1:
            raise KerasGenError("TF_CONFIG names several workers, and --strategy mirrored trains on this host's "
                                "devices alone: pass --strategy multiworker.")
        return tf.distribute.MirroredStrategy()
    if tf_config() is None:
        raise KerasGenError("--strategy multiworker needs TF_CONFIG (the cluster's workers and this process's "
                            "place among them); `keras-gen launch RUN_CONFIG --workers N` writes a TFJob that sets "
                            "it. On one host, use --strategy mirrored.")
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (RuntimeError, ValueError) as err:  # made after TensorFlow had started
        raise KerasGenError(f"Cannot start --strategy multiworker ({str(err).splitlines()[0][:200]}): it must be set "
                            "up before TensorFlow runs anything; start `keras-gen train` in a fresh process.") from None


def _cluster_hosts(config: dict) -> list:
    return [address for addresses in config["cluster"].values() for address in addresses]


def is_multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


@dataclass
class WorkerRole:
    """This process's place in the job: the chief writes the run, the others a temporary folder."""

    chief: bool = True
    task_type: str = "worker"
    task_id: int = 0
    workers: int = 1
    temporary: Path | None = None  # a non-chief worker's write folder, removed by `close`

    def write_dir(self, run_dir: Path) -> Path:
        """Where this worker writes what the chief writes into `run_dir`."""
        if self.chief:
            return Path(run_dir)
        if self.temporary is None:
            self.temporary = Path(tempfile.mkdtemp(prefix=f"keras-gen-{self.task_type}{self.task_id}-"))
        return self.temporary

    def close(self) -> None:
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None

    def describe(self) -> str:
        return f"{self.task_type} {self.task_id}" + (" (chief)" if self.chief else "")


def worker_role(strategy) -> WorkerRole:
    """Who this process is in `strategy`'s cluster: the chief is TF_CONFIG's "chief" task or, in a
    cluster without one, worker 0 (TensorFlow's convention)."""
    if not is_multi_worker(strategy):
        return WorkerRole()
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    cluster = resolver.cluster_spec().as_dict()
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster)
    workers = sum(len(tasks) for kind, tasks in cluster.items() if kind in ("chief", "worker"))
    return WorkerRole(chief=chief, task_type=task_type, task_id=task_id, workers=workers)


def agree_across_workers(strategy, value: int, what: str) -> int:
    """`value` (an int every worker should hold the same), checked across the workers of a
    multi-worker strategy: KerasGenError naming `what` when they differ (a run folder that is not
    on a volume every worker shares, a damaged checkpoint seen by one)."""
    if not is_multi_worker(strategy):
        return value
    import tensorflow as tf

    # tf.distribute reduces by SUM or MEAN only: the replicas agree when the variance of their
    # values, E[v^2] - E[v]^2 (integers, exact), is 0.
    total, squares, count = (int(x) for x in strategy.reduce(
        "SUM", strategy.run(lambda: tf.constant([value, value * value, 1], tf.int64)), axis=None).numpy())
    if squares * count != total * total:
        raise KerasGenError(f"The workers disagree on {what} (this one: {value}, the mean: {total / count:g}): every "
                            "worker must see the same run folder (a volume they all share, as `keras-gen launch` "
                            "mounts).")
    return value


def all_workers_ok(strategy, ok: bool) -> bool:
    """Whether `ok` holds on every worker (one small all-reduce; plain `ok` on one host): a
    failure on one worker stops them all at the same step, none left waiting in a collective."""
    if not is_multi_worker(strategy):
        return ok
    import tensorflow as tf

    failed = strategy.reduce("SUM", strategy.run(lambda: tf.constant(0 if ok else 1, tf.int32)), axis=None)
    return int(failed.numpy()) == 0


# -- random draws that do not depend on the number of replicas ------------------------------------
def replica_rows(draw, shape):
    """`draw(shape)` (a stateless random draw), as this replica's share of the global batch.

    `shape[0]` is this replica's batch. Under a tf.distribute strategy with R > 1 replicas the
    draw is made for the global batch, (R shape[0], *shape[1:]), from the same seed on every
    replica, and replica r keeps rows r shape[0] ... (r + 1) shape[0] - 1: the rows the data
    gives it. One device with the global batch draws the same numbers, so a step does not depend
    on how many replicas share it. Without a strategy, or for a shape without a batch dimension,
    `draw(shape)` itself."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    replicas = replica.num_replicas_in_sync if replica is not None else 1
    static = shape if isinstance(shape, (tuple, list)) else None
    if replicas == 1 or (static is not None and len(static) == 0):
        return draw(shape)
    sizes = tf.cast(tf.stack(list(shape)) if static is not None else shape, tf.int32)
    if sizes.shape.rank == 1 and sizes.shape[0] == 0:
        return draw(shape)
    local = sizes[0]
    rows = draw(tf.concat([[local * replicas], sizes[1:]], axis=0))
    start = tf.cast(replica.replica_id_in_sync_group, tf.int32) * local
    mine = rows[start:start + local]
    if static is not None:
        mine.set_shape([d if isinstance(d, int) else None for d in static])
    return mine


def replica_sum(value):
    """`value` summed over the replicas of the strategy in scope (itself on one device): a count or
    a statistic of the batch that a step's state update reads (images seen, a codebook's
    assignment counts) covers the global batch, as it does on one device; every replica then
    updates its copy of the state the same way."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return value
    return replica.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_weighted_mean(values, weights):
    """sum(values * weights) / sum(weights) over the global batch (weights >= 0, no gradient through
    them; at least 1 in the denominator), as this replica's share: R sum_local(v w) / W, so that
    the replicas' gradients, each scaled by 1/R and summed, are the global mean's, and the mean of
    the replicas' logged values is the global mean. A weighted mean taken per replica would not be
    (a ratio of sums is not a mean of ratios)."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    replicas = replica.num_replicas_in_sync if replica is not None else 1
    total = tf.stop_gradient(replica_sum(tf.reduce_sum(weights)))
    return tf.cast(replicas, values.dtype) * tf.reduce_sum(values * weights) / tf.maximum(total, 1.0)


def skip_together(grads):
    """`grads` (this replica's, for a loss-scaled optimizer), or NaN in every one of them when the
    gradients of any replica are not finite.

    Keras' LossScaleOptimizer decides from each replica's own gradients whether to take a step or
    skip it (and halve its scale), before the replicas' gradients are summed. Were one replica's
    float16 gradients to overflow and another's not, the replicas would decide differently: a
    step on the summed, non-finite gradients on one, or replicas waiting on each other in a
    collective the other never enters. One scalar all-reduce makes the decision the job's, as
    one device's would be for the global batch. `grads` itself on one replica."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return grads
    present = [g for g in grads if g is not None]
    if not present:
        return grads
    values = [g.values if isinstance(g, tf.IndexedSlices) else g for g in present]
    bad = tf.add_n([tf.reduce_sum(tf.cast(~tf.math.is_finite(v), tf.float32)) for v in values])
    factor = tf.where(tf.equal(replica_sum(bad), 0.0), 1.0, float("nan"))

    def scaled(g):
        if g is None:
            return None
        if isinstance(g, tf.IndexedSlices):
            return tf.IndexedSlices(g.values * tf.cast(factor, g.values.dtype), g.indices, g.dense_shape)
        return g * tf.cast(factor, g.dtype)

    return [scaled(g) for g in grads]


def replica_gather(value):
    """The global batch's rows of `value` ((B, ...) on each replica -> (R B, ...), in replica
    order, which is the data's order), on every replica; `value` itself on one device."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return value
    return replica.all_gather(value, axis=0)


# -- numeric precision ------------------------------------------------------------------------------
def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise KerasGenError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    return precision


@contextlib.contextmanager
def precision_policy(precision: str):
    """Within the block, Keras' global dtype policy is `precision` (layers built inside compute in
    it, their variables float32); the previous policy is restored after, so a model loaded later
    for sampling or export is built in float32 (exports stay float32: their parity is unchanged)."""
    import keras

    check_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def sync_batch_norm(model, synchronized: bool = True) -> int:
    """Batch statistics over the global batch (every replica's rows), not each replica's: every
    keras.layers.BatchNormalization in `model` (its sub-networks' included) set to Keras'
    `synchronized`; the layer reads it at each call, and it changes no variable (checkpoints
    are the same). Returns how many layers it set."""
    import keras

    count = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized
            count += 1
    return count


def _all_layers(model):
    import keras

    seen, stack = set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        for value in vars(layer).values():
            items = value if isinstance(value, (list, tuple)) else value.values() if isinstance(value, dict) else [value]
            stack.extend(item for item in items if isinstance(item, keras.layers.Layer))
        if isinstance(layer, keras.Model) or hasattr(layer, "layers"):
            stack.extend(getattr(layer, "layers", []) or [])
