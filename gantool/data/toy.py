"""Toy 2-D distributions, sampled with numpy from a seed.

- ``sine``: x1 ~ U[0, 2*pi], x2 = sin(x1).
- ``gaussian``: z ~ N(0, I2), x = z @ GAUSSIAN_A + GAUSSIAN_B (mean b, covariance A^T A).
- ``ring``: an equal mixture of 8 Gaussians (std RING_STD) centred on a circle of radius
  RING_RADIUS.
- ``grid``: an equal mixture of 25 Gaussians (std GRID_STD) centred on {-4, -2, 0, 2, 4}^2.

:data:`MODES` gives the mixtures' centres and std for the mode-coverage metrics.
"""

import numpy as np

from gantool.data.source import from_arrays
from gantool.errors import UsageError

TOY_NAMES = ("sine", "gaussian", "ring", "grid")
DEFAULT_NUM_EXAMPLES = 10_000

GAUSSIAN_A = np.array([[1.0, 2.0], [-0.1, 0.5]])
GAUSSIAN_B = np.array([1.0, 2.0])

RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.02

GRID_SIZE = 5
GRID_SPACING = 2.0
GRID_STD = 0.05


def ring_centers():
    """(8, 2) float64: the ring's mode centres, at angles 2*pi*k/8 on radius RING_RADIUS."""
    angles = 2 * np.pi * np.arange(RING_MODES) / RING_MODES
    return RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centers():
    """(25, 2) float64: the grid's mode centres, {-4, -2, 0, 2, 4}^2 in row-major order."""
    ticks = (np.arange(GRID_SIZE) - (GRID_SIZE - 1) / 2) * GRID_SPACING
    xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


MODES = {"ring": (ring_centers, RING_STD), "grid": (grid_centers, GRID_STD)}


def _sine(rng, n):
    x1 = rng.uniform(0.0, 2 * np.pi, size=n)
    return np.stack([x1, np.sin(x1)], axis=1)


def _gaussian(rng, n):
    return rng.standard_normal((n, 2)) @ GAUSSIAN_A + GAUSSIAN_B


def _mixture(rng, n, centers, std):
    picks = rng.integers(len(centers), size=n)
    return centers[picks] + std * rng.standard_normal((n, 2))


def sample_toy(name, n, seed):
    """Draw ``n`` points of the toy distribution ``name``: float32 (n, 2), same seed same points."""
    rng = np.random.default_rng(seed)
    if name == "sine":
        points = _sine(rng, n)
    elif name == "gaussian":
        points = _gaussian(rng, n)
    elif name in MODES:
        centers, std = MODES[name]
        points = _mixture(rng, n, centers(), std)
    else:
        raise ValueError(f"unknown toy dataset {name!r}; choose one of: {', '.join(TOY_NAMES)}")
    return points.astype(np.float32)


def _split_seed(seed, split):
    """``seed`` for the train split; another split gets an independent stream."""
    if split == "train":
        return seed
    return [seed, sum(ord(c) * 31**i for i, c in enumerate(split)) % 2**32]


def load_toy(name, *, split="train", data_dir=None, image_size=None, channels=None,
             max_examples=None, seed=0):
    """A source (see :func:`from_arrays`) of ``max_examples`` (default 10000) float32 (2,) points.

    The points are drawn from ``seed`` (other splits than ``train`` use a seed derived from
    ``(seed, split)``); ``data_dir`` is ignored, ``image_size`` and ``channels`` are rejected.
    """
    if image_size is not None or channels is not None:
        raise UsageError(
            f"dataset {name!r} is a 2-D toy dataset; image size and channels do not apply to it"
        )
    n = DEFAULT_NUM_EXAMPLES if max_examples is None else max_examples
    return from_arrays(name, sample_toy(name, n, _split_seed(seed, split)))
