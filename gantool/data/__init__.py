"""Training data: named datasets, local image sources, and the input pipeline.

A dataset *spec* is either a registered name (``mnist``, ``cifar10``, ``ring``, ...; see
:data:`DATASETS`) or a local source ``folder:PATH``, ``npz:PATH`` or ``npy:PATH``.
:func:`load_dataset` turns a spec into a :class:`~gantool.data.source.DataSource`: an
unbatched, deterministically ordered ``tf.data.Dataset`` of uint8 (H, W, C) images in [0, 255]
or float32 (2,) points, plus its shape and size. :mod:`gantool.data.pipeline` makes shuffled,
batched training input from a source; :mod:`gantool.data.images` holds the loaders' image
conversions; the loaders are :mod:`~gantool.data.tfds`, :mod:`~gantool.data.toy`,
:mod:`~gantool.data.folder` and :mod:`~gantool.data.arrays`.

A new dataset takes one call, ``DATASETS.register(name, loader)``: ``loader`` is a function (or a
lazy ``"module:attr"`` string) called as ``loader(name, *, split, data_dir, image_size,
channels, max_examples, seed)`` that returns a DataSource, e.g. made with
:func:`~gantool.data.source.from_arrays`. Its one-line description for ``--help`` is
``register(..., description=TEXT)``, else the loader's ``description`` attribute, else the first
line of its docstring (read when it is registered; a lazy string gives none), else empty.

Importing this package imports neither TensorFlow nor numpy: the built-in loaders are
registered lazily, so the CLI can list and validate dataset names cheaply.
"""

from pathlib import Path

from gantool.data.source import DataSource, from_arrays  # noqa: F401 - re-exported
from gantool.errors import UsageError
from gantool.registry import Registry


class DatasetRegistry(Registry):
    """The :class:`~gantool.registry.Registry` of dataset loaders, with a description per name."""

    def __init__(self):
        super().__init__("dataset")
        self._descriptions = {}

    def register(self, name, loader=None, *, description=None):
        """Add ``loader`` (a function or a lazy ``"module:attr"`` string) under ``name``.

        Used as ``@DATASETS.register(name)`` without ``loader``, it registers the decorated
        function. Returns the loader.
        """
        if loader is None:
            return lambda fn: self.register(name, fn, description=description)
        super().register(name, loader)
        if description is None and not isinstance(loader, str):
            description = getattr(loader, "description", None) or _first_line(loader)
        self._descriptions[name] = description or ""
        return loader

    def unregister(self, name):
        super().unregister(name)
        self._descriptions.pop(name, None)

    def description(self, name):
        """The one-line description of ``name`` ("" if it has none)."""
        return self._descriptions.get(name, "")


def _first_line(loader):
    """The first line of ``loader``'s own docstring ("" if none; not a functools.partial's)."""
    doc = loader.__doc__ if loader.__doc__ is not type(loader).__doc__ else None
    return (doc or "").strip().partition("\n")[0].strip()


DATASETS = DatasetRegistry()
_TFDS, _TOY = "gantool.data.tfds:load_tfds", "gantool.data.toy:load_toy"
for _name, _loader, _description in (
    ("mnist", _TFDS, "28x28 grey handwritten digits (tfds mnist, 60k train)"),
    ("fashion_mnist", _TFDS, "28x28 grey clothing images (tfds fashion_mnist, 60k train)"),
    ("svhn", _TFDS, "32x32 RGB house-number digits (tfds svhn_cropped, 73k train)"),
    ("cifar10", _TFDS, "32x32 RGB objects in 10 classes (tfds cifar10, 50k train)"),
    ("celeb_a", _TFDS, "RGB faces, centre-cropped, 64x64 by default (tfds celeb_a, 163k train)"),
    ("sine", _TOY, "2-D toy: points (x, sin x), x uniform in [0, 2*pi]"),
    ("gaussian", _TOY, "2-D toy: one correlated Gaussian, z @ [[1, 2], [-0.1, 0.5]] + [1, 2]"),
    ("ring", _TOY, "2-D toy: 8 Gaussians (std 0.02) on a circle of radius 2"),
    ("grid", _TOY, "2-D toy: 25 Gaussians (std 0.05) on a 5x5 grid with spacing 2"),
):
    DATASETS.register(_name, _loader, description=_description)
del _name, _loader, _description
DATASETS.register("shapes", "gantool.data.shapes:load_shapes", description="32x32 RGB discs, squares and triangles on plain backgrounds, 3 classes (drawn from --seed, 10k train; no download)")  # noqa: E501

SOURCE_PREFIXES = ("folder:", "npz:", "npy:")

_SOURCE_DESCRIPTIONS = {
    "folder:": "every image file under PATH (png, jpg, jpeg, bmp, gif, webp), resized to 64x64",
    "npz:": "uint8 images (N, H, W[, C]) in a .npz file, under key x_train or its only array",
    "npy:": "uint8 images (N, H, W[, C]) in a .npy file",
}


def dataset_names():
    """The registered dataset names, in registration order."""
    return DATASETS.names()


def describe_datasets():
    """One line per dataset name and per local source prefix, for ``--help`` and the README."""
    rows = [(name, DATASETS.description(name)) for name in DATASETS]
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
    skip_bad_images=False,
):
    """Load the dataset ``spec`` (a registered name or ``folder:``/``npz:``/``npy:`` source).

    ``image_size`` resizes images to a square of that side (centre-cropping non-square ones),
    ``channels`` (1 or 3) converts RGB <-> grey, ``max_examples`` keeps the first examples only,
    ``seed`` drives the toy generators and ``split``/``data_dir`` are passed to tfds.
    ``skip_bad_images`` (``folder:`` only) uses the images that decode, with a warning, instead
    of refusing a folder with unreadable files. The data is checked here, before any model is
    built: dtype, shape, channels (1, 3 or 4, alpha dropped), finite points, class ids.
    Returns a :class:`~gantool.data.source.DataSource`; raises :class:`UsageError` for bad input and
    :class:`~gantool.errors.GantoolError` when a dataset cannot be downloaded.
    """
    validate_dataset_spec(spec)
    _check_options(image_size, channels, max_examples)
    options = dict(image_size=image_size, channels=channels, max_examples=max_examples)
    prefix, path = split_spec(spec)
    # Imported here, as the registry imports the other loaders when used: they import numpy.
    if prefix == "folder:":
        from gantool.data.folder import load_folder

        return load_folder(spec, path, skip_bad_images=skip_bad_images, **options)
    if prefix in ("npz:", "npy:"):
        from gantool.data.arrays import load_arrays

        return load_arrays(spec, path, split=split, **options)
    loader = DATASETS.get(spec)
    return loader(spec, split=split, data_dir=data_dir, seed=seed, **options)
