"""Scores from features or points, and the result dicts that ``eval.json`` records."""

import math

from gantool.metrics import (
    fid_from_features,
    grid_modes,
    kernel_inception_distance,
    precision_recall,
    ring_modes,
    toy_mode_metrics,
)
from gantool.metrics.inception import FEATURE_DIM

PR_NEIGHBOURS = 3


def score_features(real, fake, metrics, seed=0):
    """Scores of fake (N_f, 2048) against real (N_r, 2048) features -> dict of floats:
    fid (>= 0), kid_mean / kid_std (KID ~ 0 when equal, may be slightly negative),
    precision / recall (in [0, 1]); only those of ``metrics``."""
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
    scores = toy_mode_metrics(points, dataset)
    scores["num_modes"] = len(ring_modes() if dataset == "ring" else grid_modes())
    if not math.isfinite(scores["reverse_kl"]):
        scores["reverse_kl"] = None
    return scores


def points_result(points, dataset, metrics, seed):
    """The result entries of ``points`` scored on ring/grid ``dataset``."""
    return {"metrics": list(metrics), "n_fake": len(points), "n_real": None,
            "real_dataset": dataset, "real_split": None, "weights": None, "seed": seed,
            **score_points(points, dataset)}


def features_result(real, fake, real_info, metrics, weights, seed):
    """The result entries of ``fake`` features scored against ``real`` ones (described by
    ``real_info``, from :func:`~gantool.evaluation.reference.real_features`). Classifier
    ``weights`` (``--features``) store their scores under their own names (``fd_classifier``,
    ...) with a ``features`` field: see :mod:`gantool.evaluation.classifier`."""
    scores = score_features(real, fake, metrics, seed)
    if hasattr(weights, "describe"):
        from .classifier import rename_scores

        scores = {"features": weights.describe(), **rename_scores(scores)}
    return {"metrics": list(metrics), "n_fake": len(fake),
            "n_real": real_info["n_real"], "real_dataset": real_info["real_dataset"],
            "real_split": real_info["real_split"],
            "requested_split": real_info["requested_split"],
            "split_fallback": real_info["split_fallback"],
            "weights": str(weights.path), "weights_sha256": weights.sha256, "seed": seed,
            "real_stats_cache": real_info["cache"], "real_stats_cached": real_info["cache_hit"],
            **scores}


def notes(result):
    """What a reader of ``result`` should know: a split fallback, FID's small-sample bias,
    an infinite reverse KL."""
    found = []
    if result.get("split_fallback"):
        found.append(f"{result['real_dataset']} has no {result['requested_split']!r} split; "
                     f"compared with its {result['real_split']!r} split")
    if result.get("fid") is not None and min(result["n_fake"], result["n_real"]) < FEATURE_DIM:
        found.append(f"FID from fewer than {FEATURE_DIM} samples per set is biased upward; "
                     "compare FIDs only at equal sample counts")
    dim = (result.get("features") or {}).get("dim")
    if result.get("fd_classifier") is not None and min(result["n_fake"], result["n_real"]) < dim:
        found.append(f"FD from fewer samples than its {dim} feature dimensions is biased "
                     "upward; compare FDs only at equal sample counts")
    if "reverse_kl" in result and result["reverse_kl"] is None:
        found.append("no generated point is high quality: reverse KL is infinite (stored as null)")
    return found
