"""Per-class accuracy of conditional samples and the per-pixel histogram baseline for bits/dim."""

import math

import numpy as np
import pytest

from keras_gen.errors import KerasGenError
from keras_gen.metrics import bits_per_dim, independent_pixel_nll, per_class_accuracy


def test_per_class_accuracy_counts_each_requested_class():
    requested = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2, 2, 2, 2])
    out = per_class_accuracy(predicted, requested, num_classes=4)
    assert out["accuracy"] == pytest.approx(7 / 9)
    np.testing.assert_allclose(out["per_class"][:3], [0.5, 2 / 3, 1.0])
    assert math.isnan(out["per_class"][3])  # class 3 never requested: no figure, not 0
    assert out["counts"].tolist() == [2, 3, 4, 0]


def test_per_class_accuracy_refuses_bad_labels():
    with pytest.raises(KerasGenError, match=r"in \[0, 3\)"):
        per_class_accuracy([0, 1], [0, 3], num_classes=3)
    with pytest.raises(KerasGenError, match="one each"):
        per_class_accuracy([0, 1, 2], [0, 1], num_classes=3)


def test_pixel_histogram_nll_matches_its_formula():
    train = np.full((9, 2, 2, 1), 7, np.uint8)  # every training value is 7
    test = np.array([np.full((2, 2, 1), 7), np.full((2, 2, 1), 8)], np.uint8)
    nll = independent_pixel_nll(train, test)
    # p(7) = (9 + 1) / (9 + 256); p(8) = 1 / (9 + 256); four independent positions
    np.testing.assert_allclose(nll, [-4 * math.log(10 / 265), -4 * math.log(1 / 265)])


def test_pixel_histogram_on_uniform_noise_is_about_8_bits():
    rng = np.random.default_rng(0)
    train, test = (rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8) for n in (20000, 50))
    bpd = bits_per_dim(independent_pixel_nll(train, test), (4, 4, 3)).mean()
    assert 8.0 < bpd < 8.05  # a histogram cannot beat uniform on uniform data; smoothing costs a little


def test_pixel_histogram_refuses_float_images():
    with pytest.raises(KerasGenError, match="uint8"):
        independent_pixel_nll(np.zeros((2, 2, 2, 1)), np.zeros((2, 2, 2, 1), np.uint8))
