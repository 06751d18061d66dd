"""``gantool eval --features PATH.keras[:LAYER]``: scores in the feature space of your own
Keras classifier instead of FID Inception's.

:func:`resolve` turns the option into :class:`ClassifierFeatures`, which takes the place of the
Inception :class:`~gantool.evaluation.extraction.Weights` everywhere evaluation passes them:
:func:`~gantool.evaluation.extraction.extract_features` calls its :meth:`extract`, and the
real-feature cache key gets :meth:`cache_fields` (the classifier file's sha256, the layer and
the feature dimension), so a changed file or another layer misses the cache.

Scores are stored under names that say their feature space (:data:`SCORE_NAMES`:
``fd_classifier``, ``kid_classifier_mean``, ...), never ``fid``: Inception FID stays the
reported standard, and an ``eval.json`` reader cannot mistake one for the other. The result's
``features`` field describes the classifier, and the table starts with a ``features:`` line.
"""

from pathlib import Path

from gantool.errors import UsageError
from gantool.metrics import classifier as network
from gantool.metrics.inception import weights_digest
from gantool.metrics.inception.weights import file_key

# Inception score names -> the names of the same scores on classifier features.
SCORE_NAMES = {"fid": "fd_classifier", "kid_mean": "kid_classifier_mean",
               "kid_std": "kid_classifier_std", "precision": "precision_classifier",
               "recall": "recall_classifier"}
MODEL_SUFFIXES = (".keras", ".h5")
_MODELS = {}  # (file key, layer) -> (feature model, layer, input size): one load per process


def parse_spec(spec):
    """``PATH.keras[:LAYER]`` -> (Path, layer or None). A path that exists as given wins
    over a ``:LAYER`` split (file names may hold colons)."""
    text = str(spec)
    if Path(text).expanduser().is_file() or ":" not in text:
        return Path(text).expanduser(), None
    path, _, layer = text.rpartition(":")
    if not path.lower().endswith(MODEL_SUFFIXES) or not layer:
        return Path(text).expanduser(), None
    return Path(path).expanduser(), layer


class ClassifierFeatures:
    """A loaded classifier's feature layer: what extraction, the cache and results need.

    path, sha256 (of the file), layer (name), dim (features per image), size (the input
    height, width, channels)."""

    def __init__(self, path, sha256, model, layer, size, dim):
        self.path, self.sha256, self.model, self.layer = Path(path), sha256, model, layer
        self.size, self.dim = size, dim

    def extract(self, images, options, desc):
        """uint8 (N, H, W, C) -> float32 (N, dim), ``options.batch_size`` at a time."""
        return network.classifier_features(images, self.model, self.size,
                                           batch_size=options.batch_size,
                                           progress=options.progress, desc=desc)

    def cache_fields(self):
        """What the real features depend on besides the data: goes into the cache key."""
        return {"kind": "classifier", "sha256": self.sha256, "layer": self.layer,
                "dim": self.dim, "range": "0..1"}

    def describe(self):
        """The result's ``features`` field."""
        return {"kind": "classifier", "path": str(self.path), "sha256": self.sha256,
                "layer": self.layer, "dim": self.dim, "input": list(self.size),
                "input_range": [0.0, 1.0]}


def resolve(spec):
    """:class:`ClassifierFeatures` for ``--features PATH.keras[:LAYER]``; one-line
    UsageError (exit 2) for a missing file, an unreadable model or an unknown layer."""
    path, layer = parse_spec(spec)
    if not path.is_file():
        raise UsageError(f"--features {spec}: no such file; give a Keras classifier saved as "
                         "PATH.keras, optionally with :LAYER (default: the penultimate layer)")
    key = (file_key(path), layer)
    if key not in _MODELS:
        model = network.load_classifier(path)
        features, name = network.feature_model(model, layer, what=f"--features {spec}")
        size = network.input_size(model)
        dim = 1
        for d in features.outputs[0].shape[1:]:
            dim *= int(d)
        _MODELS.clear()  # keep one classifier in memory
        _MODELS[key] = (features, name, size, dim)
    model, name, size, dim = _MODELS[key]
    return ClassifierFeatures(path, weights_digest(path), model, name, size, dim)


def rename_scores(scores):
    """Inception-named scores -> their classifier names (:data:`SCORE_NAMES`)."""
    return {SCORE_NAMES.get(k, k): v for k, v in scores.items()}


def table_rows(result):
    """(name, value) rows of a classifier result, each name saying its feature space."""
    rows = []
    if "fd_classifier" in result:
        rows.append(("FD (classifier)", f"{result['fd_classifier']:.3f}"))
    if "kid_classifier_mean" in result:
        rows.append(("KID (classifier)", f"{result['kid_classifier_mean']:.5f} ± "
                     f"{result['kid_classifier_std']:.5f}"))
    if "precision_classifier" in result:
        rows.append(("precision (classifier)", f"{result['precision_classifier']:.3f}"))
        rows.append(("recall (classifier)", f"{result['recall_classifier']:.3f}"))
    return rows


def header_line(result):
    """``features: classifier mnist.keras, layer 'features' (128-d), input 28x28x1 in [0, 1]
    -- not Inception FID``; None for Inception results."""
    info = result.get("features")
    if not info:
        return None
    height, width, channels = info["input"]
    return (f"features: classifier {Path(info['path']).name}, layer {info['layer']!r} "
            f"({info['dim']}-d), input {height}x{width}x{channels} in [0, 1] "
            "-- not Inception FID")
