"""Kernel Inception Distance (Bińkowski et al. 2018) on feature arrays.

KID is the squared maximum mean discrepancy between the two feature distributions under
the cubic polynomial kernel k(x, y) = (x . y / d + 1)^3, estimated without bias on random
subsets and averaged. Lower is better; its expectation is 0 for equal distributions, so
single estimates can be slightly negative.
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x, y, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """(m, d), (n, d) -> (m, n) float64 kernel matrix (x . y / d + coef0) ** degree."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x, y) -> float:
    """Unbiased MMD^2 estimate between samples x (m, d) and y (n, d), m, n >= 2: the
    within-set kernel means leave out the diagonal (k(x_i, x_i) terms)."""
    m, n = len(x), len(y)
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_inception_distance(features1, features2, num_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0):
    """KID between (N1, D) and (N2, D) features -> (mean, std) over ``num_subsets``
    unbiased MMD^2 estimates, each on ``min(subset_size, N1, N2)`` samples drawn without
    replacement from each set (numpy Generator seeded with ``seed``)."""
    f1 = np.asarray(features1)
    f2 = np.asarray(features2)
    for name, array in (("features1", f1), ("features2", f2)):
        if array.ndim != 2 or array.shape[0] < 2:
            raise ValueError(f"{name} must be a 2-D array (N, D) with N >= 2, "
                             f"got shape {array.shape}")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature dimensions differ: {f1.shape[1]} vs {f2.shape[1]}")
    if int(num_subsets) < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    if int(subset_size) < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    size = min(int(subset_size), len(f1), len(f2))
    rng = np.random.default_rng(seed)
    estimates = np.empty(int(num_subsets))
    for i in range(int(num_subsets)):
        x = f1[rng.choice(len(f1), size, replace=False)]
        y = f2[rng.choice(len(f2), size, replace=False)]
        estimates[i] = mmd2_unbiased(x, y)
    return float(estimates.mean()), float(estimates.std())
