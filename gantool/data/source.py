"""What a loaded dataset is: :class:`DataSource`, and :func:`from_arrays` to make one.

A source holds uint8 (H, W, C) images in [0, 255] (``kind == "image"``) or float32 (2,) points
(``kind == "points"``). :func:`image_array` and :func:`point_array` check numpy arrays of such
elements; :func:`from_arrays` turns them (and optional class ids) into a source: the one call a
registered loader needs for in-memory data.

Importing this module imports neither numpy nor TensorFlow (:mod:`gantool.data` imports it, and
the CLI's ``--help`` must stay fast); the functions import them when called.
"""

from dataclasses import dataclass

from gantool.errors import UsageError


@dataclass
class DataSource:
    """A loaded dataset, ready for :func:`gantool.data.pipeline.training_dataset`.

    ``dataset`` is unbatched and in a deterministic order; its elements are uint8 (H, W, C)
    images in [0, 255] (``kind == "image"``) or float32 (2,) points (``kind == "points"``).
    ``shape`` is the element shape and ``num_examples`` the number of elements (after
    ``max_examples``). ``class_names`` (indexed by class id) and ``labels`` (a dataset of int32
    class ids in [0, num_classes), aligned with ``dataset``) are set where ``labels_available``.
    """

    name: str
    kind: str
    shape: tuple
    num_examples: int
    dataset: "tf.data.Dataset"  # noqa: F821 - TensorFlow is imported lazily
    labels_available: bool = False
    class_names: list[str] | None = None
    labels: "tf.data.Dataset | None" = None  # noqa: F821 - int32 class ids, same order

    @property
    def num_classes(self):
        return len(self.class_names) if self.class_names else None


# Channels an image array may have: grey, RGB, or RGBA (its alpha channel is dropped).
IMAGE_CHANNELS = (1, 3, 4)
# Class ids must lie below this: a stray huge id must not make millions of class names.
MAX_CLASSES = 100_000


def image_array(name, images):
    """Check uint8 images (N, H, W) (grey) or (N, H, W, C), N, H, W >= 1 and C in 1, 3, 4:
    -> uint8 (N, H, W, C). A 4th (alpha) channel is kept here and dropped by the loaders'
    conversion (:func:`gantool.data.images.convert_channels`): RGBA trains as RGB.

    Raises :class:`UsageError` naming the dataset ``name`` for another dtype, shape or channels.
    """
    import numpy as np

    images = np.asarray(images)
    if images.dtype == object:
        raise UsageError(f"dataset {name!r}: the array holds Python objects; uint8 images "
                         f"(0..255) are expected")
    if images.dtype != np.uint8:
        raise UsageError(
            f"dataset {name!r}: the array has dtype {images.dtype}; uint8 images (0..255) are "
            f"expected"
        )
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or 0 in images.shape[:3]:
        raise UsageError(
            f"dataset {name!r}: the array has shape {images.shape}; expected (N, H, W) or "
            f"(N, H, W, C) images with N >= 1"
        )
    if images.shape[-1] not in IMAGE_CHANNELS:
        raise UsageError(
            f"dataset {name!r}: the images have {images.shape[-1]} channels (shape "
            f"{images.shape}); expected 1 (grey), 3 (RGB) or 4 (RGBA, alpha dropped)"
        )
    return images


def point_array(name, points):
    """Check floating points (N, 2), N >= 1: -> float32 (N, 2). Raises :class:`UsageError`."""
    import numpy as np

    points = np.asarray(points)
    if points.dtype.kind != "f" or points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise UsageError(
            f"dataset {name!r}: the array has dtype {points.dtype} and shape {points.shape}; "
            f"expected float (N, 2) points with N >= 1, or uint8 images"
        )
    finite = np.isfinite(points)
    if not finite.all():
        raise UsageError(f"dataset {name!r}: {int((~finite).any(axis=1).sum())} of {len(points)} "
                         f"points hold NaN or infinite values")
    with np.errstate(over="ignore"):
        points = points.astype(np.float32, copy=False)
    if not np.isfinite(points).all():
        raise UsageError(f"dataset {name!r}: some points are too large for float32")
    return points


def _class_ids(name, labels, n, class_names=None):
    """Check class ids for ``n`` examples: -> (int32 (n,) ids, their class names).

    ``labels`` are integers (n,) in [0, len(class_names)); ``class_names`` defaults to
    ``"0" .. str(max id)``. Raises :class:`UsageError` naming the dataset ``name`` otherwise.
    """
    import numpy as np

    ids = np.asarray(labels)
    if ids.shape != (n,) or ids.dtype.kind not in "iu":
        raise UsageError(
            f"dataset {name!r}: the labels have dtype {ids.dtype} and shape {ids.shape}; "
            f"expected integer class ids ({n},), one per example"
        )
    if class_names is None and ids.max() >= MAX_CLASSES:
        raise UsageError(f"dataset {name!r}: a class id is {ids.max()}; class ids must lie in "
                         f"[0, {MAX_CLASSES}), numbered from 0")
    if class_names is None:
        class_names = [str(i) for i in range(int(ids.max()) + 1)]
    if ids.min() < 0 or ids.max() >= len(class_names):
        raise UsageError(
            f"dataset {name!r}: class ids lie in [{ids.min()}, {ids.max()}]; expected ids in "
            f"[0, {len(class_names)}), one per class name"
        )
    return ids.astype(np.int32), list(class_names)


def from_arrays(name, images_or_points, labels=None, class_names=None, *, image_size=None,
                channels=None, max_examples=None):
    """A :class:`DataSource` named ``name`` of in-memory numpy arrays.

    ``images_or_points`` is uint8 images (N, H, W) or (N, H, W, C) in [0, 255] (``kind ==
    "image"``; see :func:`image_array`) or floating (N, 2) points (``kind == "points"``, kept as
    float32). ``labels`` (optional) are integer class ids (N,), named by ``class_names``
    (default ``"0" .. str(max id)``). ``image_size`` and ``channels``
    convert images as :func:`gantool.data.load_dataset` describes (not applicable to points),
    ``max_examples`` keeps the first examples. Raises :class:`UsageError` for bad arrays.
    """
    import tensorflow as tf

    from gantool.data.images import adapt_images, element_shape

    kind, data = _kind_and_array(name, images_or_points, image_size, channels)
    if labels is None and class_names is not None:
        raise UsageError(f"dataset {name!r}: class names are given without labels")
    if labels is not None:
        labels, class_names = _class_ids(name, labels, len(data), class_names)
        labels = labels[:max_examples]
    data = data[:max_examples]
    dataset = tf.data.Dataset.from_tensor_slices(data)
    if kind == "image":
        dataset = adapt_images(dataset, image_size, channels)
    return DataSource(
        name=name,
        kind=kind,
        shape=element_shape(dataset, name),
        num_examples=len(data),
        dataset=dataset,
        labels_available=labels is not None,
        class_names=class_names,
        labels=tf.data.Dataset.from_tensor_slices(labels) if labels is not None else None,
    )


def _kind_and_array(name, images_or_points, image_size, channels):
    """``("points", float32 (N, 2))`` for floating data, else ``("image", uint8 (N, H, W, C))``."""
    import numpy as np

    data = np.asarray(images_or_points)
    if data.dtype.kind != "f":
        return "image", image_array(name, data)
    if image_size is not None or channels is not None:
        raise UsageError(
            f"dataset {name!r} holds 2-D points; image size and channels do not apply to it"
        )
    return "points", point_array(name, data)
