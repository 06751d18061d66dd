"""Images from numpy files: ``npz:PATH`` and ``npy:PATH``.

The array must be uint8 of shape (N, H, W) (grey; a channel axis is added) or (N, H, W, C).
A ``.npz`` file is read at key ``x_train`` if present, else at its only key (``x_test`` etc.
for other splits, as in keras.datasets files); integer class
ids under ``y_train`` (if present) make the labels for conditional training. The whole array is
held in memory; ``image_size`` / ``channels`` convert it like the tfds datasets.
"""

from pathlib import Path

import numpy as np

from gantool.data.source import from_arrays, image_array
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
    return image_array(spec, images)


def load_arrays(spec, path, *, split="train", image_size=None, channels=None, max_examples=None):
    """A :class:`~gantool.data.source.DataSource` of the uint8 images in an ``npz:``/``npy:`` file.

    Labels come from :func:`read_labels` (npz only), named ``"0" .. str(max id)``.
    """
    kind = spec.partition(":")[0]
    images = read_images(spec, path, kind, split)[:max_examples]
    labels = read_labels(path, len(images), split) if kind == "npz" else None
    return from_arrays(spec, images, labels, image_size=image_size, channels=channels)


def read_labels(path, n, split="train"):
    """int32 class ids (n,) from the ``y_SPLIT`` array of an npz file; None where it has none.

    An array that cannot serve as labels (not 1-D integers, fewer than n, negative) gives None
    too, as does a ``.npy`` file given as ``npz:``.
    """
    archive = np.load(Path(path).expanduser(), allow_pickle=False)
    if isinstance(archive, np.ndarray):
        return None
    with archive:
        if f"y_{split}" not in archive.files:
            return None
        labels = archive[f"y_{split}"]
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) < n:
        return None
    labels = labels[:n]
    return None if labels.min() < 0 else labels.astype(np.int32)
