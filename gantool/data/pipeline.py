"""Training input: seeded, resumable, shuffled batches of a source, in the models' value range.

Models see images as float32 in [-1, 1] (``x / 127.5 - 1``) and points unchanged.
:func:`training_dataset` caches the decoded uint8 data in memory, shuffles each epoch with a
seed derived from ``(seed, epoch)`` only, batches, and only then converts to the model range.
(The loaders' image conversions live in :mod:`gantool.data.images`.)
"""

import tensorflow as tf

from gantool.errors import UsageError

# Shuffle with a buffer as large as the dataset (a full, uniform shuffle) up to this many
# examples; larger datasets get a buffer of this size.
MAX_SHUFFLE_BUFFER = 200_000
# Graph-level seed used inside the per-epoch function, so that the shuffle order does not depend
# on a global seed set with tf.random.set_seed / keras.utils.set_random_seed.
_GRAPH_SEED = 0x6A7A
_MAX_OP_SEED = 2**31 - 1


# --- value ranges -----------------------------------------------------------------------------


def to_model_range(x, kind):
    """tf: uint8 images -> float32 in [-1, 1] (``x / 127.5 - 1``); points -> float32 unchanged."""
    x = tf.cast(x, tf.float32)
    if kind == "image":
        return x / 127.5 - 1.0
    if kind == "points":
        return x
    raise ValueError(f"unknown data kind {kind!r}; expected 'image' or 'points'")


# --- training batches -------------------------------------------------------------------------


def steps_per_epoch(source, global_batch_size, limit=None):
    """Full batches per epoch: ``num_examples // global_batch_size``, capped by ``limit``."""
    if global_batch_size < 1:
        raise UsageError(f"batch size {global_batch_size} must be at least 1")
    steps = source.num_examples // global_batch_size
    if steps == 0:
        raise UsageError(
            f"dataset {source.name!r} has {source.num_examples} examples, fewer than one batch "
            f"of {global_batch_size}; use a smaller batch size"
        )
    if limit is not None:
        if limit < 1:
            raise UsageError(f"steps per epoch {limit} must be at least 1")
        steps = min(steps, limit)
    return steps


def shuffle_buffer_size(num_examples):
    """The whole dataset up to :data:`MAX_SHUFFLE_BUFFER` examples, else that many."""
    return max(1, min(num_examples, MAX_SHUFFLE_BUFFER))


def epoch_seed(seed, epoch):
    """tf int64 scalar in [1, 2**31 - 1]: a stateless hash of ``(seed, epoch)``."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.stateless_uniform(
        [], seed=key, minval=1, maxval=_MAX_OP_SEED, dtype=tf.int64
    )


def training_dataset(source, global_batch_size, seed, initial_epoch, epochs, steps_per_epoch,
                     with_labels=False):
    """Shuffled float32 batches in model range for epochs ``initial_epoch .. epochs - 1``.

    Yields ``(epochs - initial_epoch) * steps_per_epoch`` batches of exactly
    ``(global_batch_size, *source.shape)`` (remainders dropped); with ``with_labels``, pairs of
    (batch, int32 labels (global_batch_size,)). The uint8 data is cached in
    memory on the first pass; epoch ``e`` is shuffled with a seed that depends on ``(seed, e)``
    only, so a run resumed at epoch k sees the batches an uninterrupted run sees from epoch k.
    """
    full_steps = source.num_examples // global_batch_size
    if not 1 <= steps_per_epoch <= full_steps:
        raise UsageError(
            f"steps per epoch {steps_per_epoch} must be between 1 and {full_steps} "
            f"({source.num_examples} examples in batches of {global_batch_size})"
        )
    examples = source.dataset
    if with_labels:
        if source.labels is None:
            raise UsageError(f"dataset {source.name!r} has no class labels")
        examples = tf.data.Dataset.zip((examples, source.labels))
    cached = examples.cache()
    buffer = shuffle_buffer_size(source.num_examples)

    def one_epoch(epoch):
        # tf.data traces this function into its own graph, so this sets that graph's seed only
        # (not the global seed): the shuffle seeds become (_GRAPH_SEED, hash of (seed, epoch)).
        # (In tf.data debug mode the function runs eagerly and the global seed is left alone.)
        if not tf.executing_eagerly():
            tf.random.set_seed(_GRAPH_SEED)
        shuffled = cached.shuffle(
            buffer, seed=epoch_seed(seed, epoch), reshuffle_each_iteration=False
        )
        batches = shuffled.batch(global_batch_size, drop_remainder=True)
        return batches.take(steps_per_epoch) if steps_per_epoch < full_steps else batches

    dataset = tf.data.Dataset.range(initial_epoch, epochs).flat_map(one_epoch)
    dataset = dataset.map(
        (lambda x, y: (to_model_range(x, source.kind), y)) if with_labels
        else (lambda batch: to_model_range(batch, source.kind)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
