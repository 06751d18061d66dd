"""DiffAugment: shapes, randomness from the seed, the paper's ranges, and gradients."""

import numpy as np
import pytest
import tensorflow as tf

from gantool.augment import POLICIES, diff_augment, translation

SEED = tf.constant([3, 4])


def images(n=8, size=16, channels=3):
    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(-1, 1, (n, size, size, channels)).astype(np.float32))


@pytest.mark.parametrize("policy", [(p,) for p in POLICIES] + [POLICIES])
def test_same_seed_same_transform_other_seed_other(policy):
    x = images()
    a, b = diff_augment(x, SEED, policy), diff_augment(x, SEED, policy)
    c = diff_augment(x, SEED + 1, policy)
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())


def test_translation_moves_content_by_whole_pixels_with_zero_padding():
    x = tf.ones((64, 16, 16, 1))
    shifted = translation(x, SEED).numpy()
    zero_rows = (shifted == 0).all(axis=(2, 3)).sum(axis=1)  # padded rows per image
    assert zero_rows.max() <= 2 and zero_rows.max() >= 1  # up to 1/8 of 16 pixels
    assert set(np.unique(shifted)) <= {0.0, 1.0}


def test_cutout_zeroes_a_square_of_half_the_size():
    x = tf.ones((16, 16, 16, 3))
    out = diff_augment(x, SEED, ("cutout",)).numpy()
    zeros = (out == 0).all(axis=3).sum(axis=(1, 2))
    assert zeros.max() == 64 and zeros.min() >= 16  # 8x8 squares, clipped at the border


def test_gradients_flow_through_every_operation():
    x = tf.Variable(images())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(diff_augment(x, SEED) ** 2)
    grad = tape.gradient(loss, x)
    assert grad is not None and np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0


def test_unknown_policy_is_named():
    with pytest.raises(ValueError, match="blur"):
        diff_augment(images(), SEED, ("blur",))
