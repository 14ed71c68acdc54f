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
