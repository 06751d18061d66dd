"""``gantool train``: options -> TrainConfig -> :func:`gantool.training.train`.

The flags of architecture settings are made from the architectures' declarations (see
:mod:`gantool.models.architecture`) when the command runs, so that ``--help`` lists every
registered architecture's settings and a setting of another architecture is refused.
"""

import click
from click.core import ParameterSource

from gantool.cli.options import (
    DEFAULTS,
    FRACTION,
    LEARNING_RATE,
    POSITIVE,
    DatasetSpec,
    RegistryChoice,
    SettingType,
    architectures,
    channels_option,
    data_dir_option,
    inception_weights_option,
    losses,
    out_option,
    quiet_option,
    quiet_tensorflow,
    seed_option,
)
from gantool.config import TrainConfig, apply_loss_defaults, read_toml
from gantool.config.train_config import BUDGET_EPOCHS
from gantool.data import describe_datasets
from gantool.distribute import STRATEGIES
from gantool.models.architecture import all_settings


class TrainCommand(click.Command):
    """A command whose parameters include one flag per declared architecture setting."""

    def get_params(self, ctx):
        return [*super().get_params(ctx), *architecture_setting_options()]


def architecture_setting_options():
    """A Click option per architecture setting; defaults stay None so that the chosen
    architecture's own default applies and an unused setting can be told from a given one."""
    architectures()  # registers the built-in architectures
    params = []
    for setting, owners in all_settings().values():
        flags = ([f"{setting.flag}/--no-{setting.flag[2:]}"] if setting.kind == "bool"
                 else [setting.flag])
        params.append(click.Option(
            [*flags, setting.name], default=None, type=None if setting.kind == "bool"
            else SettingType(setting),
            help=f"{', '.join(owners)}: {setting.help} [default: {setting.format_default()}]"))
    return params


def trackers():
    from gantool.trackers import TRACKERS

    return TRACKERS


@click.command(cls=TrainCommand, epilog="Datasets:\n\n\b\n" + describe_datasets())
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML recipe; options given on the command line override its values.")
@click.option("--arch", type=RegistryChoice(architectures, "ARCH"), default=DEFAULTS.arch,
              show_default=True, help="Generator/discriminator architecture.")
@click.option("--dataset", type=DatasetSpec(), default=DEFAULTS.dataset, show_default=True,
              help="Dataset name (see below) or folder:PATH, npz:PATH, npy:PATH.")
@data_dir_option()
@click.option("--image-size", type=POSITIVE, help="Resize images to this square size "
              "(folder: and celeb_a default to 64).")
@channels_option()
@click.option("--max-examples", type=POSITIVE, help="Use only the first N training examples.")
@click.option("--skip-bad-images", is_flag=True, help="folder: datasets: train on the images "
              "that decode, with a warning naming the others (default: refuse the folder).")
@click.option("--epochs", type=POSITIVE, default=DEFAULTS.epochs, show_default=True,
              help="Epochs to train (with --time-budget: an upper bound, default none; a "
              "recipe's epochs bound only a budget the recipe sets itself).")
@click.option("--time-budget", type=click.FloatRange(min=0, min_open=True), metavar="MINUTES",
              help="Train for this many wall-clock minutes (counted from the end of the first "
              "step), then stop at a step boundary with the usual final outputs; a resumed run "
              "spends what is left (a larger value extends it).")
@click.option("--batch-size", type=POSITIVE, default=DEFAULTS.batch_size, show_default=True,
              help="Global batch size (split across replicas).")
@click.option("--steps-per-epoch", type=POSITIVE, help="Cap on steps per epoch.")
@click.option("--latent-dim", type=POSITIVE, default=DEFAULTS.latent_dim, show_default=True)
@click.option("--latent-dist", type=click.Choice(["normal", "uniform"]),
              default=DEFAULTS.latent_dist, show_default=True,
              help="Latent prior: N(0, 1) or U(-1, 1).")
@click.option("--loss", type=RegistryChoice(losses, "LOSS"), default=DEFAULTS.loss,
              show_default=True, help="GAN objective (ns: non-saturating).")
@click.option("--lr", type=LEARNING_RATE, default=DEFAULTS.lr, show_default=True,
              help="Learning rate of both networks.")
@click.option("--d-lr", type=LEARNING_RATE, help="Discriminator learning rate (default: --lr).")
@click.option("--g-lr", type=LEARNING_RATE, help="Generator learning rate (default: --lr).")
@click.option("--lr-schedule", type=click.Choice(["constant", "linear", "cosine"]),
              default=DEFAULTS.lr_schedule, show_default=True, help="Both learning rates as a "
              "function of training progress (steps, or time under --time-budget): linear and "
              "cosine decay to 0 at the end.")
@click.option("--lr-warmup", type=FRACTION, default=DEFAULTS.lr_warmup, show_default=True,
              metavar="FRACTION", help="Rise linearly from 0 over this fraction of training.")
@click.option("--beta1", type=FRACTION, default=DEFAULTS.beta1, show_default=True,
              help="Adam beta_1.")
@click.option("--beta2", type=FRACTION, default=DEFAULTS.beta2, show_default=True,
              help="Adam beta_2.")
@click.option("--adam-epsilon", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              default=DEFAULTS.adam_epsilon, show_default=True,
              help="Adam epsilon (Keras's; TensorFlow 1, PyTorch and MXNet use 1e-8).")
@click.option("--label-smoothing", type=FRACTION, default=DEFAULTS.label_smoothing,
              show_default=True, help="One-sided: real labels become 1 - VALUE.")
@seed_option()
@click.option("--init", type=click.Choice(["dcgan", "glorot-uniform", "torch"]),
              default=DEFAULTS.init, show_default=True, help="Initial weights: dcgan N(0, 0.02) "
              "(BN gamma N(1, 0.02)), glorot-uniform (TensorFlow 1 / Keras), torch (PyTorch's).")
@click.option("--update", type=click.Choice(["simultaneous", "alternating"]),
              default=DEFAULTS.update, show_default=True, help="simultaneous: D and G from one "
              "forward pass; alternating: D's update, then G's through the updated D.")
@click.option("--g-latents", type=click.Choice(["fresh", "same"]), default=DEFAULTS.g_latents,
              show_default=True, help="Alternating: G's step draws fresh latents or reuses D's.")
@click.option("--d-steps", "--n-critic", "d_steps", type=POSITIVE, default=DEFAULTS.d_steps,
              show_default=True, help="Discriminator steps per generator step (each on its own "
              "real batch; wgan-gp defaults to 5).")
@click.option("--g-steps", type=POSITIVE, default=DEFAULTS.g_steps, show_default=True,
              help="Generator steps per iteration.")
@click.option("--gp-weight", type=click.FloatRange(min=0), default=DEFAULTS.gp_weight,
              show_default=True, help="wgan-gp: gradient penalty weight.")
@click.option("--r1", type=click.FloatRange(min=0), default=DEFAULTS.r1, show_default=True,
              help="R1 penalty weight gamma on real data (gamma/2 * |grad D(x)|^2); 0 = off.")
@click.option("--r2", type=click.FloatRange(min=0), default=DEFAULTS.r2, show_default=True,
              help="R2 penalty weight gamma on generated data (gamma/2 * |grad D(G(z))|^2, "
              "R3GAN: with --loss rpgan and --r1); 0 = off.")
@click.option("--augment", type=click.Choice(["none", "diffaugment", "ada"]),
              default=DEFAULTS.augment, show_default=True, help="Augment D's real and fake "
              "inputs (images only): diffaugment always (Zhao et al. 2020), ada with an "
              "adaptive probability p (Karras et al. 2020; logged as aug_p).")
@click.option("--augment-policy", default=DEFAULTS.augment_policy, show_default=True,
              help="--augment: operations, comma-separated, from color, translation, cutout.")
@click.option("--ada-target", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              default=DEFAULTS.ada_target, show_default=True, help="--augment ada: p rises "
              "while E[sign(D(real))] (logged as d_sign_real) is above this.")
@click.option("--ada-kimg", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULTS.ada_kimg, show_default=True, help="--augment ada: thousands of "
              "images for p to move from 0 to 1 (500 as in the paper; smaller for short runs).")
@click.option("--ada-interval", type=POSITIVE, default=DEFAULTS.ada_interval, show_default=True,
              help="--augment ada: D steps between updates of p.")
@click.option("--spectral-norm", is_flag=True, help="Spectral normalisation on D's layers.")
@click.option("--ema", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              help="Keep an exponential moving average of G's weights with this decay (e.g. "
              "0.999); sample/animate/eval use it by default.")
@click.option("--ema-kimg", type=click.FloatRange(min=0, min_open=True), metavar="KIMG",
              help="Like --ema, with a half-life of KIMG thousand images (StyleGAN2-ADA's "
              "ema_kimg): decay 0.5 ** (batch size / half-life) per G update.")
@click.option("--ema-rampup", type=click.FloatRange(min=0, max=1), metavar="R",
              help="--ema-kimg: half-life at most images seen * R early on (0: off) "
              "[default: 0.05].")
@click.option("--instance-noise", type=click.FloatRange(min=0), default=DEFAULTS.instance_noise,
              show_default=True, help="Std of Gaussian noise added to D's inputs, decaying "
              "linearly to 0 over training.")
@click.option("--pack", type=POSITIVE, default=DEFAULTS.pack, show_default=True,
              help="PacGAN: D judges this many samples at once.")
@click.option("--conditional", is_flag=True, help="Class-conditional G and D (labelled data: "
              "tfds labels, folder: sub-folders, npz: y_train).")
@click.option("--init-from", metavar="RUN_OR_CHECKPOINT", help="Transfer learning: start from "
              "this run's (or checkpoint's) G and D weights (and EMA), optimisers fresh; same "
              "architecture settings and data shape, any dataset.")
@click.option("--freeze-d", type=click.IntRange(min=0), default=DEFAULTS.freeze_d,
              show_default=True, help="FreezeD: keep D's first N weight layers fixed.")
@out_option("Run directory (default: runs/ARCH-DATASET-TIME).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--force", is_flag=True, help="Delete an existing --out and start again.")
@click.option("--sample-every", type=POSITIVE, default=DEFAULTS.sample_every, show_default=True,
              help="Save a fixed-latent sample grid every N epochs.")
@click.option("--sample-every-steps", type=POSITIVE, help="Also save the fixed-latent samples "
              "every N steps (samples/step_NNNNNNN.png/.npy; the GIF then uses them).")
@click.option("--checkpoint-every", type=POSITIVE, default=DEFAULTS.checkpoint_every,
              show_default=True, help="Save a checkpoint every N epochs.")
@click.option("--keep", type=POSITIVE, default=DEFAULTS.keep, show_default=True,
              help="Checkpoints to keep.")
@click.option("--grid-size", type=POSITIVE, default=DEFAULTS.grid_size, show_default=True,
              help="Images in each sample grid.")
@click.option("--tensorboard/--no-tensorboard", default=DEFAULTS.tensorboard, show_default=True,
              help="Write TensorBoard events under RUN_DIR/tensorboard.")
@click.option("--track", type=RegistryChoice(trackers, "TRACKER"), multiple=True,
              help="Also log the scalars, sample images and settings to this experiment "
              "tracker (repeat for several; needs gantool[mlflow] or gantool[wandb]).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=DEFAULTS.strategy,
              show_default=True, help="tf.distribute strategy (auto: mirrored on several GPUs).")
@click.option("--cpu-devices", type=POSITIVE,
              help="Split the CPU into N logical devices (to run 'mirrored' without GPUs).")
@click.option("--tpu", help="--strategy tpu: TPU name or address (default: the local TPU).")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
              default=DEFAULTS.precision, show_default=True,
              help="Layers compute in 16 bits, weights and losses stay float32. mixed_float16 "
              "(with loss scaling) needs a GPU; mixed_bfloat16 also speeds up CPUs with "
              "AVX512-BF16 or AMX (about 1.3x on the DCGAN steps measured); elsewhere it "
              "may be slower than float32.")
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
@click.option("--dry-run", is_flag=True, help="A couple of steps of everything (smoke test); "
              "prints both networks' summaries.")
@click.option("--summary", is_flag=True, help="Build the networks, print their Keras summaries "
              "(parameter counts) and exit: no training, no run directory.")
@click.option("--eval-every", type=POSITIVE, help="Every N epochs (and after the last) score the "
              "generator: FID (images) or mode metrics (ring/grid), as eval_* columns in "
              "metrics.csv and the plot.")
@click.option("--eval-n", type=POSITIVE,
              help="Samples per evaluation [default: 500 images, 2500 points].")
@inception_weights_option()
@quiet_option()
@click.pass_context
def train(ctx, config_file, resume, force, quiet, summary, **options):
    """Train a GAN and write a self-describing run directory."""
    config, explicit = config_from_command_line(ctx, config_file, options)
    quiet_tensorflow()
    if summary:
        from gantool.training.build import summarise

        return summarise(config)
    from gantool.training import train as run_training

    result = run_training(config, resume=resume, force=force, explicit=explicit,
                          progress=not quiet)
    if result.budget_spent:
        click.echo(f"time budget spent after {result.steps_done} steps")
    click.echo(f"done: {result.epochs_done} epochs; outputs in {result.run_dir}/ "
               "(samples/, training.png, metrics.csv, checkpoints/, generator.keras)")


def config_from_command_line(ctx, config_file, options):
    """The TrainConfig from a TOML recipe and the options (given ones win), and the names of the
    settings the user gave explicitly."""
    recipe = read_toml(config_file) if config_file else {}
    explicit = {k for k in options
                if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    options["track"] = list(options.get("track") or ())  # repeated --track: a list
    if options.get("channels") is not None:
        options["channels"] = int(options["channels"])
    # architecture settings not given keep the architecture's defaults (in TrainConfig)
    options = {k: v for k, v in options.items() if k not in all_settings() or k in explicit}
    values = {**options, **recipe, **{k: options[k] for k in explicit}}
    # a recipe's epochs bound its own budget, not one asked for on the command line
    epochs_bound = "epochs" in explicit or ("epochs" in recipe and "time_budget" in recipe)
    explicit |= set(recipe)
    values = apply_loss_defaults(values, explicit)
    if values.get("time_budget") is not None and not epochs_bound:
        values["epochs"] = BUDGET_EPOCHS  # the budget ends training
    return TrainConfig.from_dict(values, source=config_file or "options"), explicit
