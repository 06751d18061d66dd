"""The real-feature cache: Inception features of real images are the same for every
evaluation against one reference, so they are kept on disk.

One ``.npz`` file per (dataset spec, data_dir, split, image size, channels, n, Inception
weights sha256, and for local sources the files' sizes and mtimes) under
``$GANTOOL_CACHE/real_stats`` (default ``~/.cache/gantool/real_stats``). It holds the whole
float32 feature matrix (n, 2048), 8 KB per image (80 MB for n = 10000): FID needs only mean
and covariance, but KID and precision/recall need the features themselves.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from gantool import rundir
from gantool.data import split_spec
from gantool.data.folder import find_images
from gantool.metrics.inception import FEATURE_DIM, cache_dir

STATS_DIR = "real_stats"
CACHE_FORMAT = 1


def default_cache_dir():
    """``$GANTOOL_CACHE/real_stats``, else ``$XDG_CACHE_HOME/gantool/real_stats``, else
    ``~/.cache/gantool/real_stats``."""
    return cache_dir() / STATS_DIR


def _local_fingerprint(prefix, path):
    """Sizes and mtimes of a local source's files, so edited data misses the cache."""
    root = Path(path).expanduser().resolve()
    files = find_images(root) if prefix == "folder:" else [root]
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return f"{len(files)}:{digest.hexdigest()[:16]}"


def cache_key(reference, split, n, weights_sha256, features=None):
    """The settings that determine the real features of ``reference`` (a
    :class:`~gantool.evaluation.options.Reference`), with local paths made absolute.
    ``features``: a classifier's fields (file sha256, layer, dim) for ``--features``."""
    prefix, path = split_spec(reference.dataset)
    data_dir = reference.data_dir
    key = {"format": CACHE_FORMAT, "dataset": reference.dataset, "split": split, "n": int(n),
           "data_dir": str(Path(data_dir).expanduser().resolve()) if data_dir else None,
           "image_size": reference.image_size, "channels": reference.channels,
           "weights_sha256": weights_sha256}
    if prefix is not None:
        key["dataset"] = prefix + str(Path(path).expanduser().resolve())
        key["files"] = _local_fingerprint(prefix, path)
    if features:
        key["features"] = features
    return key


def cache_path(root, key):
    """``ROOT/NAME-SPLIT-N-DIGEST.npz`` for a cache ``key``."""
    text = json.dumps(key, sort_keys=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_"
                   for c in Path(key["dataset"].split(":")[-1]).stem)[:40] or "data"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Path(root) / f"{name}-{key['split']}-{key['n']}-{digest}.npz"


def read_cache(path, key):
    """(features, info) from a cache file matching ``key``, else None (missing or damaged)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            features = data["features"]
    except (OSError, ValueError, KeyError):
        return None
    dim = key.get("features", {}).get("dim", FEATURE_DIM)
    if meta.get("key") != key or features.ndim != 2 or features.shape[1] != dim:
        return None
    return features.astype(np.float32, copy=False), meta["info"]


def write_cache(path, key, features, info):
    """Atomically write the features and their description (see :func:`rundir.atomic_path`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"key": key, "info": info})
    with rundir.atomic_path(path) as tmp:
        np.savez(tmp, features=features.astype(np.float32), meta=np.array(meta))
