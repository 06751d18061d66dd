"""Inception features of uint8 images, with the weights they come from: the one place
evaluation calls the network (and the seam tests replace)."""

from typing import NamedTuple

from gantool.metrics import extract_features as _network_features
from gantool.metrics.inception import resolve_weights, weights_digest


class Weights(NamedTuple):
    """Usable Inception weights: their path and sha256 (recorded with every score)."""

    path: object
    sha256: str


def resolve(inception_weights):
    """The :class:`Weights` for ``--inception-weights`` (None: the cached or downloaded copy);
    raises WeightsUnavailable (exit code 1)."""
    path = resolve_weights(inception_weights)
    return Weights(path, weights_digest(path))


def resolve_options(options):
    """What ``options`` extracts features with: the classifier of ``options.features``
    (:class:`~gantool.evaluation.classifier.ClassifierFeatures`), else Inception
    :class:`Weights` (:func:`resolve`)."""
    if getattr(options, "features", None):
        from . import classifier

        return classifier.resolve(options.features)
    return resolve(options.inception_weights)


def extract_features(images, weights, options, desc):
    """uint8 (N, H, W, C) -> float32 (N, 2048) pool3 features, in ``options.batch_size``
    batches, with a progress bar labelled ``desc`` where ``options.progress``. Classifier
    ``weights`` (``--features``) give their own features (N, D) instead."""
    if hasattr(weights, "extract"):
        return weights.extract(images, options, desc)
    return _network_features(images, weights_path=weights.path, batch_size=options.batch_size,
                             progress=options.progress, desc=desc)
