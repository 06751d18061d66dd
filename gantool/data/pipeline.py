"""Input pipeline: image conversions, value ranges, and seeded, resumable training batches.

Models see images as float32 in [-1, 1] (``x / 127.5 - 1``) and points unchanged.
:func:`training_dataset` caches the decoded uint8 data in memory, shuffles each epoch with a
seed derived from ``(seed, epoch)`` only, batches, and only then converts to the model range.
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


# --- image conversions (tf, used by the loaders) -----------------------------------------------


def _to_uint8(x):
    """float image in [0, 255] -> uint8 (round and clip)."""
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


def centre_crop(image, side=None):
    """Crop the central ``side x side`` square (default: the largest) of an (H, W, C) image."""
    height, width = image.shape[0], image.shape[1]
    side = min(height, width) if side is None else side
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def convert_channels(image, channels):
    """uint8 (H, W, C) -> uint8 (H, W, channels); drops alpha, converts grey <-> RGB."""
    have = image.shape[-1]
    if have in (2, 4):  # grey + alpha, RGB + alpha
        image, have = image[..., : have - 1], have - 1
    if channels is None or channels == have:
        return image
    if channels == 1:
        return _to_uint8(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32)))
    return tf.image.grayscale_to_rgb(image)


def resize_square(image, size):
    """uint8 (H, W, C) -> uint8 (size, size, C): centre-crop to square, antialiased resize."""
    image = centre_crop(image)
    if image.shape[0] == size:
        return image
    resized = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    return _to_uint8(resized)


def adapt_images(dataset, image_size=None, channels=None, crop=None):
    """Map a dataset of uint8 (H, W, C) images to (image_size, image_size, channels).

    ``crop`` first takes the central ``crop x crop`` square. Images are only resized when
    ``image_size`` is given and differs (or the image is not square); channels only change when
    ``channels`` is given (alpha channels are always dropped). Shapes must be static.
    """
    shape = tuple(dataset.element_spec.shape)
    needs_resize = image_size is not None and shape[:2] != (image_size, image_size)
    needs_channels = shape[-1] in (2, 4) or (channels is not None and channels != shape[-1])
    if crop is None and not needs_resize and not needs_channels:
        return dataset

    def adapt(image):
        if crop is not None:
            image = centre_crop(image, crop)
        image = convert_channels(image, channels)
        if image_size is not None:
            image = resize_square(image, image_size)
        return image

    return dataset.map(adapt, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def element_shape(dataset, name):
    """The fully defined element shape of ``dataset`` as a tuple of ints."""
    shape = dataset.element_spec.shape
    if not shape.is_fully_defined():
        raise UsageError(
            f"dataset {name!r} has images of varying shape {shape}; give an image size"
        )
    return tuple(int(d) for d in shape)


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
