"""``gantool project``: find latents that reproduce given images (see :mod:`gantool.projection`)."""

import click

from gantool.cli import options


@click.command("project")
@click.option("--ckpt", required=True, type=click.Path(), help=options.CKPT_HELP)
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for the reconstructions (NNN.png, comparison.png), latents.npy, "
              "projection.json and interpolation.gif (created if missing).")
@click.option("--steps", type=options.POSITIVE, default=200, show_default=True,
              help="Adam steps on the latents.")
@click.option("--restarts", type=options.POSITIVE, default=4, show_default=True,
              help="Random starting latents per image (the best is kept).")
@click.option("--lr", type=options.LEARNING_RATE, default=0.05, show_default=True,
              help="Adam learning rate on the latents.")
@click.option("--feature-weight", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="Weight of the discriminator-feature loss beside the pixel MSE (0: pixels).")
@options.seed_option()
@options.scale_option("Upscale comparison.png and the GIF by this factor [default: at least "
                      "512 pixels wide].")
@options.ema_option()
def project(ckpt, images, out, steps, restarts, lr, feature_weight, seed, scale, ema):
    """Project IMAGE files into the latent space of a trained image run."""
    options.quiet_tensorflow()
    from gantool import rundir
    from gantool.projection import project_files

    folder = project_files(rundir.Run.open(ckpt), list(images), out, scale=scale, steps=steps,
                           restarts=restarts, lr=lr, feature_weight=feature_weight, seed=seed,
                           ema=ema)
    click.echo(f"projected {len(images)} images into {folder}/ (latents.npy, projection.json)")
