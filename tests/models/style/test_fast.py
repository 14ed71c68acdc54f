"""fast_style (keras_gen/models/style/fast.py): one transformation network, several styles by
conditional instance norm; interpolation, bad input, a checkpoint that needs no style file, and
ONNX parity at two more image sizes. The shared harness trains, resumes and exports it."""

import keras
import numpy as np
import pytest

from keras_gen import registry
from keras_gen.errors import KerasGenError
from keras_gen.images import save_image, to_uint8
from keras_gen.layers.normalization import ConditionalInstanceNormalization
from keras_gen.models.style.style_images import style_weights
from tests.models.style.onnx_parity import onnx_generate

TINY = {"style_size": 16, "filters": 2, "residual_blocks": 1, "vgg_weights": "hed", "style_depth": 2}


def _distinct_styles(model, seed=0):
    """Random per-style (gamma, beta), so the styles differ as after training."""
    rng = np.random.default_rng(seed)
    for layer in model.transformer.layers:
        if isinstance(layer, ConditionalInstanceNormalization):
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.5, layer.beta.shape).astype("float32"))


def _images(n, h, w, channels, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, h, w, channels)).astype("float32")


@pytest.fixture(scope="module")
def model():
    m = registry.build("fast_style", image_size=16, channels=3, styles="brick,gravel,coffee", **TINY)
    _distinct_styles(m)
    return m


def test_interpolation_weights_select_and_mix_styles(model):
    x = _images(2, 12, 20, 3)
    ones = [model.stylize(x, np.eye(3)[s]) for s in range(3)]
    for s in range(3):  # (1, 0, 0) is style 0's own network: CIN with one style's parameters
        np.testing.assert_allclose(model.stylize(x, s), ones[s], atol=1e-6)
        np.testing.assert_allclose(np.asarray(model.generate(x, np.tile(np.eye(3)[s] * 2.5, (2, 1)))), ones[s],
                                   atol=1e-6)  # weights are normalised
    assert min(np.abs(ones[a] - ones[b]).max() for a, b in ((0, 1), (0, 2), (1, 2))) > 1e-2
    mix = model.stylize(x, "0.3,0.7,0")
    assert mix.shape == (2, 12, 20, 3) and np.abs(mix).max() <= 1.0
    assert min(np.abs(mix - ones[s]).max() for s in range(3)) > 1e-3  # a style of its own, between two
    # a request gives per-image weights: image 0 in style 0, image 1 in style 2
    both = np.asarray(model.sample(2, 0, image=x, style=[[1, 0, 0], [0, 0, 1]]))
    np.testing.assert_allclose(both[0], ones[0][0], atol=1e-6)
    np.testing.assert_allclose(both[1], ones[2][1], atol=1e-6)


def test_bad_style_weights_and_tiny_images_are_clear_errors(model):
    x = _images(1, 16, 16, 3)
    with pytest.raises(KerasGenError, match="needs 3 weight"):
        model.stylize(x, "0.5,0.5")
    with pytest.raises(KerasGenError, match="non-negative"):
        style_weights("1,-1,0", 3)
    with pytest.raises(KerasGenError, match="out of range"):
        model.stylize(x, 3)
    with pytest.raises(KerasGenError, match=r"shape \(N, 3\)"):
        model.sample(1, 0, image=x, style=[[1.0, 0.0]])
    with pytest.raises(KerasGenError, match="too small"):
        model.stylize(_images(1, 4, 9, 3), 0)
    with pytest.raises(KerasGenError, match="neither an image file nor a bundled picture"):
        registry.build("fast_style", image_size=16, channels=3, styles="brick,no_such_style.png",
                       **TINY).ensure_style_grams()


def test_a_training_size_below_what_the_network_and_its_loss_take_is_one_line(tmp_path, capsys):
    """--image-size 4 once failed inside MirrorPad; the minimum depends on how deep the loss's VGG goes."""
    from keras_gen.cli import main

    for image_size, depth, minimum in ((4, 2, 5), (7, 4, 8)):
        with pytest.raises(KerasGenError, match=f"fast_style trains on images of at least {minimum} px"):
            registry.build("fast_style", image_size=image_size, channels=3, **{**TINY, "style_depth": depth})
    for image_size, depth in ((5, 2), (5, 3), (8, 4)):
        registry.build("fast_style", image_size=image_size, channels=3, **{**TINY, "style_depth": depth})
    assert main(["train", "fast_style", "--data", "photos", "--out", str(tmp_path / "run"), "--image-size", "4",
                 "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2", "--set", "vgg_weights=hed"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-gen: error: fast_style trains on images of at least 8 px") and "Pass --image-size 8" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_the_checkpoint_carries_the_style_grams(tmp_path):
    """Grams come from the style files once; a reloaded model needs neither the files nor VGG."""
    from keras_gen.data import load_arrays

    style_file = save_image(to_uint8(_images(1, 24, 24, 1, seed=5)[0]), tmp_path / "mine.png")
    m = registry.build("fast_style", image_size=16, channels=1, styles=f"brick,{style_file}", **TINY)
    content, _, _ = load_arrays("digits", "train", image_size=16, channels=1, limit=4)
    m.ensure_style_grams()  # what fit() does first
    grams = [np.asarray(g) for g in m.style_grams]
    assert all(np.abs(g[i]).sum() > 0 for g in grams for i in range(2)) and float(m.grams_ready) == 1.0
    assert not np.allclose(grams[0][0], grams[0][1])  # two different styles
    m.save(tmp_path / "m.keras")
    style_file.unlink()
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    for a, b in zip(grams, loaded.style_grams):
        np.testing.assert_array_equal(a, np.asarray(b))
    np.testing.assert_allclose(loaded.stylize(content, "0.5,0.5"), m.stylize(content, "0.5,0.5"), atol=1e-6)


def test_onnx_matches_keras_at_two_more_sizes(model, tmp_path):
    feeds = [{"image": _images(2, 12, 20, 3, seed=1), "style": np.array([[1, 0, 0], [0.2, 0.3, 0.5]], "float32")},
             {"image": _images(1, 33, 27, 3, seed=2), "style": np.array([[0, 1, 0]], "float32")}]
    for feed, got in zip(feeds, onnx_generate(model, tmp_path, feeds)):
        want = np.asarray(model.generate(**feed))
        assert got.shape == want.shape == feed["image"].shape
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_training_steps_lower_the_style_loss_by_a_real_factor():
    """A few Adam steps on one 16 px content image (seeded): the relative Gram loss falls at least
    tenfold while the content error falls too (the input skip keeps the content)."""
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    m = registry.build("fast_style", image_size=16, channels=3, styles="brick", learning_rate=0.01, **TINY)
    m.ensure_style_grams()
    m.compile()
    x = tf.constant(_images(2, 16, 16, 3, seed=3) * 0.5)
    index = tf.zeros([2], tf.int32)

    def terms():
        return {k: float(v) for k, v in m.perceptual_terms(x, m.transformer([x, tf.one_hot(index, 1)]), index).items()}

    before = terms()
    for _ in range(8):
        m.train_step(x)
    after = terms()
    assert after["style"] < before["style"] / 10, (before, after)
    assert after["content"] < before["content"], (before, after)
