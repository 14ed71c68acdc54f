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
def digits_classifier(tmp_path_factory):
    """(cache_dir, DomainFeatures, metadata, seconds) for a digits classifier trained once per session."""
    import time

    from keras_gen.features.classifier import load_domain_classifier, train_domain_classifier

    cache_dir = tmp_path_factory.mktemp("kg_cache")
    start = time.time()
    _, metadata = train_domain_classifier("digits", cache_dir=cache_dir, seed=0, verbose=0)
    seconds = time.time() - start
    features = load_domain_classifier("digits", cache_dir=cache_dir, train_if_missing=False)
    print(f"\ndigits classifier: test accuracy {metadata['test_accuracy']:.4f}, trained in {seconds:.1f} s")
    return cache_dir, features, metadata, seconds


@pytest.fixture(scope="session")
def digits_classifier_cache(digits_classifier):
    """A cache folder holding the digits domain classifier (shared with tests/features)."""
    return digits_classifier[0]
