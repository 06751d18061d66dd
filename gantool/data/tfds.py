"""Image datasets from TensorFlow Datasets (tfds), downloaded on first use.

Only the ``image`` feature is used (uint8 (H, W, C)). ``celeb_a`` (218x178 aligned faces) is
cropped to its central CELEB_A_CROP x CELEB_A_CROP square, which keeps the face and drops most
of the background, and resized to ``image_size`` (default 64) with antialiasing.
"""

import contextlib

from gantool.data.source import DataSource
from gantool.errors import GantoolError, UsageError

# gantool name -> tfds name
TFDS_NAMES = {
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist",
    "svhn": "svhn_cropped",
    "cifar10": "cifar10",
    "celeb_a": "celeb_a",
}
CELEB_A_CROP = 140
CELEB_A_SIZE = 64


def _download_errors():
    """Exception types that mean "the data could not be fetched" (not a bug in our code)."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError
    from tensorflow_datasets.core.download.extractor import ExtractError

    # OSError covers ConnectionError, TimeoutError and requests' network errors.
    return (tfds.download.DownloadError, NonMatchingChecksumError, ExtractError, OSError)


def _is_network_error(exc):
    while exc is not None:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & {"ConnectionError", "NameResolutionError", "gaierror", "TimeoutError"}:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _short_reason(exc):
    """One short line saying why ``exc`` happened."""
    if _is_network_error(exc):
        return "no network connection"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > 100:
        text = text[:97] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# A host every tfds download path depends on; failing to resolve it means "offline".
PROBE_HOST = "storage.googleapis.com"


def _offline():
    """True if DNS cannot resolve PROBE_HOST (takes milliseconds either way)."""
    import socket

    try:
        socket.getaddrinfo(PROBE_HOST, 443)
    except OSError:
        return True
    return False


@contextlib.contextmanager
def _fail_fast_when_offline():
    """Offline, tfds's HTTP retries (10, exponential backoff) take ~3.5 minutes per download
    before failing; disable them so the user gets the error at once."""
    from tensorflow_datasets.core.download import downloader

    if not _offline():
        yield
        return
    saved = downloader.MAX_RETRIES
    downloader.MAX_RETRIES = 0
    try:
        yield
    finally:
        downloader.MAX_RETRIES = saved


def _prepare(name, builder):
    """Download and prepare ``builder`` (a no-op if already prepared); one-line error if not."""
    try:
        with _fail_fast_when_offline():
            builder.download_and_prepare()
    except _download_errors() as e:
        raise GantoolError(
            f"dataset {name!r} could not be downloaded ({_short_reason(e)}); use a local source "
            f"(folder:PATH with image files, or npz:PATH with a uint8 array), or --data-dir "
            f"pointing at a prepared tensorflow_datasets directory"
        ) from e


def _num_examples(name, builder, split):
    """Examples in ``split`` from the builder info; None if the info lists no splits (mocks)."""
    splits = builder.info.splits
    if not splits:
        return None
    try:
        return splits[split].num_examples
    except (KeyError, ValueError) as e:
        raise UsageError(
            f"dataset {name!r} has no split {split!r}; choose one of: {', '.join(splits)}"
        ) from e


def _class_names(builder):
    import tensorflow_datasets as tfds

    features = builder.info.features
    label = features["label"] if "label" in features.keys() else None
    if isinstance(label, tfds.features.ClassLabel):
        return list(label.names)
    return None


def load_tfds(name, *, split="train", data_dir=None, image_size=None, channels=None,
              max_examples=None, seed=0):
    """A :class:`~gantool.data.source.DataSource` of the tfds dataset ``name`` (uint8 images).

    ``seed`` is unused: tfds files are read in their stored order.
    """
    # Here, not at the top: importing this module (for TFDS_NAMES) stays free of TensorFlow.
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from gantool.data.images import adapt_images, element_shape

    builder = tfds.builder(TFDS_NAMES[name], data_dir=data_dir)
    _prepare(name, builder)
    num_examples = _num_examples(name, builder, split)
    examples = builder.as_dataset(split=split, shuffle_files=False, as_supervised=False)
    if num_examples is None:
        num_examples = int(examples.reduce(0, lambda count, _: count + 1))
    if max_examples is not None:
        examples = examples.take(max_examples)
        num_examples = min(num_examples, max_examples)
    images = examples.map(lambda example: example["image"])
    if name == "celeb_a":
        images = adapt_images(images, image_size or CELEB_A_SIZE, channels, crop=CELEB_A_CROP)
    else:
        images = adapt_images(images, image_size, channels)
    class_names = _class_names(builder)
    labels = None
    if class_names is not None:
        labels = examples.map(lambda example: tf.cast(example["label"], tf.int32))
    return DataSource(
        name=name,
        kind="image",
        shape=element_shape(images, name),
        num_examples=num_examples,
        dataset=images,
        labels_available=class_names is not None,
        class_names=class_names,
        labels=labels,
    )
