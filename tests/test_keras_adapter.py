"""What keras_gen/keras_adapter.py assumes about Keras, checked on the installed Keras.

Run this first when moving the `keras` or `tensorflow` pins (requirements.txt). Each failure
names the Keras behaviour that moved and what it breaks in keras-gen: the place of the moving
average among an optimizer's variables (checkpoints saved with `ema` on), the optimizer config
keys that bring it back on reload, how functional models and Keras' random layers are laid out
(the keys of seed-generator states in checkpoints). tests/test_distribution.py covers the loss
scaled under a tf.distribute strategy, on two logical devices.
"""

import keras
import numpy as np
import pytest

from keras_gen.keras_adapter import (WeightAverage, is_functional, named_seed_generators, replica_gradient_scale,
                                     serialized_optimizer, weight_average)

KERAS = f"Keras {keras.__version__}"
# The optimizers keras-gen's models use (default_optimizers), SGD with a slot of its own.
OPTIMIZERS = [lambda **kw: keras.optimizers.Adam(**kw), lambda **kw: keras.optimizers.RMSprop(**kw),
              lambda **kw: keras.optimizers.SGD(momentum=0.9, **kw),
              lambda **kw: keras.optimizers.Adam(gradient_accumulation_steps=2, **kw)]
OPTIMIZER_IDS = ["adam", "rmsprop", "sgd_momentum", "adam_accumulating"]


def _network():
    z = keras.Input((3,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(4)(z))
    return keras.Model(z, keras.layers.Dense(2)(h))


def _keras_ema_and_ours(make, variables, ours_trains=None):
    """The same optimizer twice: averaging by Keras' own use_ema, and by keras-gen (over
    `ours_trains`, by default the same variables)."""
    native = make(use_ema=True, ema_momentum=0.9, name="opt")
    native.build(variables)
    ours = make(name="opt")
    average = WeightAverage(ours, ours_trains or variables, 0.9)
    ours.build(ours_trains or variables)
    return native, ours, average


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_the_average_sits_where_keras_use_ema_puts_it_so_checkpoints_load_both_ways(make):
    variables = _network().trainable_variables
    native, ours, average = _keras_ema_and_ours(make, variables)
    layout = lambda o: [(v.path, tuple(v.shape), v.dtype) for v in o.variables]  # noqa: E731
    assert layout(native) == layout(ours), (
        f"{KERAS}: {type(native).__name__}(use_ema=True).build no longer creates its averages first, right after "
        "iterations and learning_rate. Checkpoints saved with `--set ema` (Keras' layout) would load into other "
        "slots: make WeightAverage create them where Keras now does, and keep reading old checkpoints.")
    assert len(average.averages) == len(variables) and all(a is not None for a in average.averages)
    # A checkpoint written by Keras' averaging loads into keras-gen's, value for value, and back.
    for i, v in enumerate(native.variables):
        v.assign(np.full(v.shape, i + 1, v.dtype))
    store = {}
    native.save_own_variables(store)
    ours.load_own_variables(store)
    for a, b in zip(native.variables, ours.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"{KERAS}: {a.path}")
    assert [np.asarray(a)[..., 0].ravel()[0] for a in average.averages] == list(
        range(3, 3 + len(variables))), f"{KERAS}: the averages are not the variables after iterations and learning_rate"


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_keras_leaves_the_average_alone_once_use_ema_is_off(make):
    variables = _network().trainable_variables
    optimizer = make(use_ema=True)
    average = WeightAverage(optimizer, variables, 0.9)
    optimizer.build(variables)
    assert optimizer.use_ema is False
    for _ in range(3):
        optimizer.apply_gradients([(keras.ops.ones(v.shape), v) for v in variables])
    assert int(optimizer.iterations) >= 1
    for a in average.averages:
        assert not np.any(np.asarray(a)), (
            f"{KERAS} updated {a.path} itself although use_ema is False (Optimizer.apply): keras-gen's warm-up "
            "average would be updated twice a step.")


def test_the_update_is_keras_use_ema_update_with_its_own_momentum():
    """At Keras' momentum (0 at step 0, then `ema_momentum`) keras-gen's update gives Keras'
    use_ema averages bit for bit: the warm-up is the only difference."""
    variables = _network().trainable_variables
    twins = [keras.Variable(np.asarray(v)) for v in variables]  # the same weights, trained by keras-gen's
    native, ours, average = _keras_ema_and_ours(lambda **kw: keras.optimizers.Adam(**kw), variables, twins)
    rng = np.random.default_rng(0)
    for step in range(4):
        grads = [rng.standard_normal(v.shape).astype("float32") for v in variables]
        native.apply_gradients(zip(grads, variables))
        ours.apply_gradients(zip(grads, twins))
        average.update(0.0 if step == 0 else 0.9)
    native_averages = native.variables[2:2 + len(variables)]
    for a, b in zip(native_averages, average.averages, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=(
            f"{KERAS}: Keras' use_ema update is no longer average <- m average + (1 - m) variable "
            f"({a.path}); keras-gen's average has drifted from what `ema` documents."))


def test_the_optimizer_config_still_says_use_ema_and_brings_the_average_back():
    from keras_gen.models.base import GenerativeModel

    class Tiny(GenerativeModel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.generator = _network()
            self.built = True

        def default_optimizers(self):
            return {"generator": keras.optimizers.Adam()}

    model = Tiny(image_size=4, ema=0.95)
    model.compile()
    config = serialized_optimizer(model.optimizers["generator"])
    assert config["config"]["use_ema"] is True and config["config"]["ema_momentum"] == 0.95
    restored = keras.saving.deserialize_keras_object(config)
    assert restored.use_ema is True and restored.ema_momentum == 0.95, (
        f"{KERAS} no longer reads use_ema/ema_momentum from an optimizer's config: reloaded checkpoints would "
        "come back without their moving average.")
    reloaded = Tiny(image_size=4)  # `ema` off: the optimizer's config alone brings the average back
    reloaded.compile(optimizers={"generator": restored})
    assert weight_average(restored) is not None and weight_average(restored).momentum == 0.95
    shapes = lambda o: [tuple(v.shape) for v in o.variables]  # noqa: E731  (paths carry layer counters)
    assert shapes(restored) == shapes(model.optimizers["generator"])


def test_an_optimizer_built_before_compile_is_one_clear_error():
    from keras_gen.errors import KerasGenError

    variables = _network().trainable_variables
    optimizer = keras.optimizers.Adam()
    optimizer.build(variables)
    with pytest.raises(KerasGenError, match="was built before compile"):
        WeightAverage(optimizer, variables, 0.9)
    with pytest.raises(KerasGenError, match="ema_overwrite_frequency"):
        WeightAverage(keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=10), variables, 0.9)


def test_without_a_strategy_the_gradient_is_not_scaled():
    assert replica_gradient_scale() == 1.0


# -- seed generators by place --------------------------------------------------------------------
def test_functional_models_are_keras_functions_and_list_their_inputs_first():
    z = keras.Input((3,))
    functional = keras.Model(z, keras.layers.Dense(2)(z))

    class SubclassedFunctional(keras.Model):
        def __init__(self):
            x = keras.Input((3,))
            super().__init__(x, keras.layers.Dense(2)(x))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    found = {name: is_functional(m) for name, m in (("functional", functional), ("subclassed functional",
             SubclassedFunctional()), ("subclassed", Subclassed()), ("sequential", sequential))}
    assert found == {"functional": True, "subclassed functional": True, "subclassed": False, "sequential": False}, (
        f"{KERAS}: keras.Function no longer tells functional models apart ({found}); seed-generator keys inside "
        "networks (\"generator.layers.6.layers.3.seed_generator\") would change and checkpoints would not reload.")
    assert [type(layer).__name__ for layer in functional.layers] == ["InputLayer", "Dense"], (
        f"{KERAS}: a functional model's `layers` no longer starts with its InputLayer: the place numbers in "
        "seed-generator keys would shift and checkpoints would not reload.")


@pytest.mark.parametrize("layer, key", [(keras.layers.Dropout(0.5), "seed_generator"),
                                        (keras.layers.GaussianNoise(0.1), "seed_generator"),
                                        (keras.layers.GaussianDropout(0.1), "seed_generator"),
                                        (keras.layers.RandomFlip(), "generator")])
def test_keras_random_layers_hold_their_generator_where_checkpoints_key_it(layer, key):
    assert list(named_seed_generators(layer)) == [key], (
        f"{KERAS}: {type(layer).__name__} keeps its SeedGenerator under another attribute "
        f"({list(named_seed_generators(layer))}); checkpoints key it {key!r} (a diffusion U-Net's Dropout is "
        "'denoiser.layers.N.drop.seed_generator'): map the old key in GenerativeModel.load_own_variables.")


def _seed_states(model) -> set:
    """The seed-generator states among a model's variables: Keras documents `variables` as its
    `weights` plus the state of its seed generators."""
    weights = {id(w) for w in model.weights}
    return {id(v) for v in model.variables if id(v) not in weights}


def test_every_seed_generator_is_found_and_keyed_by_where_it_sits():
    from keras_gen.models.base import GenerativeModel

    class Noisy(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.noises = [keras.random.SeedGenerator(1), keras.random.SeedGenerator(2)]
            self.by_name = {"a": keras.random.SeedGenerator(3)}

        def call(self, x):
            return x + keras.random.normal(keras.ops.shape(x), seed=self.noises[0])

    class Model(GenerativeModel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            z = keras.Input((3,))
            inner_in = keras.Input((4,))
            inner = keras.Model(inner_in, keras.layers.Dropout(0.2)(inner_in))
            self.generator = keras.Model(z, inner(Noisy()(keras.layers.Dense(4)(z))))
            self.built = True

    model = Model(image_size=4)
    found = named_seed_generators(model)
    assert {id(g.state) for g in found.values()} == _seed_states(model), (
        f"{KERAS}: the walk missed seed generators that `model.variables` lists: their states would not be saved "
        "and resume would not be exact.")
    # The generators a layer keeps in its own list or dict are keyed by their place in the list where
    # Keras tracks a layer's generators, as checkpoints have saved them; on a Keras without that list
    # they would be keyed "noises.0" ... (found all the same): map the old keys on load then.
    assert sorted(found) == ["generator.layers.2._seed_generators.0", "generator.layers.2._seed_generators.1",
                             "generator.layers.2._seed_generators.2", "generator.layers.3.layers.1.seed_generator",
                             "seed_generator"], f"{KERAS}: seed-generator keys changed: {sorted(found)}"


@pytest.mark.parametrize("name, options", [("stylegan", {}), ("ddpm", {"dropout": 0.1}), ("vqvae", {})])
def test_the_walk_finds_every_seed_generator_of_models_that_hold_them_in_sub_layers(name, options):
    from keras_gen import registry

    spec = registry.get(name)
    model = registry.build(name, image_size=spec.model_class.harness_image_size, channels=1,
                           **{**spec.model_class.harness_options, **options})
    found = named_seed_generators(model)
    assert len(found) > 1 and {id(g.state) for g in found.values()} == _seed_states(model), (
        f"{KERAS}: {name}'s seed generators {sorted(found)} are not all of those `model.variables` lists.")
