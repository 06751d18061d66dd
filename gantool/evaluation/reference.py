"""The real images a dataset split offers for comparison, and their Inception features (read
from the cache where they were computed before)."""

import warnings

import numpy as np

from gantool.data import load_dataset, split_spec
from gantool.errors import UsageError

from . import cache, extraction
from .report import short_name

# Local sources with a single split ("train"): every requested split reads it.
SINGLE_SPLIT_SOURCES = ("folder:", "npy:")


def dataset_images(source, limit=None):
    """All images of a DataSource as one uint8 (N, H, W, C) array (at most ``limit``)."""
    dataset = source.dataset if limit is None else source.dataset.take(limit)
    batches = list(dataset.batch(512).as_numpy_iterator())
    if not batches:
        return np.zeros((0, *source.shape), np.uint8)
    return np.concatenate(batches).astype(np.uint8, copy=False)


def load_reference(reference, split, n):
    """(uint8 images (N, H, W, C), actual split): the first ``n`` images of ``split``, or of
    "train" where the dataset has no such split (folder:/npy: sources only have "train")."""
    spec = reference.dataset
    options = dict(data_dir=reference.data_dir, image_size=reference.image_size,
                   channels=reference.channels, max_examples=n, seed=reference.seed)
    actual = "train" if split_spec(spec)[0] in SINGLE_SPLIT_SOURCES else split
    try:
        source = load_dataset(spec, split=actual, **options)
    except UsageError as e:
        # The tfds loader says "dataset 'x' has no split 'y'; choose one of: ...".
        if actual == "train" or "has no split" not in str(e):
            raise
        actual = "train"
        source = load_dataset(spec, split=actual, **options)
    if source.kind != "image":
        raise UsageError(f"dataset {spec!r} holds 2-D points, not images; FID/KID/PR need images")
    return dataset_images(source, n), actual


def real_features(reference, options, weights=None):
    """Inception features of up to ``options.n`` real images of ``reference`` (split
    ``options.real_split``), cached on disk unless ``options.use_cache`` is false.

    Returns (features float32 (n_real, 2048), info dict with real_dataset, real_split (the
    split used), requested_split, split_fallback (bool), n_real, real_shape [H, W, C],
    cache (path or None), cache_hit (bool)). ``weights``: resolved
    :class:`~gantool.evaluation.extraction.Weights`, else those of ``options``.
    """
    if weights is None:
        weights = extraction.resolve_options(options)
    spec, split = reference.dataset, options.real_split
    # single-split sources share one cache entry whatever split is asked for
    split_key = "train" if split_spec(spec)[0] in SINGLE_SPLIT_SOURCES else split
    fields = weights.cache_fields() if hasattr(weights, "cache_fields") else None
    key = cache.cache_key(reference, split_key, options.n, weights.sha256, fields)
    path = None
    if options.use_cache:
        path = cache.cache_path(options.cache_dir or cache.default_cache_dir(), key)
    cached = cache.read_cache(path, key) if path is not None else None
    if cached is not None:
        features, info = cached
        return features, {**info, "real_dataset": spec, "requested_split": split,
                          "split_fallback": info["real_split"] != split, "cache": str(path),
                          "cache_hit": True}
    images, actual = load_reference(reference, split, options.n)
    if len(images) == 0:
        raise UsageError(f"dataset {spec!r} split {actual!r} holds no images")
    features = extraction.extract_features(images, weights, options,
                                           f"real features ({short_name(spec)} {actual})")
    info = {"real_dataset": spec, "real_split": actual, "n_real": len(features),
            "real_shape": [int(d) for d in images.shape[1:]]}
    if path is not None and not _store(path, key, features, info):
        path = None
    return features, {**info, "requested_split": split, "split_fallback": actual != split,
                      "cache": str(path) if path else None, "cache_hit": False}


def _store(path, key, features, info):
    """Write a cache entry; warn and return False where the cache folder is not writable."""
    try:
        cache.write_cache(path, key, features, info)
    except OSError as e:
        warnings.warn(f"could not cache real features in {path.parent}: {e.strerror or e}",
                      RuntimeWarning, stacklevel=3)
        return False
    return True
