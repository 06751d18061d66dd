"""``gantool eval``: score a run (or any samples) with FID, KID, precision/recall or mode metrics.

Image runs are scored on the pool3 features (2048-d) of the FID Inception network
(:mod:`gantool.metrics`), generated images against real images of the run's dataset;
2-D runs on ``ring`` / ``grid`` get the mode metrics of :mod:`gantool.metrics.toy`.

One job per module: :mod:`.metric_names` (which metrics apply, how many samples they need),
:mod:`.options` (:class:`EvalOptions`, :class:`Reference`), :mod:`.extraction` (Inception
features and their weights), :mod:`.generation` (samples from a generator), :mod:`.reference`
(real images and their features), :mod:`.cache` (the real-feature cache), :mod:`.samples`
(``--samples`` files), :mod:`.scoring` (scores and result entries), :mod:`.report` (the
table, ``eval.json``) and :mod:`.classifier` (``--features``: scores in a Keras classifier's
feature space, named ``fd_classifier``, ...). The scores of ``--eval-every`` come from
:class:`gantool.training.evaluator.Evaluator`, built from the same parts.
"""

import time
from pathlib import Path

from gantool.data import validate_dataset_spec
from gantool.data.toy import TOY_NAMES
from gantool.rundir import Run
from gantool.sampling import load_generator, uses_ema

from . import extraction
from .cache import default_cache_dir
from .generation import generate_images, generate_points
from .metric_names import (
    ACCEPTED_METRICS,
    DEFAULT_EVAL_N,
    IMAGE_METRICS,
    MIN_SAMPLES,
    TOY_DATASETS,
    TOY_METRICS,
    check_count,
    check_n,
    parse_metrics,
)
from .options import EvalOptions, Reference
from .reference import real_features
from .report import SCORE_KEYS, format_table, write_eval_json, write_result
from .samples import read_images, read_points, samples_spec
from .scoring import features_result, notes, points_result, score_features, score_points

__all__ = [
    "ACCEPTED_METRICS", "DEFAULT_EVAL_N", "EvalOptions", "IMAGE_METRICS", "MIN_SAMPLES",
    "Reference", "SCORE_KEYS", "TOY_DATASETS", "TOY_METRICS", "check_count", "check_n",
    "default_cache_dir", "evaluate_run", "evaluate_samples", "format_table", "generate_images",
    "generate_points", "parse_metrics", "real_features", "score_features", "score_points",
    "write_eval_json",
]


def evaluate_run(run, options=None, *, ema=None, write=True):
    """Score a run's latest (or given) checkpoint and record it in ``RUN_DIR/eval.json``.

    run: a :class:`~gantool.rundir.Run`, or a run directory / checkpoint path (opened once).
    options: :class:`EvalOptions` (None: the defaults).
    Images: ``options.n`` generated images (latents from ``options.seed``) against up to as
    many real images of the run's dataset split ``options.real_split`` ("train" where the
    split does not exist); returns fid, kid_mean, kid_std, precision, recall (those
    requested) with n_fake, n_real, real_dataset, real_split, weights, seconds and notes.
    ring/grid runs: modes_covered, num_modes, high_quality_pct, reverse_kl on ``n`` points.
    eval.json gets the latest result at top level and every result in ``history``.
    The generator's weights are those :func:`~gantool.sampling.uses_ema` chooses for ``ema``.
    """
    start = time.perf_counter()
    options = options or EvalOptions()
    if not isinstance(run, Run):
        run = Run.open(run)
    config = run.config
    metrics = parse_metrics(options.metrics, config.data_kind, config.dataset)
    check_n(options.n, metrics)
    result = {"run": str(run.path), "checkpoint": Path(run.checkpoint).name,
              "dataset": config.dataset, "ema": uses_ema(config, ema)}
    sample = dict(n=options.n, latent_dim=config.latent_dim, latent_dist=config.latent_dist,
                  seed=options.seed)
    if metrics == TOY_METRICS:
        points = generate_points(load_generator(run, ema=ema), **sample)
        result.update(points_result(points, config.dataset, metrics, options.seed))
    else:
        weights = extraction.resolve_options(options)  # fail before any slow work
        generator = load_generator(run, ema=ema)
        real, real_info = real_features(Reference.of_run(config), options, weights)
        check_count(len(real), metrics, f"dataset {config.dataset!r} ({real_info['real_split']})")
        images = generate_images(generator, **sample)
        fake = extraction.extract_features(images, weights, options, "generated features")
        result.update(features_result(real, fake, real_info, metrics, weights, options.seed))
    _finish(result, start)
    if write:
        write_eval_json(run.path, result)
    return result


def evaluate_samples(samples_path, dataset, options=None, *, data_dir=None,
                     image_size=None, channels=None, out=None):
    """Score ready-made samples against a dataset; returns the result dict (as evaluate_run).

    samples_path: a folder of images or a .npy/.npz uint8 array (N, H, W[, C]) (read by the
    data module's folder:/npy:/npz: loaders; the first ``options.n`` are used; folder images
    are decoded at the reference images' size and channels), or for ring/grid a .npy float
    array (N, 2) of points. dataset: a dataset spec; data_dir, image_size, channels: how to
    load it (with ``options.seed``). options: :class:`EvalOptions` (None: the defaults).
    out: also write the result to this JSON file.
    """
    start = time.perf_counter()
    options = options or EvalOptions()
    validate_dataset_spec(dataset)
    kind = "points" if dataset in TOY_NAMES else "image"
    metrics = parse_metrics(options.metrics, kind, dataset)
    check_n(options.n, metrics)
    result = {"samples": str(samples_path), "dataset": dataset}
    if metrics == TOY_METRICS:
        points = read_points(samples_path, options.n)
        result.update(points_result(points, dataset, metrics, options.seed))
    else:
        spec = samples_spec(samples_path)
        weights = extraction.resolve_options(options)
        reference = Reference(dataset, data_dir, image_size, channels, options.seed)
        real, real_info = real_features(reference, options, weights)
        check_count(len(real), metrics, f"dataset {dataset!r} ({real_info['real_split']})")
        images = read_images(spec, options.n, real_info["real_shape"])
        check_count(len(images), metrics, f"--samples {samples_path}")
        fake = extraction.extract_features(images, weights, options, "sample features")
        result.update(features_result(real, fake, real_info, metrics, weights, options.seed))
    _finish(result, start)
    if out is not None:
        write_result(out, result)
    return result


def _finish(result, start):
    result["notes"] = notes(result)
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
