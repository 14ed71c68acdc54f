"""AC-GAN's class head and InfoGAN's codes: their losses, heads, requests and pictures."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen import inputs as kinds
from keras_gen.images import to_uint8
from keras_gen.pictures import code_traversal
from keras_gen.registry import build

TINY = {"latent_dim": 8, "base_filters": 4}


def _acgan(**options):
    return build("acgan", image_size=16, channels=1, num_classes=10, embed_dim=4, **TINY, **options)


def _infogan(**options):
    return build("infogan", image_size=16, channels=1, **{"categories": 3, "continuous_codes": 2, "q_units": 8,
                                                          **TINY, **options})


def _softmax_ce(logits, labels):
    logits = np.asarray(logits, np.float64)
    log_p = logits - logits.max(-1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def test_acgan_discriminator_classifies_without_seeing_the_label():
    model = _acgan()
    assert len(model.discriminator.inputs) == 1  # D sees x alone: the class is its output
    logits, class_logits = model.discriminator(np.zeros((3, 16, 16, 1), np.float32))
    assert logits.shape == (3, 1) and class_logits.shape == (3, 10)
    assert [s.kind for s in model.request_specs()] == ["latent", "label", "option"]  # the option: truncation


def test_acgan_class_loss_is_both_cross_entropies():
    model = _acgan(class_weight=0.5)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(4, 10)).astype("float32"), rng.normal(size=(4, 10)).astype("float32")
    labels, classes = np.array([0, 3, 9, 3], np.int32), np.array([1, 1, 2, 8], np.int32)
    assert float(model.class_loss(tf.constant(real), tf.constant(labels))) == pytest.approx(
        _softmax_ce(real, labels), rel=1e-5)
    assert float(model.class_loss(tf.constant(fake), tf.constant(classes))) == pytest.approx(
        _softmax_ce(fake, classes), rel=1e-5)
    assert model.options.class_weight == 0.5  # w of L_D = game + w (CE_real + CE_fake) and L_G = game + w CE_fake


def test_acgan_needs_labels_and_checks_its_label_requests():
    with pytest.raises(KerasGenError, match="labelled data"):
        build("acgan", image_size=16, channels=1, **TINY)
    model = _acgan()
    with pytest.raises(KerasGenError, match="from 0 to 9"):
        model.sample(2, seed=0, label=10)
    with pytest.raises(KerasGenError, match=r"z takes arrays of shape \(N, 8\)"):
        model.sample(2, seed=0, z=np.zeros((2, 5), np.float32))
    with pytest.raises(KerasGenError, match="class_weight must be >= 0"):
        _acgan(class_weight=-1.0)


def test_infogan_information_loss_is_cross_entropy_plus_gaussian():
    model = _infogan(continuous_weight=0.3)
    rng = np.random.default_rng(1)
    category_logits = rng.normal(size=(5, 3)).astype("float32")
    mean = rng.normal(size=(5, 2)).astype("float32")
    category = np.array([0, 2, 1, 1, 0], np.int32)
    continuous = rng.uniform(-1, 1, (5, 2)).astype("float32")
    got = float(model.information_loss((tf.constant(category_logits), tf.constant(mean)),
                                       (tf.constant(category), tf.constant(continuous))))
    gaussian = (0.5 * ((continuous - mean) ** 2).sum(-1)).mean()
    assert got == pytest.approx(_softmax_ce(category_logits, category) + 0.3 * gaussian, rel=1e-5)


def test_infogan_codes_are_seeded_inputs_that_change_the_images():
    model = _infogan()
    assert [(s.name, s.kind, s.distribution) for s in model.request_specs()] == [
        ("z", "latent", "gaussian"), ("category", "code", "categorical"), ("continuous", "code", "uniform"),
        ("truncation", "option", None)]
    np.testing.assert_array_equal(model.sample(4, seed=2), model.sample(4, seed=2))
    a = model.sample(3, seed=2, category=0)
    b = model.sample(3, seed=2, category=2)
    assert not np.allclose(a, b)  # same z and continuous codes, another category
    with pytest.raises(KerasGenError, match="from 0 to 2"):
        model.sample(2, seed=0, category=3)
    with pytest.raises(KerasGenError, match="continuous takes arrays of shape"):
        model.sample(2, seed=0, continuous=np.zeros((2, 3), np.float32))
    with pytest.raises(KerasGenError, match="categories must be >= 2"):
        _infogan(categories=1)


def test_code_traversal_holds_z_and_the_category_along_each_row():
    model = _infogan()
    picture = code_traversal(model, steps=5, span=2.0, seed=1)
    assert (picture.rows, picture.cols) == (3 * 2, 5) and picture.images.shape == (30, 16, 16, 1)
    np.testing.assert_allclose(picture.values, np.linspace(-2, 2, 5))
    # row r of block d varies continuous[d] only; the other dimension stays 0
    np.testing.assert_allclose(picture.latents[:5, 0], picture.values)
    assert not picture.latents[:15, 1].any() and not picture.latents[15:, 0].any()
    category = 1  # the middle column of each row is the code (0, 0): rows differ only by category
    centre = picture.images[category * 5 + 2]
    z = model.request_specs()[0]
    drawn = kinds.resolve_inputs(model.request_specs(), 1, 1)[z.name]
    expected = to_uint8(np.asarray(model.generate(drawn, np.array([category], np.int32),
                                                  np.zeros((1, 2), np.float32))))[0]
    assert np.abs(centre.astype(int) - expected.astype(int)).max() <= 1
    with pytest.raises(KerasGenError, match="categorical code and continuous codes"):
        code_traversal(build("dcgan", image_size=16, channels=1, **TINY))
