"""Stateless random draws of the train step: latent vectors and the seeds of a step's streams.

Every random draw in the step comes from a seed (2 int32) made of (run seed, D step[, replica
id], stream offset), so a step draws the same values however often it is rerun (a resumed run
draws what the uninterrupted one did). Per-replica streams (latents, instance noise, penalty
interpolation) fold in the replica id; streams drawn for the whole global batch (augmentation)
do not.
"""

import tensorflow as tf

LATENT_DISTRIBUTIONS = ("normal", "uniform")


def sample_latents(shape, distribution, seed):
    """Latent vectors of ``shape``: N(0, 1) or U(-1, 1), drawn statelessly from ``seed``
    (2 ints)."""
    if distribution == "normal":
        return tf.random.stateless_normal(shape, seed=seed)
    if distribution == "uniform":
        return tf.random.stateless_uniform(shape, seed=seed, minval=-1.0, maxval=1.0)
    raise ValueError(
        f"unknown latent distribution {distribution!r}; choose one of: "
        f"{', '.join(LATENT_DISTRIBUTIONS)}"
    )


def step_seed(seed, step, offset, per_replica=True):
    """The (2,) int32 seed of stream ``offset`` at D step ``step`` (a scalar tensor) of a run
    seeded with ``seed`` (an int < 2**31); ``per_replica``: this replica's own stream."""
    seed = tf.stack([tf.constant(seed, tf.int32), tf.cast(step, tf.int32)])
    if per_replica:
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = tf.random.experimental.stateless_fold_in(seed, replica)
    return tf.random.experimental.stateless_fold_in(seed, offset)
