"""``gantool sample``: draw samples from a run (see :func:`gantool.sampling.sample`)."""

import click

from gantool.cli.options import (
    CKPT_HELP,
    POSITIVE,
    ema_option,
    out_option,
    quiet_tensorflow,
    seed_option,
)


@click.command()
@click.option("--ckpt", required=True, type=click.Path(), help=CKPT_HELP)
@click.option("--n", type=POSITIVE, default=64, show_default=True, help="Number of samples.")
@seed_option()
@out_option("A grid .png, a .npy array (uint8 images or float32 points) or a folder of PNGs "
            "[default: RUN_DIR/sample.png].")
@click.option("--class", "class_id", type=click.IntRange(min=0),
              help="Conditional runs: draw this class only (default: one grid row per class).")
@ema_option()
def sample(ckpt, n, seed, out, class_id, ema):
    """Draw samples from a trained (or still training) run."""
    quiet_tensorflow()
    from gantool import rundir
    from gantool.sampling import sample as draw

    run = rundir.Run.open(ckpt)
    out = out if out is not None else run.file(rundir.SAMPLE_GRID)
    paths = draw(run, n=n, seed=seed, out=out, class_id=class_id, ema=ema)
    click.echo(f"wrote {n} samples to {out}" + (f" (+ {paths[-1]})" if len(paths) == 2 else ""))
