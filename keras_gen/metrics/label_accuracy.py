"""Accuracy of class-conditional samples: does the sample drawn for class c look like a c?

A judge (the project's domain classifier, `keras_gen.features.classifier`) predicts a class
y_hat_i for each sample i drawn for the requested class y_i. Then

    accuracy   = (1 / N) sum_i [y_hat_i = y_i]
    accuracy_c = |{i : y_i = c and y_hat_i = c}| / |{i : y_i = c}|      for each class c

(the "classification accuracy of conditional samples" of Odena, Olah & Shlens 2017, AC-GAN,
section 4.1, with a classifier trained on the data set instead of Inception). The judge errs on
real images too, so the figure is read beside its accuracy on the real test split: a perfect
conditional model scores about that, not 1.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import check_int


def per_class_accuracy(predicted, requested, num_classes: int) -> dict:
    """{"accuracy": float, "per_class": (K,) float64 (NaN for a class never requested),
    "counts": (K,) int64 samples per class} from predicted and requested class ids (N,)."""
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    predicted, requested = np.asarray(predicted).reshape(-1), np.asarray(requested).reshape(-1)
    if len(predicted) != len(requested) or not len(requested):
        raise KerasGenError(f"got {len(predicted)} predictions for {len(requested)} requested labels; pass one each.")
    for name, ids in (("predicted", predicted), ("requested", requested)):
        if not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= num_classes:
            raise KerasGenError(f"{name} labels must be integers in [0, {num_classes}), got {ids.dtype} "
                                f"{ids.min()}..{ids.max()}.")
    correct = predicted == requested
    counts = np.bincount(requested, minlength=num_classes)
    hits = np.bincount(requested, weights=correct, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return {"accuracy": float(correct.mean()), "per_class": per_class, "counts": counts.astype(np.int64)}
