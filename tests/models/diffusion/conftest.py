"""One tiny cddpm for the package: every test samples it with n = 3 and the same kinds of
request values, so its sampling loop is traced once for all of them."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import registry


def tiny(name, **options):
    """`name` at 8 px with its harness options and random weights (an untrained U-Net's last
    layer starts at zero, which would hide every difference between samplers)."""
    spec = registry.get(name)
    # attention at both levels, as these tests were written for: the random network's float32
    # rounding, eager against the graph loop, stays within their 1e-5 over four steps
    options = {**spec.model_class.harness_options, "attention_resolution": 8, **options}
    model = registry.build(name, image_size=8, channels=1, num_classes=10 if spec.data_kind == "labelled" else None,
                           **options)
    rng = np.random.default_rng(0)
    for weight in model.denoiser.weights:
        weight.assign(rng.normal(0, 0.2, weight.shape).astype("float32"))
    return model


@pytest.fixture(scope="package")
def cddpm():
    return tiny("cddpm")
