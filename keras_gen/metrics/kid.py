"""Kernel Inception Distance (Bińkowski, Sutherland, Arbel & Gretton 2018, "Demystifying MMD
GANs", section 4, "KID").

KID is the squared maximum mean discrepancy between real features X and generated features Y
under the cubic polynomial kernel

    k(x, y) = (x . y / d + 1)^3,      d = feature dimension,

estimated with the unbiased estimator (Gretton et al. 2012, "A Kernel Two-Sample Test",
eq. 3) on m real and m generated samples:

    MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
              - 2/m^2 sum_{i, j} k(x_i, y_j)

Unlike FID, the estimator is unbiased (its expectation is the true MMD^2 for any sample size,
which is why it can come out negative when the two distributions are equal). As in the paper,
it is averaged over `num_subsets` random subsets of `subset_size` points from each set (drawn
without replacement within a subset), and the standard deviation over subsets is reported too.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import as_feature_pair, check_int


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3) -> np.ndarray:
    """k(x, y) = (x . y / d + 1)^degree for all pairs of rows, in float64."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    out = k.copy()
    for _ in range(degree - 1):  # repeated products: np.power with an exponent of 3 is ~100x slower
        out *= k
    return out


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3) between samples x (m, d) and y (n, d)."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise KerasGenError(f"The unbiased MMD estimate needs at least 2 samples per set, got {m} and {n}.")
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    k_xx = polynomial_kernel(x, x, degree)
    k_yy = polynomial_kernel(y, y, degree)
    k_xy = polynomial_kernel(x, y, degree)
    sum_xx = k_xx.sum() - np.trace(k_xx)  # i != j terms only: that is what removes the bias
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float(sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * k_xy.sum() / (m * n))


def kernel_inception_distance(
    real, fake, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID between real and generated feature matrices (n, dim): (mean, std) over subsets.

    `subset_size` is clipped to the smaller set's size (as the reference implementation
    does); at least 2 samples per set are needed. `std` is the population standard deviation
    of the per-subset estimates (0 for one subset). The usual report is KID x 1000.
    """
    real, fake = as_feature_pair(
        real, fake, "real features", "generated features", min_count=2, purpose="KID"
    )
    num_subsets = check_int(num_subsets, "num_subsets")
    subset_size = min(check_int(subset_size, "subset_size", minimum=2), len(real), len(fake))
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets, np.float64)
    for s in range(num_subsets):
        x = real[rng.choice(len(real), subset_size, replace=False)]
        y = fake[rng.choice(len(fake), subset_size, replace=False)]
        values[s] = mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std())
