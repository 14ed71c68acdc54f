"""Where keras-gen relies on Keras beyond a plain `keras.Model`, in one place and through public API.

- `WeightAverage`: the exponential moving average of the weights (`--set ema`), with a warm-up,
  kept in the optimizer's own variables at the place Keras' `use_ema=True` keeps its average.
- `replica_gradient_scale`: the factor of a per-replica mean loss's gradient under a
  tf.distribute strategy (1 / replicas), applied by GenerativeModel.apply_gradients.
- `named_seed_generators`: every `keras.random.SeedGenerator` of a model, keyed by where it sits
  (checkpoints carry their states under these keys).

Each uses Keras 3's or TensorFlow's public API only (optimizer variables through
`add_optimizer_variables`, `use_ema` and `ema_momentum` as attributes and config keys,
`keras.Function`, `Model.layers`, `tf.distribute.get_strategy`): no `keras.src` import and no
private attribute of a Keras object read by name (the seed-generator walk looks at every
attribute of a layer, Keras' own among them, the way `vars()` lists them). What they assume
beyond Keras' documentation (where `use_ema` puts its averages among an optimizer's variables,
that a functional model's `layers` start with its inputs, that Keras' layers hold their
generators as attributes) is pinned by tests/test_keras_adapter.py, whose failures name the
Keras behaviour that moved: run it first when moving the `keras` or `tensorflow` pins in
requirements.txt.
"""

from __future__ import annotations

import weakref

import keras
from keras import ops

from keras_gen.errors import KerasGenError

# -- the moving average of the weights ----------------------------------------------------------
_AVERAGES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # optimizer -> its WeightAverage


class WeightAverage:
    """An exponential moving average of the variables one optimizer trains, in that optimizer's
    variables.

    Keras' own `use_ema=True` averages at one fixed momentum and offers no hook for a schedule
    (keras-gen's warm-up, `keras_gen.models.base.ema_momentum_at`), so keras-gen keeps the
    average itself: the optimizer's averaging is switched off (`use_ema = False`) and `update`
    runs after each of its steps (`GenerativeModel.apply_optimizer`). The averages are created
    with the optimizer's public `add_optimizer_variables` before it builds its slots, which is
    where `use_ema=True` creates them (first thing in `build`, after `iterations` and
    `learning_rate`), and `serialized_optimizer` still writes `use_ema`/`ema_momentum` into the
    optimizer's config: checkpoints saved with Keras' averaging and with this one hold the same
    variables in the same order and load into each other.
    """

    def __init__(self, optimizer, variables, momentum: float):
        if optimizer.built:  # its slots exist: averages added now would sit after them
            raise KerasGenError(f"Optimizer {optimizer.name!r} was built before compile; keras-gen creates its "
                                "moving-average slots when it builds it: give compile optimizers that have not "
                                "been used yet.")
        if optimizer.ema_overwrite_frequency:
            raise KerasGenError(f"Optimizer {optimizer.name!r} sets ema_overwrite_frequency: keras-gen keeps the "
                                "moving average apart from the trained weights (swapped in for sampling and "
                                "export); leave it None.")
        optimizer.use_ema = False  # keras-gen averages; Keras must not average as well
        self.momentum = float(momentum)
        self.variables = list(variables)
        # One per variable, None where Keras' use_ema has none either (overwrite_with_gradient).
        self.averages = optimizer.add_optimizer_variables(self.variables, "average")
        _AVERAGES[optimizer] = self

    def update(self, momentum):
        """average <- m average + (1 - m) variable, for every variable of the optimizer (those
        without a gradient this step too, as Keras' use_ema does)."""
        for var, average in zip(self.variables, self.averages, strict=True):
            if average is not None:
                m = ops.cast(momentum, var.dtype)
                average.assign(ops.add(ops.multiply(m, average), ops.multiply(ops.subtract(1, m), var)))

    def pairs(self) -> list:
        """(trained variable, its average) for every averaged variable."""
        return [(var, average) for var, average in zip(self.variables, self.averages, strict=True)
                if average is not None]


def weight_average(optimizer) -> WeightAverage | None:
    """The WeightAverage kept in `optimizer`'s variables, or None."""
    return _AVERAGES.get(optimizer)


def serialized_optimizer(optimizer) -> dict:
    """`keras.saving.serialize_keras_object(optimizer)`, its config saying `use_ema` and
    `ema_momentum` when keras-gen keeps its average: the config a checkpoint held before keras-gen
    took the averaging over, and what tells `compile` to create the averages again on reload."""
    serialized = keras.saving.serialize_keras_object(optimizer)
    average = weight_average(optimizer)
    if average is not None:
        serialized["config"].update(use_ema=True, ema_momentum=average.momentum, ema_overwrite_frequency=None)
    return serialized


# -- losses under a tf.distribute strategy ------------------------------------------------------
def replica_gradient_scale() -> float:
    """1 / replicas of the strategy in scope: the factor of a per-replica mean loss's gradient, as
    Keras scales its compiled losses (the replicas' gradients are summed into one step); 1.0
    without a strategy or with one replica."""
    import tensorflow as tf

    return 1.0 / tf.distribute.get_strategy().num_replicas_in_sync


# -- seed generators by place -------------------------------------------------------------------
def is_functional(layer) -> bool:
    """A functional model (built from inputs and outputs): its layers are its graph's, in order,
    not attributes. `keras.Function` is the public base of Keras' functional models; a Sequential
    or a subclassed model is not one."""
    return isinstance(layer, keras.Model) and isinstance(layer, keras.Function)


def named_seed_generators(model) -> dict:
    """Every SeedGenerator of `model` and its sub-layers, keyed by where it sits: the attribute
    names leading to it, and inside a functional network the layer's place in it
    ("generator.layers.3.seed_generator"). A model rebuilt by the same code has the same keys.
    Not the generators' or layers' names: those are auto-numbered by what the process built
    before ("seed_generator_3", "dropout_2"; a Dropout's generator is one).

    A generator is named by the attribute holding it or, held only in a list or dict attribute,
    by that attribute and its place in it ("noises.1"); where several attributes hold it, by the
    last of them in the order below (public names first, then alphabetical). Checkpoints carry
    these keys, so the rule is the one they were saved with: on Keras 3.15 a generator kept in a
    model's own list or dict is keyed by its place in the list where Keras tracks a layer's
    generators (an attribute sorting after public names), and on a Keras without that list, by
    its place in the model's own.
    """
    found, seen = {}, set()

    def walk(layer, prefix):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        attrs = sorted(vars(layer).items(), key=lambda kv: (kv[0].startswith("_"), kv[0]))
        direct, listed = {}, {}
        for key, value in attrs:
            if isinstance(value, keras.random.SeedGenerator):
                direct[id(value)] = (key, value)
            elif isinstance(value, (list, tuple, dict)):
                for j, item in (value.items() if isinstance(value, dict) else enumerate(value)):
                    if isinstance(item, keras.random.SeedGenerator):
                        listed[id(item)] = (f"{key}.{j}", item)
        for key, generator in {**listed, **direct}.values():
            # "/" would nest groups in the .weights.h5 store; the key is a flat name
            found[f"{prefix}{key}"] = generator
        children = [(f"layers.{i}", child) for i, child in enumerate(layer.layers)] if is_functional(layer) else []
        for key, value in attrs:
            values = value if isinstance(value, (list, tuple)) else [value]
            for j, child in enumerate(values):
                if isinstance(child, keras.layers.Layer):
                    children.append((key if values is not value else f"{key}.{j}", child))
        for key, child in children:
            walk(child, f"{prefix}{key}.")

    walk(model, "")
    return found
