"""``gantool sample``: draw samples from a run (see :func:`gantool.sampling.sample`)."""

import click

from gantool.cli import options
from gantool.errors import UsageError


@click.command()
@click.option("--ckpt", required=True, type=click.Path(), help=options.CKPT_HELP)
@click.option("--n", type=options.POSITIVE, help="Number of samples [default: 64]; a .npy or "
              "folder --out streams any number the disk holds, a grid shows at most 4096.")
@options.seed_option()
@options.seeds_option()
@options.truncation_option()
@options.out_option("A grid .png, a .npy array (uint8 images or float32 points) or a folder "
                    "of PNGs [default: RUN_DIR/sample.png]; missing parent folders are created.")
@click.option("--class", "class_id", type=click.IntRange(min=0),
              help="Conditional runs: draw this class only (default: one grid row per class).")
@click.option("--batch-size", type=options.POSITIVE, default=500, show_default=True,
              help="Samples per generator call (does not change the samples).")
@options.scale_option()
@options.ema_option()
@options.quiet_option()
def sample(ckpt, n, seed, seeds, truncation, out, class_id, batch_size, scale, ema, quiet):
    """Draw samples from a trained (or still training) run."""
    options.quiet_tensorflow()
    from gantool import rundir
    from gantool.sampling import sample as draw

    if n is not None and seeds is not None:
        raise UsageError("give --n (with --seed) or --seeds, not both")
    n = len(seeds) if seeds is not None else n or 64
    run = rundir.Run.open(ckpt)
    out = out if out is not None else run.file(rundir.SAMPLE_GRID)
    paths = draw(run, n=n, seed=seed, out=out, batch_size=batch_size, class_id=class_id, ema=ema,
                 seeds=seeds, truncation=truncation, scale=scale, progress=not quiet)
    click.echo(f"wrote {n} samples to {out}" + (f" (+ {paths[-1]})" if len(paths) == 2 else ""))
