"""``gantool eval``: score a run (or any samples) with FID, KID, precision/recall or mode metrics.

Image runs are scored on the pool3 features (2048-d) of the FID Inception network
(:mod:`gantool.metrics`), generated images against real images of the run's dataset;
2-D runs on ``ring`` / ``grid`` get the mode metrics of :mod:`gantool.metrics.toy`.

Real-data features are cached, because they are the same for every evaluation against one
reference: one ``.npz`` file per (dataset spec, data_dir, split, image size, channels, n,
Inception weights sha256, and for local sources the files' sizes and mtimes) under
``$GANTOOL_CACHE/real_stats`` (default ``~/.cache/gantool/real_stats``). It holds the whole
float32 feature matrix (n, 2048), 8 KB per image (80 MB for n = 10000): FID needs only
mean and covariance, but KID and precision/recall need the features themselves.

TensorFlow is imported only inside the functions that need it (the CLI imports this module).
``EvalCallback`` (a ``keras.callbacks.Callback``) is built on first access for that reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from gantool.errors import UsageError

EVAL_NAME = "eval.json"
STATS_DIR = "real_stats"
IMAGE_METRICS = ("fid", "kid", "pr")
TOY_METRICS = ("modes",)
ACCEPTED_METRICS = IMAGE_METRICS + TOY_METRICS + ("auto",)
TOY_DATASETS = ("ring", "grid")
# Fewest samples per set each metric can use (precision/recall: k = 3 neighbours + self).
MIN_SAMPLES = {"fid": 2, "kid": 2, "pr": 4, "modes": 1}
PR_NEIGHBOURS = 3
FEATURE_DIM = 2048
# Scores in the order format_table prints them.
SCORE_KEYS = ("fid", "kid_mean", "precision", "recall", "modes_covered", "high_quality_pct",
              "reverse_kl")
DEFAULT_EVAL_N = {"image": 500, "points": 2500}
_CACHE_FORMAT = 1
_DIGESTS: dict = {}


# --------------------------------------------------------------------------- metric names


def parse_metrics(metrics, data_kind, dataset):
    """Metric names -> a tuple in canonical order, checked against the kind of data.

    metrics: "fid,kid,pr"-style string or iterable of names from :data:`ACCEPTED_METRICS`
    ("auto": fid, kid, pr for images, modes for ring/grid). data_kind: "image" or "points".
    Raises UsageError naming the bad value and the accepted ones.
    """
    if metrics is None:
        metrics = "auto"
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [str(m).strip().lower() for m in names if str(m).strip()]
    if not names:
        raise UsageError(f"no metric given; choose from: {', '.join(ACCEPTED_METRICS)}")
    for name in names:
        if name not in ACCEPTED_METRICS:
            raise UsageError(f"unknown metric {name!r}; accepted: {', '.join(ACCEPTED_METRICS)}")
    if data_kind == "points":
        if dataset not in TOY_DATASETS:
            raise UsageError(
                f"no metric is defined for the 2-D dataset {dataset!r}: 'modes' (modes covered, "
                f"high-quality %, reverse KL) needs {' or '.join(TOY_DATASETS)}, and "
                f"{', '.join(IMAGE_METRICS)} need images")
        wrong = [m for m in names if m in IMAGE_METRICS]
        if wrong:
            raise UsageError(f"metric {wrong[0]!r} needs images; the 2-D dataset {dataset!r} "
                             f"accepts: modes (or auto)")
        return TOY_METRICS
    wrong = [m for m in names if m in TOY_METRICS]
    if wrong:
        raise UsageError(f"metric {wrong[0]!r} applies to 2-D {'/'.join(TOY_DATASETS)} runs; "
                         f"for images choose from: {', '.join(IMAGE_METRICS)} (or auto)")
    if "auto" in names:
        return IMAGE_METRICS
    return tuple(m for m in IMAGE_METRICS if m in names)


def _check_n(n, metrics, what="--n"):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UsageError(f"{what} must be a whole number >= 1, got {n!r}")
    need = max(MIN_SAMPLES[m] for m in metrics)
    if n < need:
        worst = max(metrics, key=MIN_SAMPLES.get)
        raise UsageError(f"{what} {n} is too small for {worst}: it needs at least {need} "
                         "samples per set")


def _check_count(count, metrics, what):
    need = max(MIN_SAMPLES[m] for m in metrics)
    if count < need:
        worst = max(metrics, key=MIN_SAMPLES.get)
        raise UsageError(f"{what} has only {count} images; {worst} needs at least {need}")


# --------------------------------------------------------------------------- feature helpers


def _extract_features(images, weights_path, batch_size, progress, desc):
    """uint8 (N, H, W, C) -> float32 (N, 2048) Inception pool3 features (one seam for tests)."""
    from gantool.metrics import extract_features

    return extract_features(images, weights_path=weights_path, batch_size=batch_size,
                            progress=progress, desc=desc)


def weights_digest(path):
    """sha256 hex of a weights file, memoised per (path, mtime, size) for this process."""
    from gantool.metrics.inception import file_sha256

    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(path)
    return _DIGESTS[key]


def _resolve_weights(inception_weights):
    """(path, sha256) of usable Inception weights; raises WeightsUnavailable (exit code 1)."""
    from gantool.metrics import resolve_weights

    path = resolve_weights(inception_weights)
    return path, weights_digest(path)


def _dataset_images(source, limit=None):
    """All images of a DataSource as one uint8 (N, H, W, C) array (at most ``limit``)."""
    dataset = source.dataset if limit is None else source.dataset.take(limit)
    batches = list(dataset.batch(512).as_numpy_iterator())
    if not batches:
        return np.zeros((0, *source.shape), np.uint8)
    return np.concatenate(batches).astype(np.uint8, copy=False)


def generate_images(generator, n, latent_dim, latent_dist="normal", seed=0, chunk=500):
    """``n`` generator samples as uint8 (n, H, W, C), generated ``chunk`` at a time."""
    from gantool.sampling import draw_latents, generate, to_uint8

    latents = draw_latents(n, latent_dim, latent_dist, seed)
    return np.concatenate([to_uint8(generate(generator, latents[i:i + chunk], batch_size=chunk))
                           for i in range(0, n, chunk)])


def generate_points(generator, n, latent_dim, latent_dist="normal", seed=0):
    """``n`` generator samples as float32 (n, 2) points."""
    from gantool.sampling import draw_latents, generate

    latents = draw_latents(n, latent_dim, latent_dist, seed)
    return generate(generator, latents).astype(np.float32)


# --------------------------------------------------------------------------- real-data cache


def default_cache_dir():
    """``$GANTOOL_CACHE/real_stats``, else ``$XDG_CACHE_HOME/gantool/real_stats``, else
    ``~/.cache/gantool/real_stats``."""
    from gantool.metrics.inception import cache_dir

    return cache_dir() / STATS_DIR


def _local_fingerprint(prefix, path):
    """Sizes and mtimes of a local source's files, so edited data misses the cache."""
    root = Path(path).expanduser().resolve()
    if prefix == "folder:":
        from gantool.data.folder import find_images

        files = find_images(root)
    else:
        files = [root]
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return f"{len(files)}:{digest.hexdigest()[:16]}"


def _cache_key(spec, split, n, data_dir, image_size, channels, weights_sha256):
    """The settings that determine the real features, with local paths made absolute."""
    from gantool.data import split_spec

    prefix, path = split_spec(spec)
    key = {"format": _CACHE_FORMAT, "dataset": spec, "split": split, "n": int(n),
           "data_dir": str(Path(data_dir).expanduser().resolve()) if data_dir else None,
           "image_size": image_size, "channels": channels, "weights_sha256": weights_sha256}
    if prefix is not None:
        key["dataset"] = prefix + str(Path(path).expanduser().resolve())
        key["files"] = _local_fingerprint(prefix, path)
    return key


def _cache_path(root, key):
    text = json.dumps(key, sort_keys=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_"
                   for c in Path(key["dataset"].split(":")[-1]).stem)[:40] or "data"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Path(root) / f"{name}-{key['split']}-{key['n']}-{digest}.npz"


def _read_cache(path, key):
    """(features, info) from a cache file matching ``key``, else None (missing or damaged)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            features = data["features"]
    except (OSError, ValueError, KeyError):
        return None
    if meta.get("key") != key or features.ndim != 2 or features.shape[1] != FEATURE_DIM:
        return None
    return features.astype(np.float32, copy=False), meta["info"]


def _write_cache(path, key, features, info):
    """Atomically write the features and their description (tmp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"key": key, "info": info})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, features=features.astype(np.float32), meta=np.array(meta))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_reference(spec, split, n, data_dir, image_size, channels, seed):
    """(uint8 images (N, H, W, C), actual split): the first ``n`` images of ``split``, or of
    "train" where the dataset has no such split (folder:/npy: sources only have "train")."""
    from gantool.data import load_dataset, split_spec

    options = dict(data_dir=data_dir, image_size=image_size, channels=channels,
                   max_examples=n, seed=seed)
    actual = "train" if split_spec(spec)[0] in ("folder:", "npy:") else split
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
    return _dataset_images(source, n), actual


def real_features(spec, *, split="test", n=10000, data_dir=None, image_size=None, channels=None,
                  weights_path=None, batch_size=50, progress=True, cache_dir=None,
                  use_cache=True, seed=0):
    """Inception features of up to ``n`` real images of dataset ``spec``, cached on disk.

    Returns (features float32 (n_real, 2048), info dict with real_dataset, real_split (the
    split used), requested_split, split_fallback (bool), n_real, real_shape [H, W, C],
    cache (path or None), cache_hit (bool)). ``weights_path`` None: ``resolve_weights()``.
    """
    from gantool.data import split_spec

    weights, sha = _resolve_weights(weights_path)
    if split_spec(spec)[0] in ("folder:", "npy:"):
        split_key = "train"  # these sources have one split; share the cache entry
    else:
        split_key = split
    key = _cache_key(spec, split_key, n, data_dir, image_size, channels, sha)
    path = _cache_path(cache_dir or default_cache_dir(), key) if use_cache else None
    cached = _read_cache(path, key) if path is not None else None
    if cached is not None:
        features, info = cached
        return features, {**info, "real_dataset": spec, "requested_split": split,
                          "split_fallback": info["real_split"] != split, "cache": str(path),
                          "cache_hit": True}
    images, actual = _load_reference(spec, split, n, data_dir, image_size, channels, seed)
    if len(images) == 0:
        raise UsageError(f"dataset {spec!r} split {actual!r} holds no images")
    features = _extract_features(images, weights, batch_size, progress,
                                 desc=f"real features ({_short_name(spec)} {actual})")
    info = {"real_dataset": spec, "real_split": actual, "n_real": len(features),
            "real_shape": [int(d) for d in images.shape[1:]]}
    if path is not None:
        try:
            _write_cache(path, key, features, info)
        except OSError as e:
            warnings.warn(f"could not cache real features in {path.parent}: {e.strerror or e}",
                          RuntimeWarning, stacklevel=2)
            path = None
    return features, {**info, "requested_split": split, "split_fallback": actual != split,
                      "cache": str(path) if path else None, "cache_hit": False}


# --------------------------------------------------------------------------- scoring


def score_features(real, fake, metrics, seed=0):
    """Scores of fake (N_f, 2048) against real (N_r, 2048) features -> dict of floats:
    fid (>= 0), kid_mean / kid_std (KID ~ 0 when equal, may be slightly negative),
    precision / recall (in [0, 1]); only those of ``metrics``."""
    from gantool.metrics import fid_from_features, kernel_inception_distance, precision_recall

    scores = {}
    if "fid" in metrics:
        scores["fid"] = fid_from_features(real, fake)
    if "kid" in metrics:
        scores["kid_mean"], scores["kid_std"] = kernel_inception_distance(fake, real, seed=seed)
    if "pr" in metrics:
        scores["precision"], scores["recall"] = precision_recall(real, fake, k=PR_NEIGHBOURS)
    return {k: float(v) for k, v in scores.items()}


def score_points(points, dataset):
    """Mode metrics of float (N, 2) points for ``dataset`` ring/grid -> dict: modes_covered
    (int in [0, num_modes]), num_modes, high_quality_pct in [0, 100], reverse_kl >= 0 (None
    when no sample is high quality, i.e. infinite)."""
    from gantool.metrics.toy import grid_modes, ring_modes, toy_mode_metrics

    scores = toy_mode_metrics(points, dataset)
    scores["num_modes"] = len(ring_modes() if dataset == "ring" else grid_modes())
    if not math.isfinite(scores["reverse_kl"]):
        scores["reverse_kl"] = None
    return scores


def _notes(result):
    notes = []
    if result.get("split_fallback"):
        notes.append(f"{result['real_dataset']} has no {result['requested_split']!r} split; "
                     f"compared with its {result['real_split']!r} split")
    if result.get("fid") is not None and min(result["n_fake"], result["n_real"]) < FEATURE_DIM:
        notes.append(f"FID from fewer than {FEATURE_DIM} samples per set is biased upward; "
                     "compare FIDs only at equal sample counts")
    if "reverse_kl" in result and result["reverse_kl"] is None:
        notes.append("no generated point is high quality: reverse KL is infinite (stored as null)")
    return notes


def _image_result(fake_features, real_info, metrics, weights, sha, seed):
    return {"metrics": list(metrics), "n_fake": len(fake_features),
            "n_real": real_info["n_real"], "real_dataset": real_info["real_dataset"],
            "real_split": real_info["real_split"],
            "requested_split": real_info["requested_split"],
            "split_fallback": real_info["split_fallback"],
            "weights": str(weights), "weights_sha256": sha, "seed": seed,
            "real_stats_cache": real_info["cache"], "real_stats_cached": real_info["cache_hit"]}


# --------------------------------------------------------------------------- public API


def evaluate_run(run_path, metrics=("fid", "kid", "pr"), n=10000, real_split="test", seed=0,
                 inception_weights=None, batch_size=50, progress=True, cache_dir=None,
                 use_cache=True, write=True, ema=None):
    """Score a run's latest (or given) checkpoint and record it in ``RUN_DIR/eval.json``.

    run_path: run directory or checkpoint prefix. metrics: see :func:`parse_metrics`.
    Images: ``n`` generated images (latents from ``seed``) against up to ``n`` real images of
    the run's dataset split ``real_split`` ("train" where the split does not exist); returns
    fid, kid_mean, kid_std, precision, recall (those requested) with n_fake, n_real,
    real_dataset, real_split, weights, seconds and notes. ring/grid runs: modes_covered,
    num_modes, high_quality_pct, reverse_kl on ``n`` generated points.
    eval.json gets the latest result at top level and every result in ``history``.
    Runs trained with ``--ema`` are scored with the moving-average weights unless ``ema=False``.
    """
    from gantool.checkpoints import resolve_checkpoint
    from gantool.config import TrainConfig
    from gantool.sampling import load_generator

    start = time.perf_counter()
    run_dir, prefix = resolve_checkpoint(run_path)
    config = TrainConfig.load(run_dir)
    metrics = parse_metrics(metrics, config.data_kind, config.dataset)
    _check_n(n, metrics)
    base = {"run": str(run_dir), "checkpoint": Path(prefix).name, "dataset": config.dataset,
            "ema": bool(config.ema) and ema is not False}
    if metrics == TOY_METRICS:
        _, generator = load_generator(prefix, ema=ema)
        points = generate_points(generator, n, config.latent_dim, config.latent_dist, seed)
        result = {**base, "metrics": list(metrics), "n_fake": len(points), "n_real": None,
                  "real_dataset": config.dataset, "real_split": None, "weights": None,
                  "seed": seed, **score_points(points, config.dataset)}
    else:
        weights, sha = _resolve_weights(inception_weights)  # fail before any slow work
        _, generator = load_generator(prefix, ema=ema)
        real, real_info = real_features(
            config.dataset, split=real_split, n=n, data_dir=config.data_dir,
            image_size=config.image_size, channels=config.channels, weights_path=weights,
            batch_size=batch_size, progress=progress, cache_dir=cache_dir,
            use_cache=use_cache, seed=config.seed)
        _check_count(len(real), metrics, f"dataset {config.dataset!r} ({real_info['real_split']})")
        images = generate_images(generator, n, config.latent_dim, config.latent_dist, seed)
        fake = _extract_features(images, weights, batch_size, progress, "generated features")
        result = {**base, **_image_result(fake, real_info, metrics, weights, sha, seed),
                  **score_features(real, fake, metrics, seed)}
    result["notes"] = _notes(result)
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if write:
        write_eval_json(run_dir, result)
    return result


def _samples_spec(samples_path):
    path = Path(samples_path).expanduser()
    if path.is_dir():
        return f"folder:{path}"
    if path.is_file() and path.suffix.lower() in (".npy", ".npz"):
        return f"{path.suffix.lower()[1:]}:{path}"
    what = "does not exist" if not path.exists() else "is not a folder or a .npy/.npz file"
    raise UsageError(f"--samples {path} {what}; give a folder of images or a .npy array of "
                     "uint8 images (N, H, W[, C]) (float points (N, 2) for ring/grid)")


def _read_points(samples_path, n):
    path = Path(samples_path).expanduser()
    if path.suffix.lower() != ".npy" or not path.is_file():
        raise UsageError(f"--samples {path}: 2-D datasets need a .npy file of points (N, 2)")
    try:
        points = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--samples {path}: cannot read it as .npy ({e})") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise UsageError(f"--samples {path}: expected points of shape (N, 2), got {points.shape}")
    return points[:n].astype(np.float64)


def evaluate_samples(samples_path, dataset, metrics="auto", n=10000, real_split="test", seed=0,
                     data_dir=None, image_size=None, channels=None, inception_weights=None,
                     batch_size=50, progress=True, cache_dir=None, use_cache=True, out=None):
    """Score ready-made samples against a dataset; returns the result dict (as evaluate_run).

    samples_path: a folder of images or a .npy/.npz uint8 array (N, H, W[, C]) (read by the
    data module's folder:/npy:/npz: loaders; the first ``n`` are used; folder images are
    decoded at the reference images' size and channels), or for ring/grid a .npy float
    array (N, 2) of points. dataset: a dataset spec; data_dir, image_size, channels: how
    to load it. out: also write the result to this JSON file.
    """
    from gantool.data import load_dataset, split_spec, validate_dataset_spec

    start = time.perf_counter()
    validate_dataset_spec(dataset)
    from gantool.data.toy import TOY_NAMES

    kind = "points" if dataset in TOY_NAMES else "image"
    metrics = parse_metrics(metrics, kind, dataset)
    _check_n(n, metrics)
    base = {"samples": str(samples_path), "dataset": dataset}
    if metrics == TOY_METRICS:
        points = _read_points(samples_path, n)
        result = {**base, "metrics": list(metrics), "n_fake": len(points), "n_real": None,
                  "real_dataset": dataset, "real_split": None, "weights": None, "seed": seed,
                  **score_points(points, dataset)}
    else:
        spec = _samples_spec(samples_path)
        weights, sha = _resolve_weights(inception_weights)
        real, real_info = real_features(
            dataset, split=real_split, n=n, data_dir=data_dir, image_size=image_size,
            channels=channels, weights_path=weights, batch_size=batch_size, progress=progress,
            cache_dir=cache_dir, use_cache=use_cache, seed=seed)
        _check_count(len(real), metrics, f"dataset {dataset!r} ({real_info['real_split']})")
        size, _, depth = real_info["real_shape"]
        # folder images are decoded at the reference size; arrays keep their own shape
        folder = split_spec(spec)[0] == "folder:"
        options = {"image_size": size, "channels": depth} if folder else {}
        source = load_dataset(spec, max_examples=n, **options)
        images = _dataset_images(source, n)
        _check_count(len(images), metrics, f"--samples {samples_path}")
        fake = _extract_features(images, weights, batch_size, progress, "sample features")
        result = {**base, **_image_result(fake, real_info, metrics, weights, sha, seed),
                  **score_features(real, fake, metrics, seed)}
    result["notes"] = _notes(result)
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if out is not None:
        _write_json(Path(out), result)
    return result


# --------------------------------------------------------------------------- output


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)


def write_eval_json(run_dir, result):
    """Write ``RUN_DIR/eval.json`` atomically: ``result`` at top level plus ``history``, the
    list of every evaluation so far (oldest first, this one last). An unreadable previous
    file starts a new history. Returns the path."""
    path = Path(run_dir) / EVAL_NAME
    history = []
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
            if isinstance(previous, dict) and isinstance(previous.get("history"), list):
                history = previous["history"]
        except (OSError, ValueError):
            history = []
    _write_json(path, {**result, "history": [*history, result]})
    return path


def _short_name(spec):
    """``npz:/long/path/digits.npz`` -> ``npz:digits.npz``; names unchanged."""
    prefix, _, path = spec.partition(":")
    return f"{prefix}:{Path(path).name}" if path else spec


def format_table(result):
    """A printable table; every score states its sample counts and reference, e.g.
    ``FID          23.41   (10000 generated vs 10000 real, mnist test)``."""
    where = result.get("run") or result.get("samples")
    lines = [f"{where}" + (f" ({result['checkpoint']})" if result.get("checkpoint") else "")]
    made = "samples" if result.get("samples") else "generated"
    if result.get("real_split") is not None:
        ref = (f"({result['n_fake']} {made} vs {result['n_real']} real, "
               f"{_short_name(result['real_dataset'])} {result['real_split']})")
    else:
        made = "sample" if result.get("samples") else "generated"
        ref = (f"({result['n_fake']} {made} points, {result['real_dataset']}: "
               f"{result.get('num_modes')} modes)")
    rows = []
    if "fid" in result:
        rows.append(("FID", f"{result['fid']:.2f}"))
    if "kid_mean" in result:
        rows.append(("KID", f"{result['kid_mean']:.5f} ± {result['kid_std']:.5f}"))
    if "precision" in result:
        rows.append(("precision", f"{result['precision']:.3f}"))
        rows.append(("recall", f"{result['recall']:.3f}"))
    if "modes_covered" in result:
        rows.append(("modes covered", f"{result['modes_covered']}/{result['num_modes']}"))
        rows.append(("high quality", f"{result['high_quality_pct']:.1f}%"))
        kl = result["reverse_kl"]
        rows.append(("reverse KL", "inf" if kl is None else f"{kl:.4f}"))
    name_width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines += [f"  {name:<{name_width}}  {value:>{value_width}}  {ref}" for name, value in rows]
    lines += [f"  note: {note}" for note in result.get("notes", [])]
    if result.get("seconds") is not None:
        lines.append(f"  ({result['seconds']:.1f} s)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- training callback


def _build_eval_callback_class():
    import keras

    class EvalCallback(keras.callbacks.Callback):
        """Scores the live generator every ``every`` epochs (and after the last one).

        config: the run's TrainConfig with ``data_kind`` set. n: samples per evaluation
        (default 500 images / 2500 points). Images: FID of ``n`` generated images (fixed
        latents from ``seed``) against up to ``n`` real images of the run's dataset (split
        ``real_split``, else train), whose features are computed (or read from the cache)
        in ``prepare()``, called by ``on_train_begin``; missing Inception weights raise
        WeightsUnavailable there. ring/grid: the mode metrics of ``n`` points. Scores go to
        ``state.epoch_extras[epoch]`` (1-based) as ``eval_fid`` (>= 0) or ``eval_modes``
        (0..M), ``eval_hq_pct`` (0..100), ``eval_reverse_kl`` (>= 0, inf without
        high-quality points), plus ``eval_n``, and into the epoch ``logs``. Put it before
        RunLogger in the callback list, so RunLogger's ``on_epoch_end`` finds the scores.
        """

        def __init__(self, state, config, every, n=None, inception_weights=None,
                     real_split="test", seed=0, batch_size=50, cache_dir=None, progress=False):
            super().__init__()
            if isinstance(every, bool) or not isinstance(every, int) or every < 1:
                raise UsageError(f"--eval-every must be a whole number >= 1, got {every!r}")
            if config.data_kind not in DEFAULT_EVAL_N:
                raise ValueError(f"config.data_kind must be 'image' or 'points', got "
                                 f"{config.data_kind!r} (set it from the loaded data first)")
            self.state = state
            self.config = config
            self.kind = config.data_kind
            self.metrics = ("fid",) if self.kind == "image" else parse_metrics(
                "auto", self.kind, config.dataset)
            self.every = every
            self.n = DEFAULT_EVAL_N[self.kind] if n is None else n
            _check_n(self.n, self.metrics, "--eval-n")
            self.inception_weights = inception_weights
            self.real_split = real_split
            self.seed = seed
            self.batch_size = batch_size
            self.cache_dir = cache_dir
            self.progress = progress
            self.real = None
            self.weights = None
            self.history = []  # (epoch, scores) pairs
            if getattr(state, "epoch_extras", None) is None:
                state.epoch_extras = {}

        def on_train_begin(self, logs=None):
            self.prepare()

        def prepare(self):
            """Resolve the Inception weights and compute (or read cached) real features; a
            no-op for toy runs and when done already. Call it early to fail before training."""
            if self.kind != "image" or self.real is not None:
                return
            self.weights, _ = _resolve_weights(self.inception_weights)
            self.real, info = real_features(
                self.config.dataset, split=self.real_split, n=self.n,
                data_dir=self.config.data_dir, image_size=self.config.image_size,
                channels=self.config.channels, weights_path=self.weights,
                batch_size=self.batch_size, progress=self.progress, cache_dir=self.cache_dir,
                seed=self.config.seed)
            self.real_info = info
            _check_count(len(self.real), self.metrics, f"dataset {self.config.dataset!r}")

        def scores_for_epoch(self, epoch):
            """The ``eval_*`` scores of the current generator (``epoch`` is 1-based)."""
            generator = self.model.generator
            cfg = self.config
            if self.kind == "image":
                images = generate_images(generator, self.n, cfg.latent_dim, cfg.latent_dist,
                                         self.seed)
                fake = _extract_features(images, self.weights, self.batch_size, self.progress,
                                         f"eval features (epoch {epoch})")
                scores = {"eval_fid": score_features(self.real, fake, ("fid",))["fid"]}
            else:
                points = generate_points(generator, self.n, cfg.latent_dim, cfg.latent_dist,
                                         self.seed)
                toy = score_points(points, cfg.dataset)
                kl = toy["reverse_kl"]
                scores = {"eval_modes": toy["modes_covered"],
                          "eval_hq_pct": toy["high_quality_pct"],
                          "eval_reverse_kl": math.inf if kl is None else kl}
            return {**scores, "eval_n": self.n}

        def on_epoch_end(self, epoch, logs=None):
            epoch += 1
            if self.state.interrupted or (epoch % self.every and epoch != self.state.epochs):
                return
            scores = self.scores_for_epoch(epoch)
            self.state.epoch_extras[epoch] = scores
            self.history.append((epoch, scores))
            if logs is not None:
                logs.update(scores)

    return EvalCallback


_LAZY = {}


def __getattr__(name):
    """``EvalCallback`` is created on first access, so importing this module skips Keras."""
    if name == "EvalCallback":
        if name not in _LAZY:
            _LAZY[name] = _build_eval_callback_class()
        return _LAZY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
