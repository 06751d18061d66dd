"""Training data: named datasets, local image sources, and the input pipeline.

A dataset *spec* is either a registered name (``mnist``, ``cifar10``, ``ring``, ...; see
:data:`DATASETS`) or a local source ``folder:PATH``, ``npz:PATH`` or ``npy:PATH``.
:func:`load_dataset` turns a spec into a :class:`DataSource`: an unbatched, deterministically
ordered ``tf.data.Dataset`` of uint8 (H, W, C) images or float32 (2,) points, plus its shape and
size. :mod:`gantool.data.pipeline` makes shuffled, batched training input from a source.

Importing this package does not import TensorFlow: the loaders are registered lazily, so the
CLI can list and validate dataset names cheaply.
"""

from dataclasses import dataclass
from pathlib import Path

from gantool.errors import UsageError
from gantool.registry import Registry

DATASETS = Registry("dataset")
# Every loader is called as ``loader(name, *, split, data_dir, image_size, channels,
# max_examples, seed)`` and returns a DataSource.
for _name in ("mnist", "fashion_mnist", "svhn", "cifar10", "celeb_a"):
    DATASETS.register(_name, "gantool.data.tfds:load_tfds")
for _name in ("sine", "gaussian", "ring", "grid"):
    DATASETS.register(_name, "gantool.data.toy:load_toy")
del _name

_DESCRIPTIONS = {
    "mnist": "28x28 grey handwritten digits (tfds mnist, 60k train)",
    "fashion_mnist": "28x28 grey clothing images (tfds fashion_mnist, 60k train)",
    "svhn": "32x32 RGB house-number digits (tfds svhn_cropped, 73k train)",
    "cifar10": "32x32 RGB objects in 10 classes (tfds cifar10, 50k train)",
    "celeb_a": "RGB faces, centre-cropped, 64x64 by default (tfds celeb_a, 163k train)",
    "sine": "2-D toy: points (x, sin x), x uniform in [0, 2*pi]",
    "gaussian": "2-D toy: one correlated Gaussian, z @ [[1, 2], [-0.1, 0.5]] + [1, 2]",
    "ring": "2-D toy: 8 Gaussians (std 0.02) on a circle of radius 2",
    "grid": "2-D toy: 25 Gaussians (std 0.05) on a 5x5 grid with spacing 2",
}

SOURCE_PREFIXES = ("folder:", "npz:", "npy:")

_SOURCE_DESCRIPTIONS = {
    "folder:": "every image file under PATH (png, jpg, jpeg, bmp, gif, webp), resized to 64x64",
    "npz:": "uint8 images (N, H, W[, C]) in a .npz file, under key x_train or its only array",
    "npy:": "uint8 images (N, H, W[, C]) in a .npy file",
}


@dataclass
class DataSource:
    """A loaded dataset, ready for :func:`gantool.data.pipeline.training_dataset`.

    ``dataset`` is unbatched and in a deterministic order; its elements are uint8 (H, W, C)
    images (``kind == "image"``) or float32 (2,) points (``kind == "points"``). ``shape`` is the
    element shape and ``num_examples`` the number of elements (after ``max_examples``).
    ``class_names`` (sorted) and ``labels`` (a dataset of int32 class ids in [0, num_classes),
    aligned with ``dataset``) are set where ``labels_available``.
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


def dataset_names():
    """The registered dataset names, in registration order."""
    return DATASETS.names()


def describe_datasets():
    """One line per dataset name and per local source prefix, for ``--help`` and the README."""
    rows = [(name, _DESCRIPTIONS.get(name, "")) for name in DATASETS]
    rows += [(prefix + "PATH", _SOURCE_DESCRIPTIONS[prefix]) for prefix in SOURCE_PREFIXES]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {text}".rstrip() for label, text in rows)


def _accepted():
    return f"{', '.join(DATASETS.names())}, or {', '.join(p + 'PATH' for p in SOURCE_PREFIXES)}"


def split_spec(spec):
    """``"npz:a/b.npz"`` -> ``("npz:", "a/b.npz")``; a registered name -> ``(None, name)``."""
    for prefix in SOURCE_PREFIXES:
        if spec.startswith(prefix):
            return prefix, spec[len(prefix) :]
    return None, spec


def validate_dataset_spec(spec):
    """Check ``spec`` without importing TensorFlow; raise :class:`UsageError` if it is bad.

    Accepted: a registered name, ``folder:PATH`` with an existing directory, or ``npz:PATH`` /
    ``npy:PATH`` with an existing file.
    """
    if not isinstance(spec, str) or not spec:
        raise UsageError(f"dataset {spec!r} is not a dataset; choose one of: {_accepted()}")
    prefix, path = split_spec(spec)
    if prefix is None:
        if spec not in DATASETS:
            raise UsageError(f"unknown dataset {spec!r}; choose one of: {_accepted()}")
        return
    if not path:
        raise UsageError(f"dataset {spec!r} names no path; write it as {prefix}PATH")
    path = Path(path).expanduser()
    if not path.exists():
        raise UsageError(f"dataset {spec!r}: {path} does not exist")
    if prefix == "folder:" and not path.is_dir():
        raise UsageError(f"dataset {spec!r}: {path} is not a directory")
    if prefix != "folder:" and not path.is_file():
        raise UsageError(f"dataset {spec!r}: {path} is not a file")


def _check_options(image_size, channels, max_examples):
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise UsageError(f"image size {image_size!r} must be a positive integer")
    if channels is not None and channels not in (1, 3):
        raise UsageError(f"channels {channels!r} must be 1 (grey) or 3 (RGB)")
    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise UsageError(f"max examples {max_examples!r} must be a positive integer")


def load_dataset(
    spec,
    *,
    split="train",
    data_dir=None,
    image_size=None,
    channels=None,
    max_examples=None,
    seed=0,
):
    """Load the dataset ``spec`` (a registered name or ``folder:``/``npz:``/``npy:`` source).

    ``image_size`` resizes images to a square of that side (centre-cropping non-square ones),
    ``channels`` (1 or 3) converts RGB <-> grey, ``max_examples`` keeps the first examples only,
    ``seed`` drives the toy generators and ``split``/``data_dir`` are passed to tfds.
    Returns a :class:`DataSource`; raises :class:`UsageError` for bad input and
    :class:`~gantool.errors.GantoolError` when a dataset cannot be downloaded.
    """
    validate_dataset_spec(spec)
    _check_options(image_size, channels, max_examples)
    options = dict(image_size=image_size, channels=channels, max_examples=max_examples)
    prefix, path = split_spec(spec)
    if prefix == "folder:":
        from gantool.data.folder import load_folder

        return load_folder(spec, path, **options)
    if prefix in ("npz:", "npy:"):
        from gantool.data.arrays import load_arrays

        return load_arrays(spec, path, split=split, **options)
    loader = DATASETS.get(spec)
    return loader(spec, split=split, data_dir=data_dir, seed=seed, **options)
