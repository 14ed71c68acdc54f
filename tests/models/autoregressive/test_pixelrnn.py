"""PixelRNN (keras_gen/models/autoregressive/pixelrnn.py) and its recurrent layers
(keras_gen/layers/pixel_rnn.py): causality of the Row LSTM and the Diagonal BiLSTM (no output
depends on a sub-pixel at or after its own in raster order; the BiLSTM sees every earlier
sub-pixel, the last pixel of each row included, and runs saved before its border column keep
their network), the skew, PixelCNN's sampler driven by it (numpy and TF loops equal), a loss
that falls with the reported bits/dim equal to `log_likelihood`, and clear errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen import inputs as kinds
from keras_gen import registry
from keras_gen.layers.pixel_rnn import skew, unskew
from keras_gen.models.autoregressive.pixelrnn import PixelRNN, build_pixelrnn


def test_skew_shifts_row_i_right_by_i_and_unskew_inverts_it():
    x = np.arange(2 * 3 * 4 * 1, dtype="float32").reshape(2, 3, 4, 1) + 1
    skewed = np.asarray(skew(tf.constant(x)))
    assert skewed.shape == (2, 3, 6, 1)
    for i in range(3):
        np.testing.assert_array_equal(skewed[:, i, i:i + 4], x[:, i])
        assert not skewed[:, i, :i].any() and not skewed[:, i, i + 4:].any()
    np.testing.assert_array_equal(np.asarray(unskew(tf.constant(skewed), 4)), x)


def _jacobian_structure(shape, lstm, draws=4, units=12):
    """|d logits(sub-pixel t) / d input(sub-pixel s)| summed over categories and random inputs, as
    (H W C, H W C) in raster order, through a randomly initialised two-layer network (12 units: a ReLU dead
    at every draw does not hide a connection). One backward
    pass: copy t of each input differentiates output t."""
    height, width, channels = shape
    network = build_pixelrnn(shape, 4, lstm, units=units, num_layers=2, kernel_size=3, first_kernel_size=3)
    for w in network.trainable_weights:  # zero-free weights: no connection hides behind a zero
        w.assign(np.asarray(w) + np.random.default_rng(len(w.path)).normal(0, 0.2, w.shape).astype("float32"))
    steps = height * width * channels
    rng = np.random.default_rng(0)
    x = tf.constant(np.repeat(rng.uniform(-1, 1, (draws, *shape)).astype("float32"), steps, axis=0))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = tf.reshape(network(x), (draws, steps, steps, 4))
        chosen = tf.one_hot(tf.range(steps), steps)[None, :, :, None] * (1.0 + tf.range(4.0))
        picked = tf.reduce_sum(logits * chosen)
    return np.abs(tape.gradient(picked, x).numpy().reshape(draws, steps, steps)).sum(0)


@pytest.mark.parametrize("lstm", ["row", "diagonal"])
def test_no_output_depends_on_its_own_or_later_sub_pixels(lstm):
    height, width, channels = 4, 4, 3
    grad = _jacobian_structure((height, width, channels), lstm)
    steps = height * width * channels
    out_t, in_s = np.meshgrid(np.arange(steps), np.arange(steps), indexing="ij")
    assert np.all(grad[in_s >= out_t] == 0.0)  # exactly zero: nothing at or after (i, c)
    per_pixel = grad.reshape(steps, height * width, channels).sum(-1)  # (output t, input pixel)
    for t in range(channels, steps):
        pixel, c = t // channels, t % channels
        i, j = divmod(pixel, width)
        assert np.all(grad[t, pixel * channels:pixel * channels + c] > 0)  # its pixel's earlier sub-pixels
        assert j == 0 or per_pixel[t, pixel - 1] > 0  # the pixel to its left
        if i > 0:
            assert per_pixel[t, pixel - width] > 0  # the pixel above
        if lstm == "diagonal":  # the whole causal context, sub-pixel by sub-pixel: (i - 1, 3)'s blue included
            assert np.all(grad[t, :t] > 0), (t, np.where(grad[t, :t] == 0))
    if lstm == "row":  # the Row LSTM's triangle (the paper's fig. 4): (3, 0) does not reach (1, 3)
        assert per_pixel[3 * width * channels, 1 * width + 3] == 0.0


def _seen_pixels(network, positions, side, draws=2):
    """(len(positions), side, side) bool: the input pixels whose change moves the logits at each
    (row, column) of `positions`, through `network` (one channel), over random inputs."""
    rng = np.random.default_rng(1)
    x = tf.constant(np.repeat(rng.uniform(-1, 1, (draws, side, side, 1)).astype("float32"), len(positions), axis=0))
    chosen = np.zeros((len(positions), side, side, 1, 1), "float32")
    for k, (row, column) in enumerate(positions):
        chosen[k, row, column] = 1.0
    with tf.GradientTape() as tape:
        tape.watch(x)
        picked = tf.reduce_sum(network(x) * np.tile(chosen, (draws, 1, 1, 1, 1)))
    return (np.abs(tape.gradient(picked, x).numpy()) > 0).reshape(draws, len(positions), side, side).any(0)


def test_diagonal_bilstm_sees_every_earlier_pixel_up_to_the_right_border():
    # The notebook's pixel (12, 8) of 16 px, its row's right border and the columns where the
    # 7 x 7 mask-A features stop reaching (11, 15), the first row and the last.
    side, positions = 16, [(12, 8), (12, 11), (12, 12), (12, 15), (1, 0), (1, 14), (15, 0), (15, 15)]
    earlier = [np.arange(side * side).reshape(side, side) < row * side + column for row, column in positions]
    keras.utils.set_random_seed(0)
    network = build_pixelrnn((side, side, 1), 4, "diagonal", units=4, num_layers=2, kernel_size=3, first_kernel_size=7)
    for (row, column), seen, before in zip(positions, _seen_pixels(network, positions, side), earlier):
        assert np.array_equal(seen, before), ((row, column), np.argwhere(seen != before).tolist())
    # Without the border column (runs saved before it), each pixel left of column 12 missed the
    # last pixel of the row above, and only that: what those runs keep computing.
    keras.utils.set_random_seed(0)
    old = build_pixelrnn((side, side, 1), 4, "diagonal", units=4, num_layers=2, kernel_size=3, first_kernel_size=7,
                         border_column=False)
    for (row, column), seen, before in zip(positions, _seen_pixels(old, positions, side), earlier):
        missed = {(row - 1, side - 1)} if row > 0 and column < side - 1 - 3 else set()
        assert not (seen & ~before).any()
        assert {tuple(p) for p in np.argwhere(before & ~seen)} == missed, (row, column)


def test_a_diagonal_run_saved_before_the_border_column_loads_as_it_was():
    model = _tiny(lstm="diagonal", image_size=5)
    config = model.get_config()
    assert config["border_column"] is True
    del config["border_column"]  # what a checkpoint written before the option holds
    old = PixelRNN.from_config(config)
    assert old.options.border_column is False
    assert [w.shape for w in old.weights] == [w.shape for w in model.weights]  # the same weights: they load
    old.set_weights(model.get_weights())
    x = tf.random.stateless_uniform((2, 5, 5, 1), (0, 2), -1.0, 1.0)
    old_logits, new_logits = np.asarray(old(x)), np.asarray(model(x))
    unmoved = (slice(None), 0)  # row 0 reads no row above: the border column changes nothing there
    np.testing.assert_allclose(old_logits[unmoved], new_logits[unmoved], atol=1e-5)
    assert np.abs(old_logits[:, 1:] - new_logits[:, 1:]).max() > 1e-4  # below it, a different function


def _tiny(**options):
    return registry.build("pixelrnn", **{"image_size": 6, "channels": 1, "units": 4, "layers": 1,
                                         "first_kernel_size": 3, **options})


def _numpy_network(model):
    return lambda feeds: {k: np.asarray(v) for k, v in
                          model.network(**{k: tf.constant(v) for k, v in feeds.items()}).items()}


@pytest.mark.parametrize("lstm,output", [("row", "softmax256"), ("diagonal", "binary")])
def test_numpy_and_tf_loops_draw_the_same_images(lstm, output):
    model = _tiny(lstm=lstm, output=output, image_size=4)
    values = kinds.resolve_inputs(model.request_specs(), 3, 7)
    edge = model.sampler().run_numpy(_numpy_network(model), values, 3, 7)
    keras_images = model.sample(3, seed=7)
    np.testing.assert_array_equal(edge, keras_images)
    levels = np.unique(np.round((keras_images + 1) * 127.5))
    assert set(levels) <= ({0.0, 255.0} if output == "binary" else set(np.arange(256.0)))


def test_loss_falls_and_log_likelihood_matches_the_training_metric():
    from keras_gen.data import load_arrays

    images, _, _ = load_arrays("digits", "train", image_size=6, channels=1, limit=64, seed=0)
    model = _tiny(learning_rate=1e-2, units=8)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices(images).batch(32)
    first = model.fit(data, epochs=1, verbose=0).history["bits_per_dim"][0]
    last = model.fit(data.repeat(10), epochs=1, verbose=0).history["bits_per_dim"][0]
    assert last < first - 0.5, (first, last)
    bpd = model.log_likelihood(images) / (36 * np.log(2.0))
    assert np.all(np.isfinite(bpd)) and 0 < bpd.mean() < 8.0
    model.optimizers["pixelrnn"].learning_rate.assign(0.0)  # learning-rate 0 steps: the metric of the whole set
    step_bpd = model.fit(data, epochs=1, verbose=0).history["bits_per_dim"][0]
    np.testing.assert_allclose(step_bpd, bpd.mean(), rtol=1e-4)
    assert model.likelihood_kind == "discrete"


def test_bad_options_are_clear_errors():
    with pytest.raises(KerasGenError, match="odd"):
        _tiny(kernel_size=4)
    with pytest.raises(KerasGenError, match="units"):
        _tiny(units=2, channels=3)
    with pytest.raises(KerasGenError, match="lstm"):
        _tiny(lstm="grid")
