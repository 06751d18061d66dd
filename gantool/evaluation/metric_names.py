"""Which metrics ``gantool eval`` knows, which apply to which data, and how many samples each
needs."""

import numpy as np

from gantool.errors import UsageError

IMAGE_METRICS = ("fid", "kid", "pr")
TOY_METRICS = ("modes",)
ACCEPTED_METRICS = IMAGE_METRICS + TOY_METRICS + ("auto",)
TOY_DATASETS = ("ring", "grid")
# Fewest samples per set each metric can use (precision/recall: k = 3 neighbours + self).
MIN_SAMPLES = {"fid": 2, "kid": 2, "pr": 4, "modes": 1}
# Samples per evaluation during training (--eval-every) when --eval-n is not given.
DEFAULT_EVAL_N = {"image": 500, "points": 2500}


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
        return _points_metrics(names, dataset)
    wrong = [m for m in names if m in TOY_METRICS]
    if wrong:
        raise UsageError(f"metric {wrong[0]!r} applies to 2-D {'/'.join(TOY_DATASETS)} runs; "
                         f"for images choose from: {', '.join(IMAGE_METRICS)} (or auto)")
    if "auto" in names:
        return IMAGE_METRICS
    return tuple(m for m in IMAGE_METRICS if m in names)


def _points_metrics(names, dataset):
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


def _neediest(metrics):
    """(the metric needing the most samples, how many it needs)."""
    worst = max(metrics, key=MIN_SAMPLES.get)
    return worst, MIN_SAMPLES[worst]


def check_n(n, metrics, what="--n"):
    """Raise UsageError unless ``n`` (given as option ``what``) is enough for ``metrics``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UsageError(f"{what} must be a whole number >= 1, got {n!r}")
    worst, need = _neediest(metrics)
    if n < need:
        raise UsageError(f"{what} {n} is too small for {worst}: it needs at least {need} "
                         "samples per set")


def check_count(count, metrics, what):
    """Raise UsageError unless ``what`` (a set of ``count`` images) is enough for ``metrics``."""
    worst, need = _neediest(metrics)
    if count < need:
        raise UsageError(f"{what} has only {count} images; {worst} needs at least {need}")
