"""``gantool animate``: GIFs of training or of latent walks (see :mod:`gantool.animation`)."""

import click

from gantool.cli.options import (
    POSITIVE,
    ema_option,
    fps_option,
    out_option,
    quiet_tensorflow,
    scale_option,
    seed_option,
    seeds_option,
    truncation_option,
)
from gantool.errors import UsageError


@click.command()
@click.argument("run_dir", type=click.Path())
@fps_option(4)
@out_option("Output GIF, or an .mp4 video (needs pip install 'gantool[video]') "
            "[default: RUN_DIR/training.gif, or RUN_DIR/interpolation.gif].")
@click.option("--evolution", type=click.Path(),
              help="Still PNG of epochs x fixed latents [default: RUN_DIR/evolution.png].")
@click.option("--interpolate", is_flag=True,
              help="Instead, a GIF walking between random latent points (slerp).")
@click.option("--points", type=click.IntRange(min=2), default=4, show_default=True,
              help="--interpolate: latent points to visit.")
@click.option("--steps", type=POSITIVE, default=16, show_default=True,
              help="--interpolate: frames between two points.")
@seed_option()
@seeds_option("--interpolate: one walk through the latents of these seeds, e.g. 3,14,15 "
              "(instead of --points and --seed).")
@truncation_option()
@scale_option("Upscale GIF frames of images (nearest neighbour) by this factor [default: so "
              "that a frame is at least 512 pixels wide].")
@ema_option("--interpolate: use the moving-average weights when the run kept them.")
def animate(run_dir, fps, out, evolution, interpolate, points, steps, seed, seeds, truncation,
            scale, ema):
    """Build GIFs of training (fixed-latent samples over epochs) and an evolution still."""
    from gantool import animation, rundir

    if interpolate:
        quiet_tensorflow()
        path = animation.interpolation_gif(rundir.Run.open(run_dir), out, points=points,
                                           steps=steps, seed=seed, fps=fps, ema=ema,
                                           seeds=seeds, truncation=truncation, scale=scale)
        click.echo(f"wrote {path}")
        return
    if seeds is not None or truncation is not None:
        raise UsageError("--seeds and --truncation choose latents for --interpolate only")
    run = rundir.Run.open(run_dir, need_checkpoint=False)
    gif = animation.training_gif(run, out, fps=fps, scale=scale)
    still = animation.evolution_png(run, evolution)
    click.echo(f"wrote {gif} and {still}")
