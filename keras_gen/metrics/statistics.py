"""Streaming mean and covariance of feature vectors, so FID never holds all features at once.

`FeatureStatistics` keeps three things in float64: the count n, the mean, and
M2 = sum_i (x_i - mean)(x_i - mean)^T. A batch is folded in with the pairwise update of
Chan, Golub & LeVeque (1979, "Updating formulae and a pairwise algorithm for computing sample
variances"); for sets A and B with delta = mean_B - mean_A:

    n    = n_A + n_B
    mean = mean_A + delta * n_B / n
    M2   = M2_A + M2_B + delta delta^T * n_A n_B / n

Each batch's own M2 is computed about the batch mean, so nothing is ever summed about the
origin (the naive sum-of-outer-products formula loses all precision when the mean is large
compared with the spread). The same formula merges two accumulators, e.g. from data shards.
The unbiased covariance is M2 / (n - 1).

Real-data statistics are expensive (tens of thousands of images through Inception) and never
change, so they are cached with `save`/`load` (.npz, no pickle) with a free-form `meta` dict
(extractor name, data set, image size) the caller can check before reusing a cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.core.fileio import atomic_path
from keras_gen.metrics.checks import as_features

_FORMAT = "keras_gen.FeatureStatistics/1"


class FeatureStatistics:
    """Streaming mean / unbiased covariance accumulator over (batch, dim) feature arrays.

    >>> stats = FeatureStatistics()
    >>> for batch in batches: stats.update(extractor(batch))    # doctest: +SKIP
    >>> stats.mean, stats.covariance, stats.count               # doctest: +SKIP
    """

    def __init__(self, dim: int | None = None, meta: dict | None = None):
        self._dim = dim
        self._n = 0
        self._mean = None if dim is None else np.zeros(dim, np.float64)
        self._m2 = None if dim is None else np.zeros((dim, dim), np.float64)
        self.meta = dict(meta or {})

    # ------------------------------------------------------------------ accumulation
    @classmethod
    def from_features(cls, features, batch_size: int = 4096, meta: dict | None = None) -> FeatureStatistics:
        """Statistics of a whole feature matrix (folded in `batch_size` rows at a time)."""
        features = as_features(features, "features")
        stats = cls(features.shape[1], meta=meta)
        for start in range(0, len(features), batch_size):
            stats.update(features[start : start + batch_size])
        return stats

    def update(self, features) -> FeatureStatistics:
        """Fold in one batch of features, shape (batch, dim). Returns self."""
        x = as_features(features, "features", min_count=0)
        if len(x) == 0:
            return self
        x = x.astype(np.float64, copy=False)
        self._check_dim(x.shape[1], "this batch")
        batch_mean = x.mean(axis=0)
        centred = x - batch_mean
        self._combine(len(x), batch_mean, centred.T @ centred)
        return self

    def merge(self, other: FeatureStatistics) -> FeatureStatistics:
        """Fold another accumulator (e.g. from another shard) into this one. Returns self."""
        if not isinstance(other, FeatureStatistics):
            raise KerasGenError(f"Can only merge FeatureStatistics, got {type(other).__name__}.")
        if other._n == 0:
            return self
        self._check_dim(other._dim, "the statistics being merged")
        self._combine(other._n, other._mean, other._m2)
        return self

    def _check_dim(self, dim: int, what: str) -> None:
        if self._dim is None:
            self._dim = dim
            self._mean = np.zeros(dim, np.float64)
            self._m2 = np.zeros((dim, dim), np.float64)
        elif dim != self._dim:
            raise KerasGenError(
                f"Feature dimension mismatch: these statistics hold {self._dim}-dim features but "
                f"{what} has {dim}. Use the same feature extractor (and layer) for every batch."
            )

    def _combine(self, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        n_a = self._n
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + np.outer(delta, delta) * (n_a * n_b / n)
        self._n = n

    # ------------------------------------------------------------------ results
    @property
    def count(self) -> int:
        return self._n

    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def mean(self) -> np.ndarray:
        if self._n == 0:
            raise KerasGenError("No features have been added yet: call update(features) first.")
        return self._mean.copy()

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased sample covariance M2 / (n - 1), exactly symmetric."""
        if self._n < 2:
            raise KerasGenError(
                f"A covariance needs at least 2 samples, but these statistics hold {self._n}. "
                "Add more features (FID is normally computed from 10,000-50,000 images)."
            )
        cov = self._m2 / (self._n - 1)
        return (cov + cov.T) / 2.0

    def __repr__(self) -> str:
        return f"FeatureStatistics(count={self._n}, dim={self._dim}, meta={self.meta})"

    # ------------------------------------------------------------------ caching
    def save(self, path) -> Path:
        """Write to `path` (.npz, exactly that file name). Returns the path."""
        if self._n == 0:
            raise KerasGenError("Refusing to save empty statistics: add features first.")
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: numpy adds no ".npz"
            np.savez(
                f,
                format=np.array(_FORMAT),
                count=np.array(self._n, np.int64),
                mean=self._mean,
                m2=self._m2,
                meta=np.array(json.dumps(self.meta, sort_keys=True)),
            )
        return path

    @classmethod
    def load(cls, path) -> FeatureStatistics:
        """Read statistics written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise KerasGenError(
                f"No feature statistics file at {path}. Compute them with "
                "FeatureStatistics.from_features(...) (or `keras-gen evaluate`) and save()."
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != _FORMAT:
                    raise ValueError(f"format {str(data['format'])!r}, expected {_FORMAT!r}")
                n = int(data["count"])
                mean = np.array(data["mean"], np.float64)
                m2 = np.array(data["m2"], np.float64)
                meta = json.loads(str(data["meta"]))
        except Exception as exc:
            raise KerasGenError(
                f"{path} is not a readable feature statistics file ({exc}). Delete it and let "
                "the statistics be recomputed."
            ) from exc
        if mean.ndim != 1 or m2.shape != (mean.size, mean.size) or n < 1:
            raise KerasGenError(f"{path} holds inconsistent statistics; delete it to recompute.")
        stats = cls(mean.size, meta=meta)
        stats._n, stats._mean, stats._m2 = n, mean, m2
        return stats
