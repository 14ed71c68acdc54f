"""Diversity: mean pairwise distance between generated samples' features.

    D = 2 / (N (N - 1)) sum_{i < j} dist(phi_i, phi_j)

A mode-collapsed generator (every sample alike) gives D ~ 0. This is the "average pairwise
distance" used to measure sample diversity, e.g. with LPIPS features in BicycleGAN (Zhu et al.
2017, section 4.1) and MUNIT (Huang et al. 2018); here it runs on whatever features are passed.
It is a relative number: compare models with the same extractor, and against the same
statistic on real images, which is the diversity to aim for.

Distance: Euclidean (L2, the default, matching FID and the k-NN metrics, so it is in the same
units as `memorisation`'s distances) or cosine distance 1 - cos(phi_i, phi_j) (scale-free, in
[0, 2]). Cosine is always exact, in O(n d): for unit vectors u_i,
sum_{i<j} u_i . u_j = (||sum_i u_i||^2 - n) / 2. For L2 with at most `max_pairs` pairs all of
them are used (exact, blocked); beyond that `max_pairs` random pairs i != j are drawn (seeded),
an unbiased estimate of the same mean.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import as_features, check_int
from keras_gen.metrics.distances import pair_distances, sum_pairwise_distances

_METRICS = ("l2", "cosine")


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise KerasGenError(
            f"{int((norms == 0).sum())} feature vectors are all zeros, for which cosine distance is "
            "undefined. Use metric='l2'."
        )
    return x / norms


def mean_pairwise_distance(features, metric: str = "l2", max_pairs: int = 200_000, seed: int = 0) -> float:
    """Mean distance over pairs of distinct samples of `features` (n, dim); see module docstring."""
    if metric not in _METRICS:
        raise KerasGenError(f"Unknown diversity metric {metric!r}; choose one of {', '.join(_METRICS)}.")
    x = as_features(features, "features", min_count=2, purpose="Pairwise diversity")
    max_pairs = check_int(max_pairs, "max_pairs")
    n = len(x)
    if metric == "cosine":
        # Exact in O(n d) for any n: with unit rows u_i, sum_{i<j} u_i.u_j = (||sum_i u_i||^2 - n) / 2.
        u = _normalise_rows(x)
        total = u.sum(axis=0)
        return float(max(1.0 - (total @ total - n) / (n * (n - 1)), 0.0))
    num_pairs = n * (n - 1) // 2
    if num_pairs <= max_pairs:
        return sum_pairwise_distances(x) / num_pairs
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, max_pairs)
    j = rng.integers(0, n - 1, max_pairs)
    j += j >= i  # uniform over j != i
    return float(pair_distances(x, i, j).mean())


def mean_pairwise_distance_per_class(
    features, labels, metric: str = "l2", max_pairs: int = 200_000, seed: int = 0
) -> dict:
    """Diversity within each class (conditional generators: collapse inside a class).

    Returns {"per_class": {label: mean pairwise distance} for classes with >= 2 samples,
    "mean": the unweighted mean over those classes}.
    """
    x = as_features(features, "features", min_count=2, purpose="Per-class diversity")
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise KerasGenError(f"labels must have shape ({len(x)},) to match the features, got {labels.shape}.")
    per_class = {}
    for label in np.unique(labels):
        members = x[labels == label]
        if len(members) >= 2:
            key = label.item() if hasattr(label, "item") else label
            per_class[key] = mean_pairwise_distance(members, metric, max_pairs, seed)
    if not per_class:
        raise KerasGenError("No class has at least 2 samples; per-class diversity needs 2 per class.")
    return {"per_class": per_class, "mean": float(np.mean(list(per_class.values())))}
