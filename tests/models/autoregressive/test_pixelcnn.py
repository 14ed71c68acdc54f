"""PixelCNN (keras_gen/models/autoregressive/pixelcnn.py), its masked layers
(keras_gen/layers/masked_conv.py) and its sampler (keras_gen/samplers/pixelcnn.py)."""

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
