"""``shapes``: a synthetic image dataset drawn with numpy from a seed, no download.

Each example is one coloured shape (class 0 ``disc``, 1 ``square``, 2 ``triangle``) on a plain
background: uint8 (32, 32, 3) in [0, 255]. The shape's centre, size, tilt (at most MAX_TILT)
and colour and the background's colour are random; the background is dark and muted, the
shape bright and saturated, so the shape always stands out. Edges are antialiased by drawing at
SUPERSAMPLE times the size and averaging. The same ``(seed, split)`` gives the same images on
every machine; the ``test`` split (any split but ``train``) uses an independent stream derived
from the seed.
"""

import numpy as np

from gantool.data.source import from_arrays
from gantool.data.toy import _split_seed

SHAPES_SIZE = 32
SHAPES_CLASSES = ("disc", "square", "triangle")
DEFAULT_NUM_EXAMPLES = 10_000
SUPERSAMPLE = 2
# Squares and triangles stand upright, tilted by at most this (radians, about 11 degrees):
# with any rotation a 2-minute DCGAN drew rounded blobs (experiments/results/demo_recipe.md).
MAX_TILT = 0.2
_CHUNK = 1000  # images drawn at once (bounds the memory of the supersampled grid)


def _hsv_to_rgb(h, s, v):
    """Hue, saturation, value arrays (N,) in [0, 1] -> float RGB (N, 3) in [0, 1]."""
    k = (np.stack([5 + 0 * h, 3 + 0 * h, 1 + 0 * h], axis=1) + h[:, None] * 6) % 6
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def _inside(kind, u, v, radius):
    """Masks (N, P, P) of the points (u, v) (N, P, P), centred and rotated, inside each shape.

    ``kind`` (N,) holds class ids, ``radius`` (N, 1, 1) the shape's circumradius in pixels.
    """
    disc = u**2 + v**2 <= radius**2
    half = radius / np.sqrt(2)
    square = (np.abs(u) <= half) & (np.abs(v) <= half)
    triangle = np.ones_like(disc)
    for k in range(3):  # an equilateral triangle: inside three half-planes
        angle = np.pi / 2 + 2 * np.pi * k / 3
        triangle &= u * np.cos(angle) + v * np.sin(angle) <= radius / 2
    kind = kind[:, None, None]
    return np.where(kind == 0, disc, np.where(kind == 1, square, triangle))


def _parameters(seed, n):
    """Per-example draws, each from its own stream, so the first k of n are those of k."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    kind = streams[0].integers(len(SHAPES_CLASSES), size=n)
    radius = streams[1].uniform(0.22, 0.38, size=n) * SHAPES_SIZE
    margin = radius * 0.9
    cx = margin + streams[2].uniform(size=n) * (SHAPES_SIZE - 2 * margin)
    cy = margin + streams[3].uniform(size=n) * (SHAPES_SIZE - 2 * margin)
    theta = streams[4].uniform(-MAX_TILT, MAX_TILT, size=n)
    fg = _hsv_to_rgb(streams[5].uniform(size=n), streams[6].uniform(0.6, 1.0, n), 0.9 + 0 * cx)
    bg = _hsv_to_rgb(streams[7].uniform(size=n), streams[8].uniform(0.0, 0.5, n),
                     streams[9].uniform(0.05, 0.35, n))
    return kind, radius, cx, cy, theta, fg, bg


def _draw(kind, radius, cx, cy, theta, fg, bg):
    """Images of the shapes given by :func:`_parameters` (arrays (N,), colours (N, 3)).

    Returns uint8 (N, 32, 32, 3) in [0, 255].
    """
    n, side = len(kind), SHAPES_SIZE * SUPERSAMPLE
    ticks = ((np.arange(side) + 0.5) / SUPERSAMPLE).astype(np.float32)
    ys, xs = np.meshgrid(ticks, ticks, indexing="ij")
    col = lambda a: a.astype(np.float32)[:, None, None]  # noqa: E731 - (N,) -> (N, 1, 1)
    dx, dy = xs[None] - col(cx), ys[None] - col(cy)
    cos, sin = col(np.cos(theta)), col(np.sin(theta))
    mask = _inside(kind, cos * dx + sin * dy, -sin * dx + cos * dy, col(radius))
    cover = mask.reshape(n, SHAPES_SIZE, SUPERSAMPLE, SHAPES_SIZE, SUPERSAMPLE).mean(axis=(2, 4))
    cover = cover[..., None].astype(np.float32)
    images = cover * fg[:, None, None, :] + (1 - cover) * bg[:, None, None, :]
    return np.round(images * 255).astype(np.uint8)


def draw_shapes(n, seed):
    """``n`` examples from ``seed``: (uint8 (n, 32, 32, 3) in [0, 255], int32 (n,) in [0, 3)).

    The first k examples of ``draw_shapes(n, seed)`` are ``draw_shapes(k, seed)``.
    """
    params = _parameters(seed, n)
    images = np.zeros((n, SHAPES_SIZE, SHAPES_SIZE, 3), np.uint8)
    for start in range(0, n, _CHUNK):
        images[start : start + _CHUNK] = _draw(*(p[start : start + _CHUNK] for p in params))
    return images, params[0].astype(np.int32)


def load_shapes(name, *, split="train", data_dir=None, image_size=None, channels=None,
                max_examples=None, seed=0):
    """32x32 RGB discs, squares and triangles on plain backgrounds (drawn from --seed, 10k train)

    A source (see :func:`from_arrays`) of ``max_examples`` (default 10000) uint8 (32, 32, 3)
    images with class labels; ``image_size``/``channels`` convert them, ``data_dir`` is ignored.
    """
    n = DEFAULT_NUM_EXAMPLES if max_examples is None else max_examples
    images, labels = draw_shapes(n, _split_seed(seed, split))
    return from_arrays(name, images, labels, list(SHAPES_CLASSES), image_size=image_size,
                       channels=channels)
