"""Tests of the feature-space metrics (FID, KID, precision/recall) and the toy mode metrics."""

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from gantool.metrics import (
    feature_statistics,
    fid_from_features,
    frechet_distance,
    kernel_inception_distance,
    mode_metrics,
    precision_recall,
)
from gantool.metrics.kid import mmd2_unbiased, polynomial_kernel
from gantool.metrics.toy import (
    GRID_STD,
    RING_RADIUS,
    RING_STD,
    grid_modes,
    ring_modes,
    toy_mode_metrics,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def random_covariance(rng, dim, scale=1.0):
    a = rng.normal(size=(dim, dim))
    return scale * (a @ a.T / dim + 0.1 * np.eye(dim))


def random_rotation(rng, dim):
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


# ----------------------------------------------------------------------------- import cost


def test_package_import_does_not_load_tensorflow():
    code = ("import sys; import gantool; before = 'tensorflow' in sys.modules; "
            "import gantool.metrics; "
            "assert before or 'tensorflow' not in sys.modules, 'tensorflow imported'; "
            "assert before or 'keras' not in sys.modules, 'keras imported'")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- FID


def test_fid_of_feature_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 64)) @ rng.normal(size=(64, 64)) + 3.0
    _, sigma = feature_statistics(features)
    assert fid_from_features(features, features) < 1e-6 * np.trace(sigma)


def test_frechet_distance_diagonal_closed_form():
    rng = np.random.default_rng(1)
    dim = 16
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    a, b = rng.uniform(0.1, 4.0, size=dim), rng.uniform(0.1, 4.0, size=dim)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)
    # Rotating both covariances by the same orthogonal matrix leaves the distance unchanged.
    q = random_rotation(rng, dim)
    value = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert value == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_general_covariances():
    rng = np.random.default_rng(2)
    dim = 12
    s1, s2 = random_covariance(rng, dim), random_covariance(rng, dim, scale=2.0)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    # Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2), computed with symmetric eigensolvers.
    w, v = np.linalg.eigh(s1)
    s1_half = (v * np.sqrt(w)) @ v.T
    tr_covmean = np.sum(np.sqrt(np.linalg.eigvalsh(s1_half @ s2 @ s1_half)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_covmean
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_fid_from_large_samples_approaches_closed_form():
    rng = np.random.default_rng(3)
    n, dim = 200_000, 3
    a, b = np.array([1.0, 2.0, 0.5]), np.array([0.25, 2.0, 3.0])
    mu1, mu2 = np.zeros(dim), np.array([1.0, -0.5, 0.0])
    x = mu1 + rng.normal(size=(n, dim)) * np.sqrt(a)
    y = mu2 + rng.normal(size=(n, dim)) * np.sqrt(b)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert fid_from_features(x, y) == pytest.approx(expected, rel=0.02)


def test_fid_with_singular_covariances_is_finite():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(10, 64)), rng.normal(size=(12, 64)) + 0.5  # rank-deficient covariances
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # N < D is computed exactly: no eps fallback, no warning
        value = fid_from_features(x, y)
    assert np.isfinite(value) and value > 0


def test_fid_rejects_bad_shapes():
    with pytest.raises(ValueError, match="dimensions differ"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="2-D"):
        feature_statistics(np.zeros(5))
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))


# ----------------------------------------------------------------------------- KID


def biased_mmd2(x, y):
    return (polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean()
            - 2 * polynomial_kernel(x, y).mean())


def test_kid_is_unbiased_for_equal_distributions():
    rng = np.random.default_rng(5)
    reps, m, dim = 400, 25, 8
    unbiased, biased = np.empty(reps), np.empty(reps)
    for i in range(reps):
        x, y = rng.normal(size=(m, dim)), rng.normal(size=(m, dim))
        unbiased[i], _ = kernel_inception_distance(x, y, num_subsets=1, subset_size=m, seed=i)
        biased[i] = biased_mmd2(x, y)
    stderr = unbiased.std(ddof=1) / math.sqrt(reps)
    assert abs(unbiased.mean()) < 4 * stderr
    # The biased estimator (diagonal terms kept) is clearly positive on the same samples.
    assert biased.mean() > unbiased.mean() + 10 * stderr
    assert biased.mean() > 10 * biased.std(ddof=1) / math.sqrt(reps)


def test_kid_positive_for_different_distributions():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(400, 16))
    y = rng.normal(size=(400, 16)) * 1.5 + 0.5
    mean, std = kernel_inception_distance(x, y, num_subsets=20, subset_size=100)
    assert mean > 0 and mean > 5 * std
    same_mean, _ = kernel_inception_distance(x, rng.normal(size=(400, 16)),
                                             num_subsets=20, subset_size=100)
    assert mean > 20 * abs(same_mean)


def test_kid_matches_direct_estimate_and_clips_subset_size():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(40, 5)) + 1.0
    # subset_size above both set sizes is clipped to 30; with x fully used the result is
    # deterministic in the seed.
    first = kernel_inception_distance(x, y, num_subsets=3, subset_size=1000, seed=11)
    second = kernel_inception_distance(x, y, num_subsets=3, subset_size=1000, seed=11)
    assert first == second
    full, _ = kernel_inception_distance(x, y[:30], num_subsets=1, subset_size=30)
    assert full == pytest.approx(mmd2_unbiased(x, y[:30]), rel=1e-12)


def test_kid_rejects_bad_arguments():
    x = np.zeros((10, 4))
    with pytest.raises(ValueError, match="dimensions differ"):
        kernel_inception_distance(x, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="num_subsets"):
        kernel_inception_distance(x, x, num_subsets=0)
    with pytest.raises(ValueError, match="subset_size"):
        kernel_inception_distance(x, x, subset_size=1)


# ----------------------------------------------------------------------------- precision / recall


def test_precision_recall_identical_sets():
    x = np.random.default_rng(8).normal(size=(300, 16))
    assert precision_recall(x, x.copy(), k=3) == (1.0, 1.0)


def test_precision_recall_disjoint_sets():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(300, 16))
    y = rng.normal(size=(300, 16)) + 1000.0
    assert precision_recall(x, y, k=3) == (0.0, 0.0)


def test_precision_recall_partial_overlap():
    rng = np.random.default_rng(10)
    real = rng.normal(size=(1000, 4))
    fake = np.concatenate([rng.normal(size=(500, 4)), rng.normal(size=(500, 4)) + 50.0])
    precision, recall = precision_recall(real, fake, k=3)
    assert 0.4 < precision < 0.6  # half of the fakes are far from the real data
    assert recall > 0.8  # the in-distribution half still covers the real data


def test_precision_recall_mode_collapse_gives_low_recall():
    rng = np.random.default_rng(11)
    real = rng.normal(size=(1000, 4))
    fake = rng.normal(size=(1000, 4)) * 0.05  # all fakes near the centre of the real data
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.95
    assert recall < 0.2


def test_precision_recall_independent_of_batch_size():
    rng = np.random.default_rng(12)
    real, fake = rng.normal(size=(257, 8)), rng.normal(size=(301, 8)) * 1.3
    small = precision_recall(real, fake, k=5, batch_size=17)
    assert small == precision_recall(real, fake, k=5, batch_size=10_000)


def test_precision_recall_rejects_bad_arguments():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="k=5"):
        precision_recall(x, x, k=5)
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(x, x, k=0)
    with pytest.raises(ValueError, match="dimensions differ"):
        precision_recall(x, np.zeros((5, 2)))


# ----------------------------------------------------------------------------- toy mode metrics


def sample_modes(rng, centres, std, n):
    idx = rng.integers(len(centres), size=n)
    return centres[idx] + rng.normal(size=(n, 2)) * std


def test_mode_centres():
    ring = ring_modes()
    assert ring.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), RING_RADIUS)
    np.testing.assert_allclose(ring[0], [RING_RADIUS, 0.0])
    grid = grid_modes()
    assert grid.shape == (25, 2)
    expected = {(float(x), float(y)) for x in range(-4, 5, 2) for y in range(-4, 5, 2)}
    assert set(map(tuple, grid.tolist())) == expected


@pytest.mark.parametrize("dataset, centres, std", [("ring", ring_modes(), RING_STD),
                                                   ("grid", grid_modes(), GRID_STD)])
def test_perfect_samples_cover_all_modes(dataset, centres, std):
    samples = sample_modes(np.random.default_rng(13), centres, std, 5000)
    metrics = mode_metrics(samples, centres, std)
    assert metrics["modes_covered"] == len(centres)
    # 2-D isotropic Gaussian: P(r <= 3 std) = 1 - exp(-4.5) = 98.9%
    assert metrics["high_quality_pct"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=1.0)
    assert metrics["reverse_kl"] < 0.01
    assert toy_mode_metrics(samples, dataset) == metrics


def test_collapsed_generator_covers_one_mode():
    centres = ring_modes()
    samples = centres[3] + np.random.default_rng(14).normal(size=(1000, 2)) * RING_STD * 0.5
    metrics = mode_metrics(samples, centres, RING_STD)
    assert metrics["modes_covered"] == 1
    assert metrics["high_quality_pct"] == pytest.approx(100.0)
    assert metrics["reverse_kl"] == pytest.approx(math.log(8), abs=1e-9)


def test_samples_far_from_modes_are_low_quality():
    centres = grid_modes()
    samples = np.random.default_rng(15).uniform(0.5, 1.5, size=(500, 2))  # between grid modes
    metrics = mode_metrics(samples, centres, GRID_STD)
    assert metrics["high_quality_pct"] == 0.0
    assert metrics["modes_covered"] == 0
    assert metrics["reverse_kl"] == math.inf


def test_mode_coverage_threshold():
    centres = ring_modes()
    # 800 samples: threshold is ceil(0.2 * 800 / 8) = 20 high-quality samples per mode.
    counts = [116] * 6 + [98, 6]  # mode 6 has 98 (covered), mode 7 has 6 (not covered)
    samples = np.concatenate([np.repeat(centres[i:i + 1], c, axis=0) for i, c in enumerate(counts)])
    assert len(samples) == 800
    assert mode_metrics(samples, centres, RING_STD)["modes_covered"] == 7
    assert mode_metrics(samples, centres, RING_STD, coverage_fraction=0.0)["modes_covered"] == 8


def test_mode_metrics_rejects_bad_arguments():
    with pytest.raises(ValueError, match="std"):
        mode_metrics(np.zeros((3, 2)), ring_modes(), 0.0)
    with pytest.raises(ValueError, match="centers"):
        mode_metrics(np.zeros((3, 2)), np.zeros((4, 3)), 0.1)
    with pytest.raises(ValueError, match="unknown toy dataset 'moons'"):
        toy_mode_metrics(np.zeros((3, 2)), "moons")
