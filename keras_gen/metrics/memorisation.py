"""Memorisation check: does the model copy its training images? A nearest-neighbour test.

For each generated sample g, find its nearest training sample in feature space,
d(g) = min_t ||phi(g) - phi(t)||. On its own that distance means nothing (it depends on the
feature scale and the data), so it is compared with a baseline from held-out data: the same
distance for each *test* sample, d(s) = min_t ||phi(s) - phi(t)||. Test images are fresh draws
from the data distribution that the model never saw, so d(s) is what "new but realistic"
looks like. This is the test-set baseline of the data-copying tests of Meehan, Chaudhuri &
Dasgupta 2020 ("A Non-Parametric Test to Detect Data-Copying in Generative Models"), reduced
to two numbers:

    ratio            = median_g d(g) / median_s d(s)
    flagged_fraction = fraction of g with d(g) < q-quantile of {d(s)}     (default q = 0.05)

Interpretation:
  * ratio ~ 1 and flagged_fraction ~ q: generated samples are as far from the training set as
    unseen real images are - no sign of copying.
  * ratio well below 1 (say < 0.5) and flagged_fraction >> q: generated samples sit much closer
    to training images than real unseen images do - the model reproduces (near-)copies of its
    training data. Inspect the flagged pairs (`nearest_train_index`) to confirm.
  * ratio well above 1: samples are far from all data, usually poor quality rather than
    novelty (see precision/recall).

The 5th percentile (not the 1st) is the default threshold because test sets are often only a
few hundred images, and a 1st percentile of 300 distances rests on 3 points. Features work
best (pixel L2 is dominated by brightness), but flattened pixels can be passed as well.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import as_features, check_same_dim
from keras_gen.metrics.distances import knn


def memorisation(generated, train, test, quantile: float = 0.05, batch_size: int | None = None) -> dict:
    """Nearest-training-neighbour memorisation check (see module docstring).

    Returns a dict. Scalars (JSON-ready floats/ints):
      ratio, median_generated_to_train, median_test_to_train, threshold (the `quantile` of
      test-to-train distances), quantile, flagged_fraction, num_flagged
    numpy arrays, one entry per generated sample (for showing generated/training pairs):
      nearest_train_index (int64), nearest_train_distance (float64), flagged (bool),
      most_suspicious (indices of generated samples, closest-to-training first)
    and test_to_train_distance (float64, one per test sample).
    """
    generated = as_features(generated, "generated features", 1, "The memorisation check")
    train = as_features(train, "training features", 1, "The memorisation check")
    test = as_features(test, "test features", 2, "The memorisation check (test-set baseline)")
    check_same_dim(generated, train, "generated features", "training features")
    check_same_dim(test, train, "test features", "training features")
    if not 0.0 < quantile < 1.0:
        raise KerasGenError(f"quantile must be between 0 and 1 (e.g. 0.05), got {quantile}.")

    d_gen, idx_gen = knn(generated, train, k=1, batch_size=batch_size)
    d_test, _ = knn(test, train, k=1, batch_size=batch_size)
    d_gen, idx_gen, d_test = d_gen[:, 0], idx_gen[:, 0], d_test[:, 0]

    median_gen, median_test = float(np.median(d_gen)), float(np.median(d_test))
    if median_test == 0.0:
        raise KerasGenError(
            "At least half of the test samples are exact copies of training samples, so the "
            "test set cannot serve as a baseline. Use a test split disjoint from the training data."
        )
    threshold = float(np.quantile(d_test, quantile))
    flagged = d_gen < threshold
    if threshold == 0.0:  # exact duplicates between test and train: still flag exact copies
        flagged = d_gen <= 0.0
    return {
        "ratio": median_gen / median_test,
        "median_generated_to_train": median_gen,
        "median_test_to_train": median_test,
        "threshold": threshold,
        "quantile": float(quantile),
        "flagged_fraction": float(flagged.mean()),
        "num_flagged": int(flagged.sum()),
        "nearest_train_index": idx_gen,
        "nearest_train_distance": d_gen,
        "flagged": flagged,
        "most_suspicious": np.argsort(d_gen, kind="stable"),
        "test_to_train_distance": d_test,
    }
