"""``gantool eval``: score a run or a folder/array of samples (see :mod:`gantool.evaluation`)."""

import click

from gantool.cli.options import (
    POSITIVE,
    DatasetSpec,
    channels_option,
    data_dir_option,
    ema_option,
    inception_weights_option,
    quiet_option,
    quiet_tensorflow,
    seed_option,
)
from gantool.errors import UsageError


@click.command(name="eval")
@click.argument("run_dir", required=False, type=click.Path())
@click.option("--metrics", default="auto", show_default=True,
              help="Comma-separated: fid, kid, pr (images), modes (ring/grid runs); auto: all "
              "that apply.")
@click.option("--n", type=POSITIVE, default=10000, show_default=True,
              help="Generated samples, and at most as many real images.")
@click.option("--real-split", default="test", show_default=True,
              help="Reference split of the dataset (train where it has no such split).")
@inception_weights_option("FID Inception weights.npz [default: the cached copy, else "
                          "download].")
@click.option("--features", metavar="PATH.keras[:LAYER]",
              help="Score in the feature space of this Keras classifier (LAYER: a layer name, "
              "default the penultimate) instead of FID Inception's; images reach it resized "
              "to its input and scaled to [0, 1]. Scores are named fd_classifier, ...")
@click.option("--samples", type=click.Path(exists=True),
              help="Score these instead of a run: a folder of images or a .npy uint8 array "
              "(N, H, W[, C]); float points (N, 2) for ring/grid. Needs --dataset.")
@click.option("--dataset", type=DatasetSpec(), help="--samples: the reference dataset.")
@data_dir_option("--samples: tensorflow-datasets data directory.")
@click.option("--image-size", type=POSITIVE, help="--samples: resize the reference images.")
@channels_option("--samples: reference images as 1 (grey) or 3 (RGB) channels.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="--samples: also write the result to this JSON file (a run's result always "
              "goes to RUN_DIR/eval.json).")
@click.option("--batch-size", type=POSITIVE, default=50, show_default=True,
              help="Images per Inception batch.")
@click.option("--no-cache", is_flag=True,
              help="Recompute the real-data features instead of using the cache "
              "($GANTOOL_CACHE/real_stats, default ~/.cache/gantool/real_stats).")
@ema_option("Score the generator's moving-average weights when the run kept them.")
@seed_option()
@quiet_option("No progress bars.")
def eval_command(run_dir, metrics, n, real_split, inception_weights, features, samples, dataset,
                 data_dir, image_size, channels, out, batch_size, no_cache, ema, seed, quiet):
    """Score a run: FID, KID, precision/recall (images) or mode metrics (ring/grid).

    \b
    gantool eval RUN_DIR [--metrics fid,kid,pr] [--n 10000] [--real-split test]
    gantool eval --samples FOLDER_OR_NPY --dataset NAME
    gantool eval RUN_DIR --features mnist_classifier.keras[:LAYER]
    A run's result is added to RUN_DIR/eval.json (latest at top level, all in "history").
    """
    if (run_dir is None) == (samples is None):
        raise UsageError("give a RUN_DIR, or --samples PATH with --dataset NAME (not both)")
    if samples is not None and dataset is None:
        raise UsageError("--samples needs --dataset NAME, the data to compare the samples with")
    if run_dir is not None:
        given = [name for name, value in (("--dataset", dataset), ("--data-dir", data_dir),
                                          ("--image-size", image_size), ("--channels", channels),
                                          ("--out", out)) if value is not None]
        if given:
            raise UsageError(f"{given[0]} applies to --samples only; a run is compared with "
                             "its own dataset and writes RUN_DIR/eval.json")
    if features is not None and inception_weights is not None:
        raise UsageError("--features and --inception-weights exclude each other: scores are "
                         "in one feature space")
    quiet_tensorflow()
    from gantool import evaluation, rundir

    options = evaluation.EvalOptions(metrics=metrics, n=n, real_split=real_split, seed=seed,
                                     inception_weights=inception_weights, batch_size=batch_size,
                                     progress=not quiet, use_cache=not no_cache,
                                     features=features)
    if run_dir is not None:
        result = evaluation.evaluate_run(rundir.Run.open(run_dir), options, ema=ema)
    else:
        result = evaluation.evaluate_samples(
            samples, dataset, options, data_dir=data_dir, image_size=image_size,
            channels=int(channels) if channels else None, out=out)
    click.echo(evaluation.format_table(result))
    if run_dir is not None:
        click.echo(f"wrote {rundir.EVAL} in {result['run']}")
