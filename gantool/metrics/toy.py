"""Mode metrics for the 2-D toy distributions (VEEGAN / PacGAN protocol).

Distributions (the data module builds its samplers from these constants):

* ``ring``: RING_MODES = 8 isotropic Gaussians, centres at angles 2*pi*i/8 (i = 0..7,
  starting on the +x axis) on a circle of radius RING_RADIUS = 2.0, std RING_STD = 0.02.
* ``grid``: 25 isotropic Gaussians centred at {-4, -2, 0, 2, 4}^2 (GRID_SIZE = 5 per axis,
  spacing GRID_SPACING = 2.0, centred on the origin), std GRID_STD = 0.05.

Protocol of ``mode_metrics`` for N samples and M modes:

1. Each sample is assigned to its nearest mode centre (Euclidean distance).
2. A sample is *high quality* when that distance is at most 3 * std.
3. A mode is *covered* when it holds at least ``max(1, ceil(coverage_fraction * N / M))``
   high-quality samples, i.e. by default 20% of its expected share (PacGAN's rule: with
   N = 2500 on the 25-mode grid, at least 20 samples).
4. ``reverse_kl`` = KL(p || u) = sum_i p_i log(M p_i), with p the histogram of the
   high-quality samples over the modes (normalised) and u uniform. Empty modes contribute
   0 (0 log 0 = 0); no epsilon is needed because u is strictly positive. It is 0 for a
   perfectly balanced generator and log(M) for one that puts everything in a single mode;
   ``inf`` when there are no high-quality samples at all.
"""

from __future__ import annotations

import math

import numpy as np

# The distributions are defined once, by the data module that samples them.
from gantool.data.toy import (  # noqa: F401 - re-exported for callers of this module
    GRID_SIZE,
    GRID_SPACING,
    GRID_STD,
    RING_MODES,
    RING_RADIUS,
    RING_STD,
)
from gantool.data.toy import grid_centers as grid_modes
from gantool.data.toy import ring_centers as ring_modes

HIGH_QUALITY_STDS = 3.0
COVERAGE_FRACTION = 0.2


def mode_metrics(samples, centers, std: float,
                 coverage_fraction: float = COVERAGE_FRACTION) -> dict:
    """Mode coverage of 2-D ``samples`` (N, 2) for mode ``centers`` (M, 2) of std ``std``.

    Returns {"modes_covered": int in [0, M], "high_quality_pct": float in [0, 100],
    "reverse_kl": float >= 0 (inf without high-quality samples)}; see the module docstring.
    """
    points = np.asarray(samples, dtype=np.float64)
    centres = np.asarray(centers, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 1:
        raise ValueError(f"samples must be a non-empty 2-D array (N, D), got shape {points.shape}")
    if centres.ndim != 2 or centres.shape[0] < 1 or centres.shape[1] != points.shape[1]:
        raise ValueError(f"centers must be (M, {points.shape[1]}), got shape {centres.shape}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    if not 0.0 <= coverage_fraction <= 1.0:
        raise ValueError(f"coverage_fraction must be in [0, 1], got {coverage_fraction}")
    n, m = len(points), len(centres)
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    nearest = d2.argmin(axis=1)
    high_quality = np.sqrt(d2[np.arange(n), nearest]) <= HIGH_QUALITY_STDS * std
    counts = np.bincount(nearest[high_quality], minlength=m)
    threshold = max(1, math.ceil(coverage_fraction * n / m))
    hq_total = int(counts.sum())
    if hq_total == 0:
        reverse_kl = math.inf
    else:
        p = counts[counts > 0] / hq_total
        reverse_kl = max(float(np.sum(p * np.log(p * m))), 0.0)
    return {
        "modes_covered": int(np.count_nonzero(counts >= threshold)),
        "high_quality_pct": 100.0 * hq_total / n,
        "reverse_kl": reverse_kl,
    }


def toy_mode_metrics(samples, dataset: str) -> dict:
    """``mode_metrics`` with the default centres and std of ``dataset`` ("ring" or "grid")."""
    if dataset == "ring":
        return mode_metrics(samples, ring_modes(), RING_STD)
    if dataset == "grid":
        return mode_metrics(samples, grid_modes(), GRID_STD)
    raise ValueError(f"unknown toy dataset {dataset!r}; expected 'ring' or 'grid'")
