"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020).

The same random transform family is applied to real and generated images before the
discriminator sees them; every operation is differentiable in the pixels, so G's gradient flows
through it. Randomness is stateless (``tf.random.stateless_*`` from a (2,) int seed), so a step
draws the same transforms on any number of replicas when the seed is folded with the replica
id, and a resumed run draws the same ones again.

Operations, on images (N, H, W, C) in [-1, 1]:

``color``
    brightness + U(-0.5, 0.5), saturation x U(0, 2) around the per-pixel channel mean, contrast
    x U(0.5, 1.5) around the per-image mean (the paper's ranges, on [-1, 1] data: the
    brightness shift is scaled by 2 from the paper's [0, 1] range).
``translation``
    shift by up to 1/8 of the size in each direction, zero padding (integer pixels).
``cutout``
    zero a random square of half the size per image.

Replica independence: every per-image draw is made for the *global* batch (``rows = (start,
total)``: this replica's first row and the global batch size) and this replica's rows are
sliced out, so image i of the global batch gets the same transform on any number of replicas
when the seed does not depend on the replica. ``rows=None``: the batch is the whole batch.

ADA (Karras et al. 2020): with a probability ``p`` (a scalar tensor in [0, 1]) each operation
of the policy is applied to each image independently with probability ``p`` (a per-image draw
per operation); ``p=None`` applies every operation to every image (DiffAugment).
"""

import tensorflow as tf

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _per_image(draw, x, rows):
    """``draw(count)`` (count, ...) made for the global rows, this replica's (N, ...) kept."""
    n = tf.shape(x)[0]
    start, total = (0, n) if rows is None else rows
    return draw(total)[start:start + n]


def _uniform(x, rows, seed, offset, low=0.0, high=1.0):
    """Per-image factors (N, 1, 1, 1) of x's dtype, uniform on [low, high)."""
    seed = tf.cast(seed, tf.int32) + tf.constant([0, 1], tf.int32) * offset
    draw = lambda m: tf.random.stateless_uniform([m, 1, 1, 1], seed=seed, minval=low, maxval=high)
    return tf.cast(_per_image(draw, x, rows), x.dtype)


def color(x, seed, rows=None):
    """Random brightness, saturation and contrast per image; x (N, H, W, C) in [-1, 1]."""
    x = x + 2.0 * (_uniform(x, rows, seed, 1) - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * _uniform(x, rows, seed, 2, 0.0, 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * _uniform(x, rows, seed, 3, 0.5, 1.5) + mean


def _integers(x, rows, seed, shape, low, high):
    """Per-image integers (N, *shape) uniform on [low, high)."""
    draw = lambda m: tf.random.stateless_uniform([m, *shape], seed=seed, minval=low,
                                                 maxval=high, dtype=tf.int32)
    return _per_image(draw, x, rows)


def _shift_indices(size, shift):
    """Source indices (N, size) for shifting by ``shift`` (N,) pixels; -1 marks padding."""
    positions = tf.range(size)[None, :] - shift[:, None]
    return tf.where((positions >= 0) & (positions < size), positions, -1)


def _gather_padded(x, indices, axis):
    """Take ``indices`` (N, size) along ``axis`` (1 or 2) of x, zeros where an index is -1."""
    valid = tf.cast(indices >= 0, x.dtype)
    gathered = tf.gather(x, tf.maximum(indices, 0), axis=axis, batch_dims=1)
    shape = [-1, 1, 1, 1]
    shape[axis] = tf.shape(indices)[1]
    return gathered * tf.reshape(valid, shape)


def translation(x, seed, rows=None):
    """Shift each image by up to TRANSLATION_RATIO of its size, filling with zeros."""
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    max_h = tf.cast(tf.cast(h, tf.float32) * TRANSLATION_RATIO + 0.5, tf.int32)
    max_w = tf.cast(tf.cast(w, tf.float32) * TRANSLATION_RATIO + 0.5, tf.int32)
    seed = tf.cast(seed, tf.int32)
    shift_h = _integers(x, rows, seed + [0, 4], [], -max_h, max_h + 1)
    shift_w = _integers(x, rows, seed + [0, 5], [], -max_w, max_w + 1)
    x = _gather_padded(x, _shift_indices(h, shift_h), axis=1)
    return _gather_padded(x, _shift_indices(w, shift_w), axis=2)


def _window(size, start, length):
    """(N, size) booleans: start <= i < start + length, for starts (N, 1)."""
    positions = tf.range(size)[None, :]
    return (positions >= start) & (positions < start + length)


def cutout(x, seed, rows=None):
    """Zero one square of CUTOUT_RATIO of the image's size per image, at a random centre."""
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    size_h = tf.cast(tf.cast(h, tf.float32) * CUTOUT_RATIO + 0.5, tf.int32)
    size_w = tf.cast(tf.cast(w, tf.float32) * CUTOUT_RATIO + 0.5, tf.int32)
    seed = tf.cast(seed, tf.int32)
    centre_h = _integers(x, rows, seed + [0, 6], [1], 0, h)
    centre_w = _integers(x, rows, seed + [0, 7], [1], 0, w)
    rows = _window(h, centre_h - size_h // 2, size_h)  # (N, H)
    cols = _window(w, centre_w - size_w // 2, size_w)  # (N, W)
    inside = tf.logical_and(rows[:, :, None], cols[:, None, :])
    return x * tf.cast(~inside, x.dtype)[..., None]


OPERATIONS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x, seed, policy=POLICIES, p=None, rows=None):
    """Apply ``policy`` (names from :data:`POLICIES`, in order) to images (N, H, W, C) in [-1, 1],
    with randomness from ``seed`` (a (2,) int tensor). Returns the same shape and dtype.

    ``p``: each operation is applied to each image with this probability (scalar in [0, 1];
    None: always). ``rows``: (this replica's first row, global batch size) of the draws."""
    unknown = [name for name in policy if name not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(POLICIES)}")
    for i, name in enumerate(policy):
        op_seed = tf.cast(seed, tf.int32) + [0, 100 * (i + 1)]
        augmented = OPERATIONS[name](x, op_seed, rows)
        if p is None:
            x = augmented
            continue
        u = _uniform(x, rows, op_seed, 50)  # (N, 1, 1, 1)
        x = tf.where(u < tf.cast(p, x.dtype), augmented, x)
    return x
