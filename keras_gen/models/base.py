"""The contract every model family stands on.

A family subclasses `GenerativeModel`, registers the class in its family's `__init__.py`
(keras_gen/registry.py: its name, summary and the data kind `train_step` receives: images |
labelled | paired | unpaired | indexed | attributes | degraded | captioned, see keras_gen/data/training_data.py), and
writes only what is its own:

    class Options(ModelOptions)   its options, defaults and types, once (they become `--set`
                                  flags, the config of `.keras` files, and `keras-gen models NAME`)
    __init__                      its sub-networks, built from `self.options`, and its loss
                                  trackers (keras.metrics.Mean; an adversarial model names its mean
                                  D(x) and D(G(z)) `d_real` and `d_fake`, which the run watches for
                                  a collapsed discriminator)
    default_optimizers()          {sub-network attribute: optimizer}, one per alternating player
    train_step                    the algorithm, drawing its noise with random_normal/random_uniform
    input_specs() + generate()    what a sampling request takes (keras_gen.inputs kinds) and the
                                  one network call that turns it into images, or, for models that
                                  sample in a loop, sampler() + network_specs() + network()

The base class derives the rest: the config round trip, optimizers that save, load and build
their slots, an optional EMA of the weights, seed-generator state in checkpoints (saved by
name), per-replica random draws, `sample(n, seed, **conditions)`, the export endpoints and
their parity inputs, and the manifest's metadata. export/, serving/, training.py and the CLI
know nothing else about a model.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np

from keras_gen import registry
from keras_gen.core import inputs as kinds
from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import image_hw
from keras_gen.core.samplers import DIRECT
from keras_gen.core_tf.inputs import resolve_inputs_tf, signature_values_tf, tensor_spec
from keras_gen.distribute import replica_rows, skip_together
from keras_gen.keras_adapter import (WeightAverage, float32_outputs, inner_optimizer, logs_reducible_across_workers,
                                     named_seed_generators, replica_gradient_scale, scales_losses,
                                     serialized_optimizer, weight_average)

# Examples a preview shows for a model that takes images: each a row of inputs, output, target.
PREVIEW_ROWS = 16
# Taken by a sampling request itself, sample()'s own arguments, or `keras-gen sample`'s flags.
RESERVED_INPUT_NAMES = ("n", "seed", "batch_size", "out", "labels", "inputs")


def option(default, help: str = "", min=None, max=None, choices=None, min_exclusive: bool = False):
    """An option field: its default, why that default (help), and the values it may take."""
    return field(default=default, metadata={"help": help, "min": min, "max": max, "choices": choices,
                                            "min_exclusive": min_exclusive})


@dataclass
class ModelOptions:
    """Options every model has. Subclasses add theirs as `option(...)` fields."""

    seed: int = option(0, "seeds the model's own random draws (noise in train_step)", min=0, max=2**32 - 1)
    ema: float = option(0.0, "momentum of an exponential moving average of the weights, kept by the optimizers "
                             "(Keras use_ema) and exported instead of the raw weights; 0 is off, 0.999 is usual",
                        min=0.0, max=0.99999)


def option_fields(options_class) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(options_class)}


def options_without(options_class, *names: str) -> type:
    """`options_class` less the options `names`, for a model that takes a family's options but
    does not read some of them (ProGAN's equalised learning rate stands in for spectral norm): a
    model lists, records and accepts only the options it uses. Subclass the result as usual."""
    fields = option_fields(options_class)
    unknown = sorted(set(names) - set(fields))
    if unknown:
        raise ValueError(f"{options_class.__name__} has no option(s) {unknown}")
    kept = [(f.name, f.type, field(default=f.default, metadata=f.metadata)) for f in fields.values() if f.name not in names]
    return dataclasses.make_dataclass(options_class.__name__, kept)


def coerce_option(f: dataclasses.Field, value):
    """`value` as the type of the field's default, inside its bounds; KerasGenError otherwise."""
    default, meta = f.default, f.metadata
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError(value)
                value = value.lower() in ("1", "true", "yes", "on")
            elif not isinstance(value, (bool, np.bool_)):
                raise ValueError(value)
            value = bool(value)
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(value)
        elif kind is str:
            value = str(value)
    except (TypeError, ValueError):
        raise KerasGenError(f"Option {f.name}={value!r}: expected a {kind.__name__}.") from None
    if meta.get("choices") and value not in meta["choices"]:
        raise KerasGenError(f"Option {f.name} must be one of {', '.join(map(str, meta['choices']))}, got {value!r}.")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("min_exclusive") and value == lo)):
        raise KerasGenError(f"Option {f.name} must be {'>' if meta.get('min_exclusive') else '>='} {lo}, got {value!r}."
                            + (f" ({meta['help']})" if meta.get("help") else ""))
    if hi is not None and value > hi:
        raise KerasGenError(f"Option {f.name} must be <= {hi}, got {value!r}.")
    return value


def ema_momentum_at(step, ema):
    """The EMA momentum of update `step` (0-based: the optimizer's `iterations` before it), with
    TensorFlow's ExponentialMovingAverage warm-up (num_updates): min(ema, (1 + t) / (10 + t)).

    Keras' use_ema averages at `ema` from the second step on, so the initial weights keep a share
    ema^t of the average: at 0.999, 41% after 880 steps. The warm-up lets the average follow the
    weights early (0.18, 0.25, 0.31, ... at t = 1, 2, 3) and reaches `ema` only after
    (10 ema - 1) / (1 - ema) steps (8,991 at 0.999). Step 0 keeps Keras' momentum 0: the average
    starts at the weights after the first update, not at the initialisation. Numbers or tensors."""
    from keras import ops

    step = ops.cast(step, "float32")
    warm = ops.minimum(ops.cast(ema, "float32"), (1.0 + step) / (10.0 + step))
    return ops.where(ops.equal(step, 0.0), 0.0, warm)


class GenerativeModel(keras.Model):
    """Base class of every keras-gen model; see the module docstring for what a family writes."""

    Options = ModelOptions
    data_kind = "images"  # a registered class gets its registration's
    registered_name: str | None = None  # set from the registration (keras_gen.registry.claim)
    # Tiny settings for the shared test harness (tests/test_model_harness.py), which every
    # registered model passes: options small enough to train, save, resume and export in seconds.
    harness_options: dict = {}
    harness_image_size: int | tuple = 16  # one side, or (height, width)
    # float16 loss scaling's first scale (--precision mixed_float16; Keras' default 2**15). A model
    # whose losses are large (adain's VGG feature errors, ~1e4: gradients ~1e4 unscaled) starts
    # lower, rather than skip its first steps while the dynamic scale halves down to what fits.
    initial_loss_scale: float = 2.0 ** 15
    # Whether the model needs square images (most networks here are built for S x S); a model
    # that takes any height and width says False, and `image_size` may then be (height, width).
    square_only: bool = True
    # The sides of an any-size image input must be multiples of this (2^depth for a U-Net).
    size_multiple: int = 1
    # Options added after a model's first release, with the values that rebuild what a config
    # saved before them describes (a new default applies to new models only): {name: old value}.
    options_added_later: dict = {}
    # Options an older release listed for this model although it never read them: dropped from
    # configs saved then, so their checkpoints still load.
    retired_options: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        spec = registry.registration_of(cls)  # registered by path in its family's __init__.py
        if spec is not None:
            registry.claim(cls, spec)
        if "train_step" in vars(cls):  # its logs reduced across hosts (keras_adapter says why)
            cls.train_step = logs_reducible_across_workers(vars(cls)["train_step"])

    def __init__(self, image_size: int | tuple = 32, channels: int = 1, num_classes: int | None = None, **kwargs):
        fields = option_fields(self.Options)
        given = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        super().__init__(**kwargs)  # what remains are Keras' own (name, dtype, trainable)
        height, width = image_hw(image_size)
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise KerasGenError(f"channels must be a positive integer, got {channels!r}.")
        if height != width and self.square_only:
            raise KerasGenError(f"{type(self).__name__} takes square images: pass one --image-size, not "
                                f"{height}x{width}.")
        if num_classes is not None and (isinstance(num_classes, bool) or int(num_classes) < 1):
            raise KerasGenError(f"num_classes must be a positive integer or None, got {num_classes!r}.")
        if self.data_kind not in registry.DATA_KINDS:
            raise KerasGenError(f"{type(self).__name__}.data_kind must be one of {registry.DATA_KINDS}, "
                                f"got {self.data_kind!r}.")
        # One int for square images (what most models compute with), (height, width) otherwise.
        self.image_size = height if height == width else (height, width)
        self.channels = int(channels)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.image_shape = (height, width, self.channels)
        self.options = self.Options(**{k: coerce_option(fields[k], v) for k, v in given.items()})
        self.optimizers: dict = {}
        # Its state is a variable of the model, so checkpoints carry it and resume draws the same noise.
        self.seed_generator = keras.random.SeedGenerator(self.options.seed, name="train_noise")

    # -- shapes: what the data gives, what the model makes ------------------------------------
    @property
    def image_pixels(self) -> int:
        """H * W * C of the model's images: the size of a flattened image."""
        return int(np.prod(self.image_shape))

    def data_shapes(self) -> tuple:
        """(H, W, C) of each image in a training example, in the order the data kind yields them:
        (images,) for one domain, (A, B) for two (a paired model's input and target). The data
        loaders read each image at its shape; a model whose two sides differ (super-resolution:
        low-resolution in, high-resolution out) overrides this."""
        two_domains = self.data_kind in ("paired", "unpaired")
        return (self.image_shape, self.image_shape) if two_domains else (self.image_shape,)

    def degradation(self):
        """A "degraded" model's keras_gen.data.degradations.Degradation: how its training inputs
        are made from patches of the data (super-resolution's scales); None for the others."""
        return None

    def text_spec(self):
        """A "captioned" model's caption input (keras_gen.core.inputs.caption: its vocabulary and
        max_words), which the data tokenises its captions with; None for the others."""
        return None

    @property
    def output_shape(self) -> tuple:
        """(H, W, C) of the images the model makes; None for a side that follows the input's."""
        return self.image_shape

    def image_input_shape(self, spec) -> tuple:
        """The (H, W, C) at which an image input is read for previews and checks: its spec's
        shape, a None side taken from the training images of its domain (a request's n-th image
        input reads the n-th domain; a network's own inputs, the model's image shape)."""
        names = [s.name for s in self.request_specs() if s.kind == "image"]
        shapes = self.data_shapes()
        domain = shapes[min(names.index(spec.name), len(shapes) - 1)] if spec.name in names else self.image_shape
        return tuple(d if d is not None else domain[i] for i, d in enumerate(spec.shape))

    # -- the per-epoch preview: chosen by the model -------------------------------------------
    def wants_preview_examples(self) -> bool:
        """Whether the preview needs examples of the data (a request that takes images)."""
        return any(s.kind == "image" for s in self.request_specs())

    def preview(self, n: int, seed: int, examples: tuple | None = None) -> tuple[np.ndarray, int | None]:
        """(uint8 images, grid columns or None) of the grid a run writes after each epoch: the
        same `n` samples of `seed` every time. `examples` are the first test examples of the data,
        one float array per domain (data_shapes order), when `wants_preview_examples()`.

        A model that takes images shows each example's row: its image inputs (filled from the
        domains in order), the output and, for paired data, the target, each at the output's
        size (nearest neighbour, so pixels stay visible)."""
        from keras_gen.images import to_uint8

        image_specs = [s for s in self.request_specs() if s.kind == "image"]
        if not image_specs:
            return to_uint8(self.sample(n, seed)), None
        rows = min(n, PREVIEW_ROWS, *(len(e) for e in examples))
        conditions = {s.name: examples[min(i, len(examples) - 1)][:rows] for i, s in enumerate(image_specs)}
        output = self.sample(rows, seed, **conditions)
        columns = [*conditions.values(), output] + ([examples[1][:rows]] if self.data_kind == "paired" else [])
        height, width = output.shape[1:3]
        tiles = np.stack([_nearest_resize(c, height, width, output.shape[3]) for c in columns], axis=1)
        return to_uint8(tiles.reshape(-1, *output.shape[1:])), 2 * len(columns)  # two examples a grid row

    # -- configuration: one source, the Options dataclass -----------------------------------
    def get_config(self):
        size = self.image_size if isinstance(self.image_size, int) else list(self.image_size)
        config = {**super().get_config(), "image_size": size, "channels": self.channels,
                  "num_classes": self.num_classes, **dataclasses.asdict(self.options)}
        config.pop("dtype", None)  # the precision is the run's (--precision), not the checkpoint's
        return config

    @classmethod
    def from_config(cls, config):
        """A config saved before an option existed (every saved config lists every option of its
        day) gets that option's old value, not today's default, so a checkpoint reloads as the
        network and training it was; options it never read (`retired_options`) are dropped.
        A dtype policy in the config (checkpoints written before the precision was the run's) is
        dropped too: the model is built in the policy in force where it is loaded (float32 for
        sampling and export, the run's own on resume)."""
        config = {k: v for k, v in config.items() if k not in cls.retired_options and k != "dtype"}
        return super().from_config({**cls.options_added_later, **config})

    def plan_training(self, total_steps: int) -> None:
        """Called by the training loop before `fit` with the number of steps (train_step calls)
        the run takes in all, its epochs times steps per epoch, when it starts and when it
        resumes. A model whose schedule follows the length of the run (CycleGAN's learning-rate
        decay over its second half) keeps it in a weight, so checkpoints carry it; others ignore it."""

    # -- optimizers, owned here -------------------------------------------------------------
    def default_optimizers(self) -> dict:
        """{name: optimizer}; the name is the attribute of the sub-network it trains (see
        `variables_for`). One optimizer per player of an alternating game."""
        raise NotImplementedError(f"{type(self).__name__} does not define default_optimizers()")

    def variables_for(self, optimizer_name: str) -> list:
        """The variables optimizer `optimizer_name` updates: by default those of the sub-network
        of that attribute name; override where one optimizer trains several networks."""
        network = getattr(self, optimizer_name, None)
        if network is None or not hasattr(network, "trainable_variables"):
            raise KerasGenError(f"{type(self).__name__}: optimizer {optimizer_name!r} names no sub-network; "
                                "override variables_for().")
        return network.trainable_variables

    def compile(self, optimizers: dict | None = None, **kwargs):
        """Set the optimizers (`default_optimizers()` unless given), their EMA and their slots.

        Compiled under Keras' mixed_float16 policy (`--precision mixed_float16`), the default
        optimizers are each wrapped in Keras' LossScaleOptimizer (dynamic loss scaling, a skipped
        step and a halved scale on a non-finite gradient); `apply_gradients` scales the loss for
        it. Given optimizers (a checkpoint's, reloaded) are kept as they are: a run's precision
        does not change at a resume, and a checkpoint loads in float32 for sampling and export."""
        kwargs.setdefault("auto_scale_loss", False)  # keras-gen scales its own losses (apply_gradients)
        super().compile(**kwargs)
        # Keras' own optimizer (compile's default; keras-gen steps its named ones) is built on no
        # variables: under a tf.distribute strategy, fit would build it on every weight (RMSprop
        # slots), and checkpoints written there would not load where it is not.
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build([])
        self.built = True  # sub-networks are built in __init__ (functional models); nothing is lazy
        self.optimizers = dict(optimizers if optimizers is not None else self.default_optimizers())
        if optimizers is None and keras.config.dtype_policy().name == "mixed_float16":
            self.optimizers = {name: keras.optimizers.LossScaleOptimizer(optimizer,
                                                                         initial_scale=self.initial_loss_scale)
                               for name, optimizer in self.optimizers.items()}
        float32_outputs(self)
        for name, optimizer in self.optimizers.items():
            # The EMA: `ema`, or the optimizer's own use_ema (a reloaded one says it in its config).
            # keras-gen keeps it, with its warm-up, in the optimizer's variables (WeightAverage;
            # the inner optimizer's, under loss scaling); the momentum depends only on
            # `iterations`, so resumed runs warm up the same way.
            trained = inner_optimizer(optimizer)
            momentum = trained.ema_momentum if trained.use_ema else self.options.ema
            if momentum and weight_average(optimizer) is None:
                WeightAverage(trained, self.variables_for(name), momentum)
            # Slots now, not at the first step: a checkpoint saved before training still holds
            # them, and loading restores them instead of skipping the optimizer.
            optimizer.build(self.variables_for(name))

    def get_compile_config(self):
        if not self.optimizers:
            return None  # never compiled: there is no training state to save
        return {"optimizers": {k: serialized_optimizer(v) for k, v in self.optimizers.items()}}

    def compile_from_config(self, config):
        self.compile(optimizers={k: keras.saving.deserialize_keras_object(v) for k, v in config["optimizers"].items()})

    def apply_gradients(self, optimizer_name: str, tape, loss):
        """One optimizer step on its own variables, from `loss` recorded by `tape`: this replica's
        mean over its batch, as computed. Under a tf.distribute strategy with R replicas the
        gradient taken is that of loss / R (the replicas' gradients are summed into one step, as
        Keras scales its compiled losses); with float16 loss scaling (a LossScaleOptimizer, see
        `compile`) it is that of loss x the optimizer's current scale, which the optimizer divides
        out before its step. Both go through the tape's output gradient: the scaling needs no op
        inside the tape, so a loss computed anywhere in the step is scaled right."""
        self.apply_optimizer(optimizer_name, self.loss_gradients(optimizer_name, tape, loss))

    def loss_gradients(self, optimizer_name: str, tape, loss) -> list:
        """The gradients of `loss` (recorded by `tape`) for the variables optimizer `optimizer_name`
        updates, scaled as `apply_gradients` scales them (for the replicas, and by its loss scale):
        for a step that does something with them before `apply_optimizer` (GLO's sparse rows).
        Two optimizers from one tape: make it persistent and ask once for each."""
        from keras import ops

        variables = self.variables_for(optimizer_name)
        optimizer = self.optimizers[optimizer_name]
        scale = replica_gradient_scale()
        if scale == 1.0 and not scales_losses(optimizer):
            return tape.gradient(loss, variables)
        output = ops.full(ops.shape(loss), scale, "float32")
        if scales_losses(optimizer):
            output = optimizer.scale_loss(output)
        return tape.gradient(loss, variables, output_gradients=ops.cast(output, loss.dtype))

    def apply_optimizer(self, optimizer_name: str, grads):
        """One step of optimizer `optimizer_name`: `grads`, one per variable of
        `variables_for(optimizer_name)` (None where it has none), applied, then its EMA updated.
        A train_step steps its optimizers here or through `apply_gradients`, never by the
        optimizer's own apply_gradients: the EMA would not follow (ema_weights() then refuses)."""
        from keras import ops

        optimizer = self.optimizers[optimizer_name]
        if scales_losses(optimizer):  # on several replicas, a step skipped on one is skipped on all
            grads = skip_together(grads)
        average = weight_average(optimizer)
        if average is None:
            optimizer.apply_gradients(zip(grads, self.variables_for(optimizer_name)))
            return
        # This update's 0-based index: a copy read before the step (the variable itself would
        # be read after it, in a graph).
        step = ops.copy(optimizer.iterations)
        optimizer.apply_gradients(zip(grads, self.variables_for(optimizer_name)))
        # A step loss scaling skipped (a non-finite gradient) did not count: the average stays.
        taken = ops.greater(optimizer.iterations, step)
        average.update(ops.where(taken, ema_momentum_at(step, average.momentum), 1.0))

    @contextlib.contextmanager
    def ema_weights(self):
        """Within the block the trained variables hold their EMA values (when `ema` is on).

        Only trainable variables are averaged: batch-norm moving statistics stay those gathered
        with the raw weights (Keras' momentum 0.99, about the last 100 steps). With the EMA's
        warm-up the two horizons are alike early on; on dcgan ema=0.999 after 880 steps the
        generator's BN inputs under the EMA weights differ from the moving means by 0.04
        standard deviations, and their variances are 0.92-0.98 of the moving ones (raw weights:
        1.01-1.08), so sampling is not hurt. A much longer horizon (0.9999, long runs) would call
        for recomputing the statistics with the averaged weights (BigGAN's "standing stats")."""
        swapped = []
        for name, optimizer in self.optimizers.items():
            average = weight_average(optimizer)
            if average is None:
                continue
            pairs, steps = average.pairs(), int(keras.ops.convert_to_numpy(optimizer.iterations))
            if steps > 0 and pairs and not any(np.any(np.asarray(a)) for _, a in pairs):
                raise KerasGenError(f"{type(self).__name__}: optimizer {name!r} has taken {steps} step(s) but its "
                                    "moving average never moved: step it with self.apply_gradients or "
                                    "self.apply_optimizer in train_step, not its own apply_gradients.")
            for var, mean in pairs:
                swapped.append((var, np.asarray(var)))
                var.assign(mean)
        try:
            yield bool(swapped)
        finally:
            for var, value in reversed(swapped):  # a variable two optimizers average ends raw
                var.assign(value)

    # -- randomness that survives distribution ----------------------------------------------
    def step_seed(self, seed_generator=None):
        """A stateless seed (2,) int64 from the seed generator's next state, the same on every
        replica: for draws made through keras_gen.distribute.replica_rows (as random_normal and
        random_uniform are), which give each replica its rows of the global batch's draw."""
        import tensorflow as tf

        return tf.cast((seed_generator or self.seed_generator).next(), tf.int64)

    def _replica_seed(self, seed_generator=None):
        """A stateless seed from the seed generator's next state, with the replica id folded in:
        reproducible, and different on each replica of a tf.distribute strategy, for a draw a
        model makes itself without `replica_rows` (a mirrored seed generator alone would give
        every replica the same draws). random_normal and random_uniform do better: the same
        numbers on any number of replicas."""
        import tensorflow as tf

        seed = self.step_seed(seed_generator)
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = seed + tf.stack([tf.constant(0, tf.int64), tf.cast(replica.replica_id_in_sync_group, tf.int64)])
        return seed

    def random_normal(self, shape, seed_generator=None):
        """N(0, 1) noise for train_step (latents, diffusion noise), float32; shape[0] is the batch
        (this replica's share: keras_gen.distribute.replica_rows)."""
        import tensorflow as tf

        seed = self.step_seed(seed_generator)
        return replica_rows(lambda s: tf.random.stateless_normal(s, seed=seed), shape)

    def random_uniform(self, shape, minval=0.0, maxval=1.0, dtype="float32", seed_generator=None):
        """U[minval, maxval) draws for train_step; with an integer dtype, categories in
        [minval, maxval) (InfoGAN's codes, diffusion timesteps). shape[0] is the batch."""
        import tensorflow as tf

        seed = self.step_seed(seed_generator)
        return replica_rows(lambda s: tf.random.stateless_uniform(s, seed=seed, minval=minval, maxval=maxval,
                                                                  dtype=tf.as_dtype(dtype)), shape)

    @staticmethod
    def scale_loss(loss):
        """`loss` unchanged: `apply_gradients` scales the gradient for the replicas of a strategy.
        Kept so that train_steps written when the loss itself was scaled still read right."""
        return loss

    # -- exact resume: Keras saves layer variables but not SeedGenerator states --------------
    def _named_seed_generators(self) -> dict:
        """Every SeedGenerator of the model and its sub-layers, keyed by where it sits: the
        attribute names leading to it, and inside a functional network the layer's place in it
        ("generator.layers.3.seed_generator"). A reloaded model, built by the same code, has the
        same keys. Not the names of generators or layers: those are auto-numbered by what the
        process built before ("seed_generator_3", "dropout_2"; a Dropout's generator is one).
        The walk is keras_adapter.named_seed_generators."""
        return named_seed_generators(self)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for path, generator in self._named_seed_generators().items():
            store[f"seed_generator:{path}"] = np.asarray(generator.state)

    def load_own_variables(self, store):
        keys = [k for k in store.keys() if not k.startswith("seed_generator")]
        super().load_own_variables({k: store[k] for k in keys})
        saved = {k.split(":", 1)[1]: k for k in store.keys() if k.startswith("seed_generator:")}
        generators = self._named_seed_generators()
        for path, generator in generators.items():  # checkpoints keyed by the generator's own path
            legacy = generator.state.path.replace("/", ".")
            if path not in saved and legacy in saved:
                saved[path] = saved.pop(legacy)
        missing = sorted(set(generators) - set(saved))
        if saved and missing:  # a checkpoint from another architecture; resume would not be exact
            raise KerasGenError(f"The checkpoint holds no state for seed generator(s) {', '.join(missing)}.")
        for path, generator in generators.items():
            if path in saved:
                generator.state.assign(store[saved[path]])

    # -- sampling: what a request takes, and how it becomes images ---------------------------
    def input_specs(self) -> list:
        """The inputs of a sampling request (keras_gen.inputs): a latent by default, plus a
        label when the model is class-conditional."""
        latent_dim = getattr(self.options, "latent_dim", None)
        if latent_dim is None:
            raise NotImplementedError(f"{type(self).__name__} does not define input_specs()")
        return [kinds.latent(latent_dim)]

    def generate(self, **inputs):
        """Inputs by name -> images (B, H, W, C) in [-1, 1], inference mode (direct models)."""
        raise NotImplementedError(f"{type(self).__name__} does not define generate()")

    def sampler(self):
        """A keras_gen.samplers.Sampler for models that sample in a loop; None: one `generate` call."""
        return None

    def network_specs(self) -> list:
        """Loop-sampled models: the inputs of the network the sampler calls (the ONNX endpoint)."""
        raise NotImplementedError(f"{type(self).__name__} does not define network_specs()")

    def network(self, **inputs) -> dict:
        """Loop-sampled models: one network evaluation, outputs by name."""
        raise NotImplementedError(f"{type(self).__name__} does not define network()")

    def request_specs(self) -> list:
        """Everything a sampling request resolves: input_specs plus the sampler's options. Names
        are unique identifiers, and none is taken by the request itself (n, seed) or the CLI."""
        sampler = self.sampler()
        specs = list(self.input_specs()) + (sampler.option_specs() if sampler is not None else [])
        names = [s.name for s in specs]
        bad = sorted({n for n in names if names.count(n) > 1 or not n.isidentifier() or n in RESERVED_INPUT_NAMES})
        if bad:
            raise KerasGenError(f"{type(self).__name__}: request input name(s) {', '.join(bad)} are repeated, not "
                                f"identifiers, or reserved ({', '.join(RESERVED_INPUT_NAMES)}); rename them.")
        return specs

    def sample(self, n: int, seed: int = 0, batch_size: int = 256, **conditions) -> np.ndarray:
        """`n` images as float32 [-1, 1] numpy for (seed, conditions): the same images as the
        SavedModel's `sample` endpoint and the onnxruntime runner give for the same request."""
        values = kinds.resolve_inputs(self.request_specs(), n, seed, conditions)
        if self.sampler() is not None:  # one loop over all n: its own draws depend on (n, seed)
            return np.asarray(self._loop_sample(values, n, seed))
        chunks = []
        for start in range(0, int(n), batch_size):
            part = {k: (v[start:start + batch_size] if np.ndim(v) else v) for k, v in values.items()}
            chunks.append(np.asarray(self.generate(**part)))
        return np.concatenate(chunks, axis=0)

    def _loop_sample(self, values: dict, n: int, seed: int):
        import tensorflow as tf

        if getattr(self, "_loop_fn", None) is None:
            sampler = self.sampler()
            # One trace for every n: without reduce_retracing each new batch size retraces the
            # whole loop (seconds for a U-Net), as previews, `sample` and evaluation ask for several.
            # No autograph: run_tf writes its loop as tf.while_loop / tf.cond, as the SavedModel's
            # endpoints (Keras' ExportArchive traces them with autograph=False) need; converting the
            # sampler, scheduler and network code cost a third of each loop's trace.
            self._loop_fn = tf.function(lambda v, n, seed: sampler.run_tf(self._network_fn, v, n, seed),
                                        reduce_retracing=True, autograph=False)
        return self._loop_fn({k: tf.constant(v) for k, v in values.items()}, tf.constant(n, tf.int32),
                             tf.constant(seed, tf.int64))

    def _network_fn(self, feeds: dict) -> dict:
        return self.network(**feeds)

    # -- export: endpoints derived from the sampling contract --------------------------------
    def export_endpoints(self) -> dict:
        """Named functions for the SavedModel; the one marked onnx=True becomes model.onnx.

        direct models: generate (inputs -> float images, ONNX), serving_default (inputs -> uint8),
                       sample (n, seed, conditions -> uint8; random inputs drawn inside);
        loop models:   network (ONNX), sample and serving_default (n, seed, conditions -> uint8,
                       the sampler's tf.while_loop)."""
        from keras_gen.images import to_uint8

        request = self.request_specs()
        conditions = kinds.condition_specs(request)
        # Signatures clients call take captions as strings (tokenised inside); the network, ids.
        sample_specs = kinds.sample_count_and_seed() + kinds.as_signature(conditions)
        sampler = self.sampler()

        def sample_images(n, seed, given):
            values = resolve_inputs_tf(request, n, seed, given)
            if sampler is None:
                return self.generate(**values)
            return sampler.run_tf(self._network_fn, values, n, seed)

        def sample(*args):
            n, seed, *rest = args
            return {"images": to_uint8(sample_images(n, seed, dict(zip([s.name for s in conditions], rest))))}

        sample_ep = Endpoint(sample, sample_specs, "(n, seed, conditions) -> n uint8 images; the same request "
                             "gives the same images on every runtime", output_ranges={"images": [0, 255]})
        if sampler is not None:
            network_specs = self.network_specs()

            def network(*args):
                return dict(self.network(**dict(zip([s.name for s in network_specs], args))))

            return {"network": Endpoint(network, network_specs, "one evaluation of the sampler's network", onnx=True),
                    "sample": sample_ep, "serving_default": sample_ep}
        names = [s.name for s in request]

        def generate(*args):
            return {"images": self.generate(**dict(zip(names, args)))}

        def serving_default(*args):
            return {"images": to_uint8(self.generate(**signature_values_tf(request, dict(zip(names, args)))))}

        return {
            "generate": Endpoint(generate, request, "inputs -> float32 images in [-1, 1]", onnx=True,
                                 output_ranges={"images": [-1.0, 1.0]}),
            "serving_default": Endpoint(serving_default, kinds.as_signature(request), "inputs -> uint8 images",
                                        output_ranges={"images": [0, 255]}),
            "sample": sample_ep,
        }

    def parity_image_shape(self, spec, second: bool = False) -> tuple:
        """The (H, W, C) of an image input in the export's parity check: the shape the model reads
        it at (`image_input_shape`) and, with `second`, another where its sides may be any size:
        larger by 4 and 8 pixels (rounded up to `size_multiple`), so non-square, and the export
        is held equal to Keras at two sizes."""
        height, width, channels = self.image_input_shape(spec)
        if second:
            step = self.size_multiple * max(1, -(-4 // self.size_multiple))  # >= 4, a multiple
            height = height + step if spec.shape[0] is None else height
            width = width + 2 * step if spec.shape[1] is None else width
        return height, width, channels

    def parity_images(self, second_size: bool = False):
        """The image filler of the parity checks (keras_gen.core.inputs.resolve_inputs): seeded
        random images at `parity_image_shape`."""

        def images(spec, n, seed):
            return kinds.image_noise(dataclasses.replace(spec, shape=self.parity_image_shape(spec, second_size)), n, seed)

        return images

    def parity_inputs(self, n: int = 64, seed: int = 0, second_size: bool = False) -> dict[str, np.ndarray]:
        """Seeded inputs for the ONNX endpoint: random draws, every class in turn, defaults, and
        random images for image inputs (at `parity_image_shape`)."""
        onnx_specs = next(ep.inputs for ep in self.export_endpoints().values() if ep.onnx)
        return kinds.resolve_inputs(onnx_specs, n, seed, image_filler=self.parity_images(second_size))

    def export_metadata(self) -> dict:
        """Facts the manifest records and edge runtimes need."""
        sampler = self.sampler()
        labelled = any(s.kind == "label" for s in self.request_specs())
        size = self.image_size if isinstance(self.image_size, int) else list(self.image_size)
        return {"model": self.registered_name or type(self).__name__.lower(), "image_size": size,
                "channels": self.channels, "num_classes": self.num_classes if labelled else None,
                "image_shape": list(self.image_shape), "output_shape": list(self.output_shape),
                "data_shapes": [list(shape) for shape in self.data_shapes()],
                "data_kind": self.data_kind, "options": dataclasses.asdict(self.options),
                "sampler": {"name": DIRECT} if sampler is None
                else {"name": sampler.name, "config": sampler.get_config(), "network": "network"},
                "request_inputs": [s.to_json() for s in self.request_specs()],
                **({"latent_dim": self.options.latent_dim} if hasattr(self.options, "latent_dim") else {})}


def _nearest_resize(images: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """Float images (N, h, w, c) shown at (height, width, channels): nearest neighbour, gray
    repeated to RGB where the output is in colour. For previews only."""
    images = np.asarray(images, np.float32)
    rows = (np.arange(height) * images.shape[1] // height)
    cols = (np.arange(width) * images.shape[2] // width)
    images = images[:, rows][:, :, cols]
    return np.repeat(images, channels, axis=3) if images.shape[3] == 1 and channels != 1 else images


@dataclass
class Endpoint:
    """One named, deployable function with a fixed input signature.

    `fn` takes tensors in the order of `inputs` (keras_gen.inputs.InputSpec, each with its kind)
    and returns a dict of named outputs. The endpoint marked `onnx=True` is the plain network
    converted to `model.onnx`; its float outputs are compared for parity across runtimes.
    An extra endpoint marked `edge=True` (faceswap's `swap_a_to_b`) is converted too, to its own
    `NAME.onnx`, parity-checked like the network, and run on onnxruntime by
    `keras_gen.edge.EdgeModel.run_endpoint`; the others are SavedModel signatures only.
    """

    fn: Callable
    inputs: list  # list[keras_gen.inputs.InputSpec]
    description: str
    onnx: bool = False
    output_ranges: dict = field(default_factory=dict)  # output name -> [lo, hi]
    edge: bool = False  # also NAME.onnx, for EdgeModel.run_endpoint

    @property
    def input_signature(self) -> list:
        return [tensor_spec(spec) for spec in self.inputs]
