"""get_feature_extractor: one interface over the three kinds."""

import numpy as np
import pytest

from keras_gen.errors import KerasGenError
from keras_gen.features import KINDS, get_feature_extractor


def test_domain_kind_uses_the_cached_classifier(digits_classifier):
    cache_dir, _, metadata, _ = digits_classifier
    extract = get_feature_extractor("domain", source="digits", cache_dir=cache_dir, train_if_missing=False)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 1)).astype(np.float32)
    out = extract(x)
    assert out["features"].shape == (3, 128) and out["probs"].shape == (3, 10)
    assert extract.test_accuracy == metadata["test_accuracy"]


def test_vgg_kind_gives_features(monkeypatch):
    from keras_gen.features import _common

    monkeypatch.setattr(_common, "host_reachable", lambda *a, **k: False)
    extract = get_feature_extractor("vgg", layer="block2_conv2", weights="hed")
    out = extract(np.zeros((2, 32, 32, 3), np.float32))
    assert out["features"].shape == (2, 128)


def test_unknown_kind_and_bad_options():
    assert set(KINDS) == {"inception", "domain", "vgg"}
    with pytest.raises(KerasGenError, match="inception, domain, vgg"):
        get_feature_extractor("clip")
    with pytest.raises(KerasGenError, match="source"):
        get_feature_extractor("domain")  # missing data source
    with pytest.raises(KerasGenError, match="bad options"):
        get_feature_extractor("vgg", colour="red")
