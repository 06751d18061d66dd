"""Improved precision and recall (Kynkäänniemi et al. 2019) on feature arrays.

Each set defines a manifold: the union of balls around its samples whose radius is the
distance to the sample's k-th nearest neighbour in the same set (itself excluded).
Precision is the fraction of fake samples inside the real manifold (fidelity); recall is
the fraction of real samples inside the fake manifold (diversity). Both lie in [0, 1].

Distances are computed with numpy in row blocks of ``batch_size``: peak extra memory is
about batch_size * max(N_real, N_fake) * 8 bytes, plus float64 copies of both sets.
"""

from __future__ import annotations

import numpy as np


def _is_positive_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _squared_distances(block: np.ndarray, block_sq: np.ndarray, points: np.ndarray,
                       points_sq: np.ndarray) -> np.ndarray:
    d2 = block_sq[:, None] + points_sq[None, :] - 2.0 * (block @ points.T)
    return np.maximum(d2, 0.0, out=d2)


def knn_radii_squared(features: np.ndarray, k: int, batch_size: int) -> np.ndarray:
    """(N, D) float64 -> (N,) squared distance of each sample to its k-th nearest
    neighbour among the other samples."""
    norms = np.einsum("ij,ij->i", features, features)
    radii = np.empty(len(features))
    for start in range(0, len(features), batch_size):
        stop = min(start + batch_size, len(features))
        d2 = _squared_distances(features[start:stop], norms[start:stop], features, norms)
        rows = np.arange(stop - start)
        d2[rows, start + rows] = np.inf  # exclude self
        radii[start:stop] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return radii


def manifold_coverage(queries: np.ndarray, support: np.ndarray, support_radii_sq: np.ndarray,
                      batch_size: int) -> float:
    """Fraction of ``queries`` (M, D) within the radius of at least one ``support`` sample."""
    q_norms = np.einsum("ij,ij->i", queries, queries)
    s_norms = np.einsum("ij,ij->i", support, support)
    inside = 0
    for start in range(0, len(queries), batch_size):
        stop = min(start + batch_size, len(queries))
        d2 = _squared_distances(queries[start:stop], q_norms[start:stop], support, s_norms)
        inside += int(np.count_nonzero((d2 <= support_radii_sq[None, :]).any(axis=1)))
    return inside / len(queries)


def precision_recall(real_features, fake_features, k: int = 3, batch_size: int = 500):
    """(N_real, D), (N_fake, D) features -> (precision, recall), floats in [0, 1].

    k: neighbourhood size (k-th nearest neighbour, self excluded); needs k < N for both
    sets. batch_size: rows per distance block (memory, see module docstring).
    """
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    for name, array in (("real_features", real), ("fake_features", fake)):
        if array.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array (N, D), got shape {array.shape}")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    if not _is_positive_int(k):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k={k} needs more than k samples per set; "
                         f"got {len(real)} real and {len(fake)} fake")
    if not _is_positive_int(batch_size):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    real_radii = knn_radii_squared(real, k, batch_size)
    fake_radii = knn_radii_squared(fake, k, batch_size)
    precision = manifold_coverage(fake, real, real_radii, batch_size)
    recall = manifold_coverage(real, fake, fake_radii, batch_size)
    return precision, recall
