"""The ``gantool`` command line. Commands are thin: the work lives in importable modules.

TensorFlow is imported only inside commands that need it, so ``--help`` stays fast.
"""

import os
import sys

import click

from gantool import __version__
from gantool.config import TrainConfig, apply_loss_defaults, read_toml
from gantool.data import describe_datasets
from gantool.distribute import STRATEGIES
from gantool.errors import GantoolError, UsageError
from gantool.losses import LOSSES
from gantool.models import ARCHITECTURES
from gantool.options import (
    DEFAULTS,
    DatasetSpec,
    IntList,
    ckpt_argument_help,
    fps_option,
    out_option,
    seed_option,
)

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
@click.option("--d-steps", "--n-critic", "d_steps", type=POSITIVE, default=DEFAULTS.d_steps,
              show_default=True, help="Discriminator steps per generator step (each on its own "
              "real batch; wgan-gp defaults to 5).")
@click.option("--g-steps", type=POSITIVE, default=DEFAULTS.g_steps, show_default=True,
              help="Generator steps per iteration.")
@click.option("--gp-weight", type=click.FloatRange(min=0), default=DEFAULTS.gp_weight,
              show_default=True, help="wgan-gp: gradient penalty weight.")
@click.option("--r1", type=click.FloatRange(min=0), default=DEFAULTS.r1, show_default=True,
              help="R1 penalty weight gamma on real data (gamma/2 * |grad D(x)|^2); 0 = off.")
@click.option("--spectral-norm", is_flag=True, help="Spectral normalisation on D's layers.")
@click.option("--ema", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              help="Keep an exponential moving average of G's weights with this decay (e.g. "
              "0.999); sample/animate/eval use it by default.")
@click.option("--instance-noise", type=click.FloatRange(min=0), default=DEFAULTS.instance_noise,
              show_default=True, help="Std of Gaussian noise added to D's inputs, decaying "
              "linearly to 0 over training.")
@click.option("--pack", type=POSITIVE, default=DEFAULTS.pack, show_default=True,
              help="PacGAN: D judges this many samples at once.")
@click.option("--conditional", is_flag=True, help="Class-conditional G and D (labelled data: "
              "tfds labels, folder: sub-folders, npz: y_train).")
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
@click.option("--steps-per-execution", type=POSITIVE, default=DEFAULTS.steps_per_execution,
              show_default=True, help="Training steps per call into TensorFlow (fewer Python "
              "round trips: faster for small models; logs then see every Nth step). Lowered to "
              "a divisor of the steps per epoch.")
@click.option("--dry-run", is_flag=True, help="A couple of steps of everything (smoke test).")
@click.option("--eval-every", type=POSITIVE, help="Every N epochs (and after the last) score the "
              "generator: FID (images) or mode metrics (ring/grid), as eval_* columns in "
              "metrics.csv and the plot.")
@click.option("--eval-n", type=POSITIVE,
              help="Samples per evaluation [default: 500 images, 2500 points].")
@click.option("--inception-weights", type=click.Path(dir_okay=False),
              help="FID Inception weights.npz [default: cached copy, else download].")
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
    explicit |= set(recipe)
    values = apply_loss_defaults(values, explicit)
    config = TrainConfig.from_dict(values, source=config_file or "options")
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
@click.option("--class", "class_id", type=click.IntRange(min=0),
              help="Conditional runs: draw this class only (default: one grid row per class).")
@click.option("--ema/--no-ema", default=True, show_default=True,
              help="Use the generator's moving-average weights when the run kept them.")
def sample(ckpt, n, seed, out, class_id, ema):
    """Draw samples from a trained (or still training) run."""
    _quiet_tensorflow()
    from gantool.checkpoints import resolve_checkpoint
    from gantool.sampling import sample as draw

    if out is None:
        out = os.path.join(resolve_checkpoint(ckpt)[0], "sample.png")
    paths = draw(ckpt, n=n, seed=seed, out=out, class_id=class_id, ema=ema)
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
@click.option("--ema/--no-ema", default=True, show_default=True,
              help="--interpolate: use the moving-average weights when the run kept them.")
def animate(run_dir, fps, out, evolution, interpolate, points, steps, seed, ema):
    """Build GIFs of training (fixed-latent samples over epochs) and an evolution still."""
    from gantool import animation

    if interpolate:
        _quiet_tensorflow()
        path = animation.interpolation_gif(run_dir, out, points=points, steps=steps, seed=seed,
                                           fps=fps, ema=ema)
        click.echo(f"wrote {path}")
        return
    gif = animation.training_gif(run_dir, out, fps=fps)
    still = animation.evolution_png(run_dir, evolution)
    click.echo(f"wrote {gif} and {still}")


@cli.command(name="eval")
@click.argument("run_dir", required=False, type=click.Path())
@click.option("--metrics", default="auto", show_default=True,
              help="Comma-separated: fid, kid, pr (images), modes (ring/grid runs); auto: all "
              "that apply.")
@click.option("--n", type=POSITIVE, default=10000, show_default=True,
              help="Generated samples, and at most as many real images.")
@click.option("--real-split", default="test", show_default=True,
              help="Reference split of the dataset (train where it has no such split).")
@click.option("--inception-weights", type=click.Path(dir_okay=False),
              help="FID Inception weights.npz [default: the cached copy, else download].")
@click.option("--samples", type=click.Path(exists=True),
              help="Score these instead of a run: a folder of images or a .npy uint8 array "
              "(N, H, W[, C]); float points (N, 2) for ring/grid. Needs --dataset.")
@click.option("--dataset", type=DatasetSpec(), help="--samples: the reference dataset.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="--samples: tensorflow-datasets data directory.")
@click.option("--image-size", type=POSITIVE, help="--samples: resize the reference images.")
@click.option("--channels", type=click.Choice(["1", "3"]),
              help="--samples: reference images as 1 (grey) or 3 (RGB) channels.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="--samples: also write the result to this JSON file (a run's result always "
              "goes to RUN_DIR/eval.json).")
@click.option("--batch-size", type=POSITIVE, default=50, show_default=True,
              help="Images per Inception batch.")
@click.option("--no-cache", is_flag=True,
              help="Recompute the real-data features instead of using the cache "
              "($GANTOOL_CACHE/real_stats, default ~/.cache/gantool/real_stats).")
@click.option("--ema/--no-ema", default=True, show_default=True,
              help="Score the generator's moving-average weights when the run kept them.")
@seed_option()
@click.option("--quiet", is_flag=True, help="No progress bars.")
def eval_command(run_dir, metrics, n, real_split, inception_weights, samples, dataset, data_dir,
                 image_size, channels, out, batch_size, no_cache, ema, seed, quiet):
    """Score a run: FID, KID, precision/recall (images) or mode metrics (ring/grid).

    \b
    gantool eval RUN_DIR [--metrics fid,kid,pr] [--n 10000] [--real-split test]
    gantool eval --samples FOLDER_OR_NPY --dataset NAME
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
    _quiet_tensorflow()
    from gantool import evaluation

    options = dict(metrics=metrics, n=n, real_split=real_split, seed=seed,
                   inception_weights=inception_weights, batch_size=batch_size,
                   progress=not quiet, use_cache=not no_cache)
    if run_dir is not None:
        result = evaluation.evaluate_run(run_dir, ema=ema, **options)
    else:
        result = evaluation.evaluate_samples(
            samples, dataset, data_dir=data_dir, image_size=image_size,
            channels=int(channels) if channels else None, out=out, **options)
    click.echo(evaluation.format_table(result))
    if run_dir is not None:
        click.echo(f"wrote {evaluation.EVAL_NAME} in {result['run']}")


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
