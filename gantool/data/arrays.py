"""Images from numpy files: ``npz:PATH`` and ``npy:PATH``.

The array must be uint8 of shape (N, H, W) (grey; a channel axis is added) or (N, H, W, C).
A ``.npz`` file is read at key ``x_train`` if present, else at its only key (``x_test`` etc.
for other splits, as in keras.datasets files); integer class
ids under ``y_train`` (if present) make the labels for conditional training. The whole array is
held in memory; ``image_size`` / ``channels`` convert it like the tfds datasets.
"""

from pathlib import Path

import numpy as np

from gantool.errors import UsageError

NPZ_KEY = "x_train"


def _read_npz(spec, path, split="train"):
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"dataset {spec!r}: cannot read {path} as .npz ({e})") from None
    if isinstance(archive, np.ndarray):  # a .npy file given as npz: is fine
        return archive
    with archive:
        keys = list(archive.keys())
        if split != "train":  # x_test, x_validation, ... (as keras.datasets files have)
            if f"x_{split}" not in keys:
                raise UsageError(f"dataset {spec!r} has no split {split!r} (no key x_{split}); "
                                 f"choose one of: train")
            return archive[f"x_{split}"]
        if NPZ_KEY in keys or len(keys) == 1:
            try:
                return archive[NPZ_KEY if NPZ_KEY in keys else keys[0]]
            except (OSError, ValueError) as e:
                raise UsageError(f"dataset {spec!r}: cannot read {path} ({e})") from None
    raise UsageError(
        f"dataset {spec!r}: {path} holds arrays {', '.join(keys) or '(none)'}; expected a key "
        f"{NPZ_KEY!r} or a single array"
    )


def _read_npy(spec, path):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"dataset {spec!r}: cannot read {path} as .npy ({e})") from None


def read_images(spec, path, kind, split="train"):
    """Read and check the image array of an ``npz`` or ``npy`` file: uint8 (N, H, W, C)."""
    if kind == "npy" and split != "train":
        raise UsageError(f"dataset {spec!r} has no split {split!r}; choose one of: train")
    images = _read_npz(spec, path, split) if kind == "npz" else _read_npy(spec, path)
    if images.dtype != np.uint8:
        raise UsageError(
            f"dataset {spec!r}: the array has dtype {images.dtype}; uint8 images (0..255) are "
            f"expected"
        )
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or len(images) == 0:
        raise UsageError(
            f"dataset {spec!r}: the array has shape {images.shape}; expected (N, H, W) or "
            f"(N, H, W, C) images with N >= 1"
        )
    return images


def load_arrays(spec, path, *, split="train", image_size=None, channels=None, max_examples=None):
    """A :class:`~gantool.data.DataSource` of the uint8 images in an ``npz:``/``npy:`` file."""
    import tensorflow as tf

    from gantool.data import DataSource
    from gantool.data.pipeline import adapt_images, element_shape

    kind = spec.partition(":")[0]
    images = read_images(spec, path, kind, split)
    if max_examples is not None:
        images = images[:max_examples]
    dataset = adapt_images(tf.data.Dataset.from_tensor_slices(images), image_size, channels)
    labels = read_labels(path, len(images), split) if kind == "npz" else None
    return DataSource(
        name=spec,
        kind="image",
        shape=element_shape(dataset, spec),
        num_examples=len(images),
        dataset=dataset,
        labels_available=labels is not None,
        class_names=[str(i) for i in range(int(labels.max()) + 1)] if labels is not None else None,
        labels=tf.data.Dataset.from_tensor_slices(labels) if labels is not None else None,
    )


def read_labels(path, n, split="train"):
    """Integer class ids (n,) from the ``y_SPLIT`` array of an npz file, if it has one."""
    with np.load(Path(path).expanduser()) as arrays:
        if f"y_{split}" not in arrays.files:
            return None
        labels = arrays[f"y_{split}"]
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) < n:
        return None
    return labels[:n].astype(np.int32)
