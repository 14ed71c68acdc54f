"""Shared test set-up: TensorFlow backend, quiet logs, seeded randomness, small thread pools."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU-only and deterministic

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_everything():
    import keras

    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session")
def digits_classifier_cache(tmp_path_factory):
    """A cache folder holding the digits domain classifier, trained once per test session."""
    from keras_gen.features.classifier import load_domain_classifier

    cache = tmp_path_factory.mktemp("classifier-cache")
    load_domain_classifier("digits", cache_dir=str(cache))
    return cache
