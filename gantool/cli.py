"""The ``gantool`` command line. Commands are thin: the work lives in importable modules.

TensorFlow is imported only inside commands that need it, so ``--help`` stays fast.
"""

import os
import sys

import click

from gantool import __version__
from gantool.config import TrainConfig, read_toml
from gantool.data import describe_datasets
from gantool.distribute import STRATEGIES
from gantool.errors import GantoolError
from gantool.losses import LOSSES
from gantool.models import ARCHITECTURES
from gantool.options import (DEFAULTS, DatasetSpec, IntList, ckpt_argument_help, fps_option,
                             out_option, seed_option)

POSITIVE = click.IntRange(min=1)
FRACTION = click.FloatRange(min=0, max=1, max_open=True)
LEARNING_RATE = click.FloatRange(min=0, max=10, min_open=True)


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gantool")
def cli():
    """Train generative adversarial networks, sample from them and animate their training.

    \b
    Quick start:
      gantool train --arch mlp --dataset ring --epochs 20 --out runs/ring
      gantool sample --ckpt runs/ring --n 2000 --out ring.png
      gantool animate runs/ring
    """


@cli.command(epilog="Datasets:\n\n\b\n" + describe_datasets())
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML recipe; options given on the command line override its values.")
@click.option("--arch", type=click.Choice(ARCHITECTURES.names()), default=DEFAULTS.arch,
              show_default=True, help="Generator/discriminator architecture.")
@click.option("--dataset", type=DatasetSpec(), default=DEFAULTS.dataset, show_default=True,
              help="Dataset name (see below) or folder:PATH, npz:PATH, npy:PATH.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="tensorflow-datasets data directory (download cache).")
@click.option("--image-size", type=POSITIVE, help="Resize images to this square size "
              "(folder: and celeb_a default to 64).")
@click.option("--channels", type=click.Choice(["1", "3"]), help="1 (grey) or 3 (RGB).")
@click.option("--max-examples", type=POSITIVE, help="Use only the first N training examples.")
@click.option("--epochs", type=POSITIVE, default=DEFAULTS.epochs, show_default=True)
@click.option("--batch-size", type=POSITIVE, default=DEFAULTS.batch_size, show_default=True,
              help="Global batch size (split across replicas).")
@click.option("--steps-per-epoch", type=POSITIVE, help="Cap on steps per epoch.")
@click.option("--latent-dim", type=POSITIVE, default=DEFAULTS.latent_dim, show_default=True)
@click.option("--latent-dist", type=click.Choice(["normal", "uniform"]),
              default=DEFAULTS.latent_dist, show_default=True,
              help="Latent prior: N(0, 1) or U(-1, 1).")
@click.option("--loss", type=click.Choice(LOSSES.names()), default=DEFAULTS.loss,
              show_default=True, help="GAN objective (ns: non-saturating).")
@click.option("--lr", type=LEARNING_RATE, default=DEFAULTS.lr, show_default=True,
              help="Learning rate of both networks.")
@click.option("--d-lr", type=LEARNING_RATE, help="Discriminator learning rate (default: --lr).")
@click.option("--g-lr", type=LEARNING_RATE, help="Generator learning rate (default: --lr).")
@click.option("--beta1", type=FRACTION, default=DEFAULTS.beta1, show_default=True,
              help="Adam beta_1.")
@click.option("--beta2", type=FRACTION, default=DEFAULTS.beta2, show_default=True,
              help="Adam beta_2.")
@click.option("--label-smoothing", type=FRACTION, default=DEFAULTS.label_smoothing,
              show_default=True, help="One-sided: real labels become 1 - VALUE.")
@seed_option()
@click.option("--g-hidden", type=IntList(), default=",".join(map(str, DEFAULTS.g_hidden)),
              show_default=True, help="mlp: generator hidden widths ('' = linear generator).")
@click.option("--d-hidden", type=IntList(), default=",".join(map(str, DEFAULTS.d_hidden)),
              show_default=True, help="mlp: discriminator hidden widths.")
@click.option("--g-activation", type=click.Choice(["leaky_relu", "relu", "tanh"]),
              default=DEFAULTS.g_activation, show_default=True, help="mlp: generator activation.")
@click.option("--d-activation", type=click.Choice(["leaky_relu", "relu", "tanh"]),
              default=DEFAULTS.d_activation, show_default=True,
              help="mlp: discriminator activation.")
@click.option("--leaky-slope", type=click.FloatRange(min=0), default=DEFAULTS.leaky_slope,
              show_default=True, help="mlp: LeakyReLU negative slope.")
@click.option("--dropout", type=FRACTION, default=DEFAULTS.dropout, show_default=True,
              help="mlp: discriminator dropout rate.")
@click.option("--g-filters", type=POSITIVE, default=DEFAULTS.g_filters, show_default=True,
              help="dcgan: filters of the generator's last hidden layer (doubling inwards).")
@click.option("--d-filters", type=POSITIVE, default=DEFAULTS.d_filters, show_default=True,
              help="dcgan: filters of the discriminator's first layer (doubling inwards).")
@out_option("Run directory (default: runs/ARCH-DATASET-TIME).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--force", is_flag=True, help="Delete an existing --out and start again.")
@click.option("--sample-every", type=POSITIVE, default=DEFAULTS.sample_every, show_default=True,
              help="Save a fixed-latent sample grid every N epochs.")
@click.option("--checkpoint-every", type=POSITIVE, default=DEFAULTS.checkpoint_every,
              show_default=True, help="Save a checkpoint every N epochs.")
@click.option("--keep", type=POSITIVE, default=DEFAULTS.keep, show_default=True,
              help="Checkpoints to keep.")
@click.option("--grid-size", type=POSITIVE, default=DEFAULTS.grid_size, show_default=True,
              help="Images in each sample grid.")
@click.option("--tensorboard/--no-tensorboard", default=DEFAULTS.tensorboard, show_default=True,
              help="Write TensorBoard events under RUN_DIR/tensorboard.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=DEFAULTS.strategy,
              show_default=True, help="tf.distribute strategy (auto: mirrored on several GPUs).")
@click.option("--cpu-devices", type=POSITIVE,
              help="Split the CPU into N logical devices (to run 'mirrored' without GPUs).")
@click.option("--tpu", help="--strategy tpu: TPU name or address (default: the local TPU).")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
              default=DEFAULTS.precision, show_default=True,
              help="Mixed precision is a GPU/TPU feature (float16 uses loss scaling).")
@click.option("--on-nan", type=click.Choice(["stop", "rollback"]), default=DEFAULTS.on_nan,
              show_default=True, help="On a non-finite loss: stop, or restore the last good "
              "checkpoint, halve both learning rates and continue.")
@click.option("--sync-bn", is_flag=True,
              help="Batch norm over the global batch across replicas (default: per replica).")
@click.option("--jit/--no-jit", default=DEFAULTS.jit, show_default=True,
              help="Compile the training step with XLA.")
@click.option("--dry-run", is_flag=True, help="A couple of steps of everything (smoke test).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx, config_file, resume, force, quiet, **options):
    """Train a GAN and write a self-describing run directory."""
    from click.core import ParameterSource

    recipe = read_toml(config_file) if config_file else {}
    explicit = {k for k in options
                if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    if options.get("channels") is not None:
        options["channels"] = int(options["channels"])
    values = {**options, **recipe, **{k: options[k] for k in explicit}}
    config = TrainConfig.from_dict(values, source=config_file or "options")
    explicit |= set(recipe)
    _quiet_tensorflow()
    from gantool.training import train as run_training

    result = run_training(config, resume=resume, force=force, explicit=explicit,
                          progress=not quiet)
    click.echo(f"done: {result.epochs_done} epochs; outputs in {result.run_dir}/ "
               "(samples/, training.png, metrics.csv, checkpoints/, generator.keras)")


@cli.command()
@click.option("--ckpt", required=True, type=click.Path(), help=ckpt_argument_help())
@click.option("--n", type=POSITIVE, default=64, show_default=True, help="Number of samples.")
@seed_option()
@out_option("A grid .png, a .npy array (uint8 images or float32 points) or a folder of PNGs "
            "[default: RUN_DIR/sample.png].")
def sample(ckpt, n, seed, out):
    """Draw samples from a trained (or still training) run."""
    _quiet_tensorflow()
    from gantool.checkpoints import resolve_checkpoint
    from gantool.sampling import sample as draw

    if out is None:
        out = os.path.join(resolve_checkpoint(ckpt)[0], "sample.png")
    paths = draw(ckpt, n=n, seed=seed, out=out)
    click.echo(f"wrote {n} samples to {out}" + (f" (+ {paths[-1]})" if len(paths) == 2 else ""))


@cli.command()
@click.argument("run_dir", type=click.Path())
@fps_option(4)
@out_option("Output GIF [default: RUN_DIR/training.gif, or RUN_DIR/interpolation.gif].")
@click.option("--evolution", type=click.Path(),
              help="Still PNG of epochs x fixed latents [default: RUN_DIR/evolution.png].")
@click.option("--interpolate", is_flag=True,
              help="Instead, a GIF walking between random latent points (slerp).")
@click.option("--points", type=click.IntRange(min=2), default=4, show_default=True,
              help="--interpolate: latent points to visit.")
@click.option("--steps", type=POSITIVE, default=16, show_default=True,
              help="--interpolate: frames between two points.")
@seed_option()
def animate(run_dir, fps, out, evolution, interpolate, points, steps, seed):
    """Build GIFs of training (fixed-latent samples over epochs) and an evolution still."""
    from gantool import animation

    if interpolate:
        _quiet_tensorflow()
        path = animation.interpolation_gif(run_dir, out, points=points, steps=steps, seed=seed,
                                           fps=fps)
        click.echo(f"wrote {path}")
        return
    gif = animation.training_gif(run_dir, out, fps=fps)
    still = animation.evolution_png(run_dir, evolution)
    click.echo(f"wrote {gif} and {still}")


def main(argv=None):
    """Entry point: runs the CLI, turning gantool errors into one-line messages."""
    try:
        code = cli.main(args=argv, prog_name="gantool", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 130
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"Error: {e.format_message()}{hint}", err=True)
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except GantoolError as e:
        click.echo(f"Error: {e}", err=True)
        code = e.exit_code
    except OSError as e:
        click.echo(f"Error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""),
                   err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
