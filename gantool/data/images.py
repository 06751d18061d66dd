"""Image conversions shared by the loaders (TensorFlow): channels, crop and resize, uint8.

Every function takes and returns uint8 images in [0, 255]: single (H, W, C) images, or
``tf.data`` datasets of them with static shapes (:func:`adapt_images`, :func:`element_shape`).
"""

import tensorflow as tf

from gantool.errors import UsageError


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
