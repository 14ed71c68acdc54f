"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update
Rule Converge to a Local Nash Equilibrium", eq. 6).

FID is the Fréchet (2-Wasserstein) distance between two Gaussians fitted to feature vectors
(Dowson & Landau 1982):

    FID = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})

The only delicate part is Tr((S_1 S_2)^{1/2}). S_1 S_2 is not symmetric, and with fewer
samples than feature dimensions it is singular, where a general `scipy.linalg.sqrtm` returns
complex or non-finite values (the reference implementation retries with eps*I added); it is
also slow (a minute for 2048x2048 here). We avoid forming the square root at all. For any
factor F with S_1 = F F^T, the products F (F^T S_2) and (F^T S_2) F have the same eigenvalues
(XY and YX always do), and F^T S_2 F is symmetric positive semi-definite, so

    Tr((S_1 S_2)^{1/2}) = sum_i sqrt(lambda_i(F^T S_2 F)),

with real eigenvalues from a symmetric solver; the tiny negative ones that rounding produces
are clipped to 0. F is the Cholesky factor of S_1 when S_1 is positive definite (the usual
case, more samples than dimensions: one Cholesky, two products, one eigenvalue-only `eigh`,
about 2 s for 2048 dimensions) and F = V diag(sqrt(w)) from S_1's eigendecomposition when it is
singular, which is exact for rank-deficient covariances and needs no eps offset.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import as_features, check_finite, check_same_dim
from keras_gen.metrics.statistics import FeatureStatistics

_PSD_RTOL = 1e-6  # eigenvalues below -_PSD_RTOL * largest are not rounding: not a covariance


def _as_gaussian(mu, sigma, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.asarray(mu, np.float64)
    sigma = np.asarray(sigma, np.float64)
    if mu.ndim != 1:
        raise KerasGenError(f"mu{name} must be a 1-D mean vector, got shape {mu.shape}.")
    if sigma.shape != (mu.size, mu.size):
        raise KerasGenError(
            f"sigma{name} must be a ({mu.size}, {mu.size}) covariance matching mu{name}, "
            f"got shape {sigma.shape}."
        )
    check_finite(mu, f"mu{name} values")
    check_finite(sigma, f"sigma{name} values")
    scale = max(np.abs(sigma).max(), np.finfo(np.float64).tiny)
    if np.abs(sigma - sigma.T).max() > 1e-6 * scale:
        raise KerasGenError(f"sigma{name} is not symmetric, so it is not a covariance matrix.")
    return mu, (sigma + sigma.T) / 2.0


def _psd_factor(sigma: np.ndarray, name: str) -> np.ndarray:
    """F with F F^T = sigma: Cholesky if positive definite, else from the eigendecomposition."""
    try:
        return scipy.linalg.cholesky(sigma, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        pass
    # scipy's divide-and-conquer driver: several times faster than numpy.linalg.eigh here
    w, v = scipy.linalg.eigh(sigma, driver="evd", check_finite=False)
    if w.min() < -_PSD_RTOL * max(w.max(), 0.0):
        raise KerasGenError(
            f"sigma{name} has a negative eigenvalue ({w.min():.3g}), so it is not a covariance matrix."
        )
    return v * np.sqrt(np.clip(w, 0.0, None))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S_1 S_2)^{1/2}) for symmetric PSD S_1, S_2, as sum sqrt(eig(F^T S_2 F)), S_1 = F F^T."""
    f = _psd_factor(sigma1, "1")
    m = f.T @ sigma2 @ f
    lam = scipy.linalg.eigh((m + m.T) / 2.0, eigvals_only=True, driver="evd", check_finite=False)
    if lam.min() < -_PSD_RTOL * max(lam.max(), 0.0):
        # F^T S_2 F is PSD whenever S_2 is, so clearly negative eigenvalues come from S_2
        raise KerasGenError(
            f"sigma2 is not positive semi-definite (eigenvalue {lam.min():.3g} of S1^1/2 S2 S1^1/2), "
            "so it is not a covariance matrix."
        )
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017, eq. 6).

    ||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^{1/2}). The distance is a
    squared metric, so it is >= 0; a result that rounding pushes slightly below 0 is returned
    as 0.
    """
    mu1, sigma1 = _as_gaussian(mu1, sigma1, "1")
    mu2, sigma2 = _as_gaussian(mu2, sigma2, "2")
    if mu1.size != mu2.size:
        raise KerasGenError(
            f"The two Gaussians have dimensions {mu1.size} and {mu2.size}; both must come from "
            "the same feature extractor."
        )
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))


def _check_counts(stats: FeatureStatistics, name: str) -> None:
    if stats.count < 2:
        raise KerasGenError(
            f"FID needs at least 2 samples of {name} to estimate a covariance, got {stats.count}. "
            f"Use at least {stats.dim + 1 if stats.dim else 2} for a full-rank estimate "
            "(the usual protocol is 10,000-50,000)."
        )
    if stats.count <= stats.dim:
        warnings.warn(
            f"FID from {stats.count} samples of {name} with {stats.dim}-dim features: the "
            f"covariance is rank-deficient (rank <= {stats.count - 1}); at least {stats.dim + 1} "
            "samples are needed for a full-rank estimate. The value is computed exactly but is "
            "strongly biased upwards and not comparable with published FIDs.",
            stacklevel=3,
        )


def fid_from_statistics(
    stats_a: FeatureStatistics,
    stats_b: FeatureStatistics,
    names: tuple[str, str] = ("the first set", "the second set"),
) -> float:
    """FID between two `FeatureStatistics` (e.g. cached real-data statistics and generated ones).

    Raises KerasGenError with fewer than 2 samples in either set or mismatched dimensions;
    warns when a set has no more samples than feature dimensions (rank-deficient covariance).
    `names` label the two sets in those messages.
    """
    for stats, name in zip((stats_a, stats_b), names, strict=True):
        if not isinstance(stats, FeatureStatistics):
            raise KerasGenError(f"fid_from_statistics takes FeatureStatistics, got {type(stats).__name__}.")
        _check_counts(stats, name)
    if stats_a.dim != stats_b.dim:
        raise KerasGenError(
            f"The statistics have feature dimensions {stats_a.dim} and {stats_b.dim}; both must "
            "come from the same feature extractor (check the cached real-data statistics)."
        )
    return frechet_distance(stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance)


def fid_from_features(real, fake, batch_size: int = 4096) -> float:
    """FID between two feature matrices (n, dim); streamed through `FeatureStatistics`."""
    real = as_features(real, "real features", min_count=2, purpose="FID")
    fake = as_features(fake, "generated features", min_count=2, purpose="FID")
    check_same_dim(real, fake, "real features", "generated features")
    return fid_from_statistics(
        FeatureStatistics.from_features(real, batch_size),
        FeatureStatistics.from_features(fake, batch_size),
        names=("real features", "generated features"),
    )
