"""Style tests run offline: no ImageNet file in the Keras cache and no network probe."""

import pytest

from keras_gen.features import _common, vgg_weights


@pytest.fixture(autouse=True)
def _offline_vgg(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "keras_model_dirs", lambda: [tmp_path / "keras_models"])
    monkeypatch.setattr(vgg_weights, "find_cached_weights", lambda fname: None)
    monkeypatch.setattr(_common, "host_reachable", lambda *a, **k: False)
