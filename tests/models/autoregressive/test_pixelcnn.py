"""PixelCNN (keras_gen/models/autoregressive/pixelcnn.py), its masked layers
(keras_gen/layers/masked_conv.py) and its sampler (keras_gen/samplers/pixelcnn.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen import inputs as kinds
from keras_gen import registry
from keras_gen.layers.masked_conv import build_mask
from keras_gen.models.autoregressive.pixelcnn import build_pixelcnn


def test_masks_a_and_b_on_rgb_groups():
    a = build_mask((3, 3), 3, 3, "A", channel_groups=3)
    b = build_mask((3, 3), 3, 3, "B", channel_groups=3)
    # centre tap, [input, output]: R sees nothing / itself, G sees R (/ and G), B sees R, G (/ and B)
    np.testing.assert_array_equal(a[1, 1], [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(b[1, 1], [[1, 1, 1], [0, 1, 1], [0, 0, 1]])
    for mask in (a, b):
        assert mask[0].all() and mask[1, 0].all() and not mask[1, 2].any() and not mask[2].any()
    vertical = build_mask((3, 3), 2, 4, "vertical")
    assert vertical[:2].all() and not vertical[2].any()


def _jacobian_structure(shape, draws=3, **kwargs):
    """|d logits(pixel i, sub-pixel c) / d input(pixel j, sub-pixel d)| summed over categories and
    over `draws` random inputs (a ReLU dead at one input does not hide a connection), as
    (H W C, H W C) in raster order, through a randomly initialised network of several blocks.
    One backward pass: a batch of copies of each input, copy t differentiating output t (the
    network treats the samples of a batch independently)."""
    height, width, channels = shape
    network = build_pixelcnn(shape, 4, **kwargs)
    steps = height * width * channels
    rng = np.random.default_rng(0)
    x = tf.constant(np.repeat(rng.uniform(-1, 1, (draws, *shape)).astype("float32"), steps, axis=0))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = tf.reshape(network(x), (draws, steps, steps, 4))  # (draw, copy, output position, K)
        chosen = tf.one_hot(tf.range(steps), steps)[None, :, :, None] * (1.0 + tf.range(4.0))
        picked = tf.reduce_sum(logits * chosen)
    grad = np.abs(tape.gradient(picked, x).numpy().reshape(draws, steps, steps))
    return grad.sum(0)  # (output t, input s)


def test_gated_stack_has_no_leak_and_no_blind_spot():
    height, width, channels = 6, 6, 3
    grad = _jacobian_structure((height, width, channels), filters=24, num_layers=4, kernel_size=3,
                               first_kernel_size=5)
    steps = height * width * channels
    out_t, in_s = np.meshgrid(np.arange(steps), np.arange(steps), indexing="ij")
    assert np.all(grad[in_s >= out_t] == 0.0)  # exactly zero: nothing at or after (i, c) in raster order
    per_pixel = grad.reshape(steps, height * width, channels).sum(-1)  # (output t, input pixel)
    for t in range(steps):
        pixel = t // channels
        assert np.all(per_pixel[t, :pixel] > 0), f"blind spot for output {t}: {np.where(per_pixel[t, :pixel] == 0)}"
        c = t % channels
        assert np.all(grad[t, pixel * channels:pixel * channels + c] > 0)  # earlier sub-pixels of its own pixel


def _tiny(name="pixelcnn", **options):
    kwargs = dict(image_size=8, channels=1, filters=8, layers=2, kernel_size=3, first_kernel_size=3)
    if name == "cpixelcnn":
        kwargs["num_classes"] = 3
    return registry.build(name, **{**kwargs, **options})


def _numpy_network(model):
    return lambda feeds: {k: np.asarray(v) for k, v in
                          model.network(**{k: tf.constant(v) for k, v in feeds.items()}).items()}


@pytest.mark.parametrize("name,output", [("pixelcnn", "softmax256"), ("cpixelcnn", "binary")])
def test_numpy_and_tf_loops_draw_the_same_images(name, output):
    model = _tiny(name, output=output)
    values = kinds.resolve_inputs(model.request_specs(), 5, 7)
    edge = model.sampler().run_numpy(_numpy_network(model), values, 5, 7)
    keras_images = model.sample(5, seed=7)
    np.testing.assert_array_equal(edge, keras_images)
    assert not np.array_equal(keras_images, model.sample(5, seed=8))
    levels = np.unique(np.round((keras_images + 1) * 127.5))
    assert set(levels) <= ({0.0, 255.0} if output == "binary" else set(np.arange(256.0)))


def test_temperature_near_zero_is_the_argmax_and_its_range_is_checked():
    model = _tiny()
    head = model.pixelcnn.get_layer("head_logits")
    head.kernel.assign(head.kernel * 100.0)  # logit gaps of a trained model, not of an initialisation
    head.bias.assign(np.random.default_rng(0).normal(0, 1, head.bias.shape))  # the first pixel sees only biases
    cold = [model.sample(4, seed=s, temperature=1e-3) for s in (0, 1)]
    np.testing.assert_array_equal(cold[0], cold[1])  # the seed no longer matters
    assert np.all(cold[0] == cold[0][:1])
    for bad in (0.0, -1.0, 100.0):
        with pytest.raises(KerasGenError, match="temperature"):
            model.sample(2, temperature=bad)


def test_loss_falls_and_log_likelihood_matches_the_training_metric():
    from keras_gen.data import load_arrays

    images, _, _ = load_arrays("digits", "train", image_size=8, channels=1, limit=64, seed=0)
    model = _tiny(learning_rate=1e-2)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices(images).batch(32)
    first = model.fit(data, epochs=1, verbose=0).history["bits_per_dim"][0]
    last = model.fit(data.repeat(15), epochs=1, verbose=0).history["bits_per_dim"][0]
    assert last < first - 0.5, (first, last)
    bpd = model.log_likelihood(images) / (64 * np.log(2.0))
    assert np.all(np.isfinite(bpd)) and 0 < bpd.mean() < 8.0
    # the metric of one more (learning-rate 0) step on the whole set equals log_likelihood's bits/dim
    model.optimizers["pixelcnn"].learning_rate.assign(0.0)
    step_bpd = model.fit(tf.data.Dataset.from_tensors(images), epochs=1, verbose=0).history["bits_per_dim"][0]
    np.testing.assert_allclose(step_bpd, bpd.mean(), rtol=1e-4)
    assert model.likelihood_kind == "discrete" and _tiny(output="binary").likelihood_kind is None


def test_cpixelcnn_labels_are_checked():
    model = _tiny("cpixelcnn")
    for bad in (3, -1, [0, 5]):
        with pytest.raises(KerasGenError, match="label"):
            model.sample(2, label=bad)
    with pytest.raises(KerasGenError, match="label"):
        model.log_likelihood(np.zeros((2, 8, 8, 1), np.float32), labels=[0, 9])
    with pytest.raises(KerasGenError, match="class-conditional"):
        registry.build("cpixelcnn", image_size=8, channels=1)
    assert model.sample(2, label=2).shape == (2, 8, 8, 1)


def test_bad_options_are_clear_errors():
    with pytest.raises(KerasGenError, match="odd"):
        _tiny(kernel_size=4)
    with pytest.raises(KerasGenError, match="output"):
        _tiny(output="logistic")


# -- class conditioning (cpixelcnn) ---------------------------------------------------------------
def test_the_label_reaches_both_gates_of_both_stacks_in_every_block():
    """Every block has its own projection of the class map into the vertical and the horizontal
    gate pre-activations (both halves, tanh and sigmoid), and the loss trains all of them (the last
    block's vertical one through the horizontal stack it feeds)."""
    model = _tiny("cpixelcnn", layers=3)
    assert model.options.conditioning == "map"
    blocks = [layer for layer in model.pixelcnn.layers if layer.name.startswith("gated_")]
    assert len(blocks) == 3
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (6, 8, 8, 1)).astype("float32"))
    labels = tf.constant(np.arange(6) % 3, tf.int32)
    weights = [model.pixelcnn.get_layer("class_map").embeddings]
    for block in blocks:
        assert block.vertical_condition.kernel.shape[-1] == block.horizontal_condition.kernel.shape[-1] == (
            2 * block.filters)  # f and g halves
        weights += [block.vertical_condition.kernel, block.horizontal_condition.kernel]
    with tf.GradientTape() as tape:
        nll = tf.reduce_mean(model._nll_per_image(images, labels))
    for weight, grad in zip(weights, tape.gradient(nll, weights), strict=True):
        grad = tf.convert_to_tensor(grad)  # the embedding's gradient comes as IndexedSlices
        assert np.abs(np.asarray(grad)).max() > 0, weight.path
        # each of the 2F gate channels of each projection is reached by the loss
        if grad.ndim == 4:
            assert np.all(np.abs(np.asarray(grad)).sum(axis=(0, 1, 2)) > 0), weight.path


def test_the_class_says_where_not_only_how_much():
    """Location-dependent conditioning (eq. 5): on a blank image the first gate's output changes
    with the label differently at different positions. A per-class bias (eq. 4, the old network)
    gives one effect at every position away from the borders."""
    blank = tf.zeros((2, 8, 8, 1))
    labels = tf.constant([0, 1], tf.int32)
    effects = {}
    for conditioning in ("map", "bias"):
        model = _tiny("cpixelcnn", conditioning=conditioning)
        first = model.pixelcnn.get_layer("gated_0")
        probe = keras.Model(model.pixelcnn.inputs, first.output[0])
        out = np.asarray(probe([blank, labels]))
        effects[conditioning] = (out[0] - out[1])[2:-2, 2:-2]  # (4, 4, F), inside the borders
    spread = {k: np.abs(v - v[:1, :1]).max() for k, v in effects.items()}
    assert spread["map"] > 1e-3 and spread["bias"] < 1e-6, spread


def test_a_briefly_trained_cpixelcnn_uses_its_label():
    """After 3 epochs on 8 px digits, p(x | y) is highest at the true class for most held-out
    digits (classification by likelihood): the label carries what the image does. The per-class
    bias (the old network) names 0.2 of them at this point (chance: 0.1), the class map 0.88."""
    from keras_gen.data import load_arrays

    images, labels, _ = load_arrays("digits", "train", image_size=8, channels=1, seed=0)
    test, test_labels, _ = load_arrays("digits", "test", image_size=8, channels=1, limit=200, seed=0)
    model = registry.build("cpixelcnn", image_size=8, channels=1, num_classes=10, filters=16, layers=4,
                           kernel_size=3, first_kernel_size=5, learning_rate=3e-3)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(2000, seed=0).batch(64)
    model.fit(data, epochs=3, verbose=0)
    nll = np.stack([model.log_likelihood(test, labels=np.full(len(test), y)) for y in range(10)], axis=1)
    assert np.mean(nll.argmin(axis=1) == test_labels) >= 0.75


def test_guidance_mixes_the_label_and_the_null_class_logits():
    """network(images, label, w) = l(x | null) + w (l(x | y) - l(x | null)): w = 1 is p(x | y), w = 0
    the null class's p(x); label dropout trains the null class (index num_classes)."""
    model = _tiny("cpixelcnn", label_dropout=0.5)
    assert [s.name for s in model.request_specs()] == ["label", "guidance", "temperature"]
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (3, 8, 8, 1)).astype("float32"))
    labels = tf.constant([0, 2, 1], tf.int32)
    conditional = np.asarray(model.pixelcnn([images, labels]))
    null = np.asarray(model.pixelcnn([images, tf.fill((3,), 3)]))
    for w in (0.0, 1.0, 3.0):
        guided = np.asarray(model.network(images, labels, tf.constant(w))["logits"])
        np.testing.assert_allclose(guided, null + w * (conditional - null), atol=1e-4)
    dropped = np.asarray(model._drop_labels(tf.constant(np.arange(2000) % 3)))
    kept = dropped != 3
    assert 0.45 < 1 - kept.mean() < 0.55 and np.array_equal(dropped[kept], (np.arange(2000) % 3)[kept])
    with pytest.raises(KerasGenError, match="guidance"):
        model.sample(2, label=1, guidance=-1.0)


def test_the_conditional_network_has_no_leak():
    """The class map carries no pixel values: the conditional network is as causal as the plain one."""
    height, width, channels = 4, 4, 3
    network = build_pixelcnn((height, width, channels), 4, filters=12, num_layers=3, kernel_size=3,
                             first_kernel_size=3, num_classes=5, conditioning="map", class_map_channels=4)
    steps = height * width * channels
    x = tf.constant(np.repeat(np.random.default_rng(0).uniform(-1, 1, (1, height, width, channels)), steps, 0),
                    tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = tf.reshape(network([x, tf.fill((steps,), 2)]), (steps, steps, 4))
        picked = tf.reduce_sum(logits * tf.one_hot(tf.range(steps), steps)[:, :, None])
    grad = np.abs(tape.gradient(picked, x).numpy().reshape(steps, steps))  # (output t, input s)
    out_t, in_s = np.meshgrid(np.arange(steps), np.arange(steps), indexing="ij")
    assert np.all(grad[in_s >= out_t] == 0.0) and grad[in_s < out_t].min() >= 0 and grad[in_s < out_t].max() > 0


def test_a_cpixelcnn_checkpoint_from_before_the_class_map_loads_as_it_was(tmp_path):
    from tests.models.old_checkpoints import assert_loads_as_before, save_as_before

    old = {"conditioning": "bias", "label_dropout": 0.0}
    assert registry.get("cpixelcnn").model_class.options_added_later == old
    model = _tiny("cpixelcnn", **old)
    model.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices((images, np.arange(8) % 3)).batch(8), epochs=1, verbose=0)
    loaded = assert_loads_as_before(model, save_as_before(model, tmp_path / "old.keras", old),
                                    dict(n=2, seed=3, label=[2, 0]))
    names = {w.path.split("/")[-2] for w in loaded.pixelcnn.weights}
    assert "class_bias" in names and "vertical_condition" not in names
    assert [s.name for s in loaded.request_specs()] == ["label", "temperature"]  # no guidance without a null class
    today = type(model).from_config(_tiny("cpixelcnn").get_config())
    assert today.options.conditioning == "map" and today.options.label_dropout > 0
    assert today.pixelcnn.get_layer("class_map").input_dim == 4  # 3 classes and the null class
