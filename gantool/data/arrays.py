"""Images from numpy files: ``npz:PATH`` and ``npy:PATH``.

The array must be uint8 of shape (N, H, W) (grey; a channel axis is added) or (N, H, W, C)
with C in 1, 3, 4 (RGBA: the alpha channel is dropped). A ``.npz`` file is read at key
``x_train`` if present, else at its only key (``x_test`` etc. for other splits, as in
keras.datasets files); integer class ids under ``y_train`` (if present: exactly one per image,
in [0, 100000)) make the labels for conditional training. Files are read with
``allow_pickle=False``: arrays of Python objects are refused, never unpickled. The whole array
is held in memory; ``image_size`` / ``channels`` convert it like the tfds datasets.
"""

import zipfile
from pathlib import Path

import numpy as np

from gantool.data.source import from_arrays, image_array
from gantool.errors import GantoolError, UsageError, first_line

NPZ_KEY = "x_train"
_NPY_MAGIC = b"\x93NUMPY"
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)


def _kind_of_file(spec, path):
    """``"npz"`` (a zip archive) or ``"npy"`` from the file's first bytes; else UsageError."""
    with open(path, "rb") as file:
        head = file.read(len(_NPY_MAGIC))
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if zipfile.is_zipfile(path):
        return "npz"
    raise UsageError(f"dataset {spec!r}: cannot read {path}: it is neither a .npz (zip) nor a "
                     f".npy file")


def _why(e):
    """One short line saying why numpy could not read an array."""
    text = first_line(e)
    if "pickle" in text or "Object arrays" in text:
        return "it holds Python objects (pickled data is never loaded)"
    return text


def _member(spec, path, archive, key):
    """The array ``key`` of an open npz ``archive`` (checked: numeric, readable)."""
    try:
        value = archive[key]
        if not isinstance(value, np.ndarray):  # numpy hands back raw bytes of a non-.npy member
            raise ValueError("it is not a .npy array")
        return value
    except _READ_ERRORS as e:
        raise UsageError(f"dataset {spec!r}: cannot read {key} in {path}: {_why(e)}") from None
    except MemoryError:
        raise GantoolError(f"dataset {spec!r}: not enough memory to read {key} in {path}") from None


def _image_key(spec, path, keys, split):
    if split != "train":  # x_test, x_validation, ... (as keras.datasets files have)
        if f"x_{split}" not in keys:
            raise UsageError(f"dataset {spec!r} has no split {split!r} (no key x_{split}); "
                             f"choose one of: train")
        return f"x_{split}"
    if NPZ_KEY in keys or len(keys) == 1:
        return NPZ_KEY if NPZ_KEY in keys else keys[0]
    raise UsageError(
        f"dataset {spec!r}: {path} holds arrays {', '.join(keys) or '(none)'}; expected a key "
        f"{NPZ_KEY!r} or a single array"
    )


def _read_npz(spec, path, split="train"):
    """(images, labels or None) from an npz archive; labels from ``y_SPLIT`` if present."""
    try:
        archive = np.load(path, allow_pickle=False)
    except _READ_ERRORS as e:
        raise UsageError(f"dataset {spec!r}: cannot read {path} as .npz ({_why(e)})") from None
    with archive:
        keys = list(archive.keys())
        key = _image_key(spec, path, keys, split)
        images = _member(spec, path, archive, key)
        label_key = f"y_{split}"
        labels = _member(spec, path, archive, label_key) if label_key in keys else None
    return images, labels


def _read_npy(spec, path):
    """The array of a ``.npy`` file, memory-mapped first so that a header claiming more data
    than the file holds is refused before anything is allocated."""
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        return np.array(mapped)
    except _READ_ERRORS as e:
        raise UsageError(f"dataset {spec!r}: cannot read {path} as .npy ({_why(e)})") from None
    except MemoryError:
        raise GantoolError(f"dataset {spec!r}: not enough memory to read {path}") from None


def read_arrays(spec, path, split="train"):
    """Read and check an ``npz``/``npy`` file: (uint8 images (N, H, W, C), labels or None).

    The file's kind comes from its content (a ``.npy`` given as ``npz:`` is read, without
    labels); a ``.npy`` has only the train split.
    """
    path = Path(path).expanduser()
    kind = _kind_of_file(spec, path)
    if kind == "npy":
        if split != "train":
            raise UsageError(f"dataset {spec!r} has no split {split!r}; choose one of: train")
        return image_array(spec, _read_npy(spec, path)), None
    if spec.startswith("npy:"):
        raise UsageError(f"dataset {spec!r}: {path} is a .npz archive; give it as npz:{path}")
    images, labels = _read_npz(spec, path, split)
    return image_array(spec, images), labels


def load_arrays(spec, path, *, split="train", image_size=None, channels=None, max_examples=None):
    """A :class:`~gantool.data.source.DataSource` of the uint8 images in an ``npz:``/``npy:`` file.

    Labels (npz ``y_SPLIT``) must be one integer class id per image, named ``"0" .. str(max
    id)``; anything else is a :class:`UsageError` naming the file.
    """
    images, labels = read_arrays(spec, path, split)
    if labels is not None:
        labels = check_labels(spec, path, labels, len(images), split)
    return from_arrays(spec, images, labels, image_size=image_size, channels=channels,
                       max_examples=max_examples)


def check_labels(spec, path, labels, n, split="train"):
    """The class ids (n,) of a ``y_SPLIT`` array, checked: 1-D integers, one per image, >= 0."""
    where = f"dataset {spec!r}: y_{split} in {Path(path).name}"
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise UsageError(f"{where} has dtype {labels.dtype} and shape {labels.shape}; expected "
                         f"integer class ids ({n},), one per image")
    if len(labels) != n:
        raise UsageError(f"{where} holds {len(labels)} labels for {n} images; expected one per "
                         f"image")
    if labels.min() < 0:
        raise UsageError(f"{where} holds a negative class id ({labels.min()}); class ids are "
                         f"numbered from 0")
    return labels
