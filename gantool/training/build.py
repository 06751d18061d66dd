"""Building the GAN of a run: precision policy, models, optimizers, compile."""

import keras
import tensorflow as tf

from gantool.config import validate
from gantool.errors import UsageError
from gantool.fieldtypes import seed_bits
from gantool.gan import GAN, UPDATES
from gantool.models import build_models
from gantool.models.layers import INIT_SCHEMES
from gantool.training.ema import DEFAULT_RAMPUP, HalfLifeEmaAdam
from gantool.training.schedule import load_data
from gantool.training.transfer import freeze_first_layers

G_LATENTS = ("fresh", "same")


def validate_step(config):
    """Check the settings of the step built here (--update, --g-latents, --init,
    --adam-epsilon): a one-line :class:`UsageError` naming the value and the choices."""
    for name, choices in (("update", UPDATES), ("g_latents", G_LATENTS), ("init", INIT_SCHEMES)):
        value = getattr(config, name)
        if value not in choices:
            raise UsageError(f"unknown {name.replace('_', '-')} {value!r}; choose one of: "
                             f"{', '.join(choices)}")
    if not (isinstance(config.adam_epsilon, float) and 0 < config.adam_epsilon < 1):
        raise UsageError(f"adam-epsilon must be in (0, 1), e.g. 1e-8, got {config.adam_epsilon!r}")
    alternating = config.update == "alternating" or config.d_steps > 1 or config.g_steps > 1
    if config.g_latents == "same" and not alternating:
        raise UsageError("--g-latents same needs --update alternating (or --d-steps/--g-steps "
                         "> 1): the simultaneous update has one set of latents")


def augment_settings(config):
    """The GAN's augmentation arguments; --augment on data other than images is a usage error
    (``config.data_shape`` known)."""
    if config.augment != "none" and len(config.data_shape or ()) != 3:
        raise UsageError(f"--augment {config.augment} needs images (H, W, C); this dataset's "
                         f"examples have shape {tuple(config.data_shape or ())}")
    return dict(augment=config.augment, augment_policy=tuple(config.augment_policy.split(",")),
                ada_target=config.ada_target, ada_kimg=config.ada_kimg,
                ada_interval=config.ada_interval)


def set_precision(precision):
    keras.mixed_precision.set_global_policy(precision)


def adam(config, learning_rate, ema=None, ema_kimg=None):
    """Adam with the run's betas and epsilon (``--adam-epsilon``, Keras's 1e-7 by default);
    ``--ema``: Keras's optimizer keeps the moving average of the weights it updates (saved with
    the optimizer in checkpoints; see sampling.load_generator); ``--ema-kimg``: the same with a
    half-life in images (:class:`~gantool.training.ema.HalfLifeEmaAdam`)."""
    options = dict(beta_1=config.beta1, beta_2=config.beta2, epsilon=config.adam_epsilon)
    if ema_kimg is not None:
        optimizer = HalfLifeEmaAdam(
            learning_rate, half_life_kimg=ema_kimg, images_per_update=config.batch_size,
            rampup=DEFAULT_RAMPUP if config.ema_rampup is None else config.ema_rampup, **options)
    else:
        optimizer = keras.optimizers.Adam(learning_rate, use_ema=ema is not None,
                                          ema_momentum=ema if ema is not None else 0.99,
                                          **options)
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def build_gan(config, strategy, total_steps=None, steps_per_execution=1):
    """The compiled :class:`~gantool.gan.GAN` of ``config`` under ``strategy``, optimizer slots
    built, weights initialised from ``config.seed``."""
    set_precision(config.precision)
    with strategy.scope():
        keras.utils.set_random_seed(seed_bits(config.seed, 32))  # numpy's legacy seed: 32 bits
        try:
            generator, discriminator = build_models(config)
        except ValueError as e:
            raise UsageError(f"--arch {config.arch}: {e}") from None
        freeze_first_layers(discriminator, config.freeze_d)  # before compile: D's optimiser skips
        gan = GAN(generator, discriminator, latent_dim=config.latent_dim,
                  latent_dist=config.latent_dist, loss=config.loss,
                  label_smoothing=config.label_smoothing, seed=seed_bits(config.seed, 31),
                  d_steps=config.d_steps, g_steps=config.g_steps, gp_weight=config.gp_weight,
                  r1_gamma=config.r1, instance_noise=config.instance_noise,
                  total_steps=total_steps, pack=config.pack, conditional=config.conditional,
                  update=config.update, same_latents=config.g_latents == "same",
                  r2_gamma=config.r2, **augment_settings(config))
        gan.compile(d_optimizer=adam(config, config.d_learning_rate),
                    g_optimizer=adam(config, config.g_learning_rate, config.ema,
                                     config.ema_kimg),
                    jit_compile=config.jit, steps_per_execution=steps_per_execution)
        gan.build_optimizers()
    return gan


def print_summaries(generator, discriminator, print_fn=print):
    """Both networks' Keras summaries (layers, output shapes, total, trainable and
    non-trainable parameter counts), as the tutorials print them."""
    for model in (generator, discriminator):
        model.summary(print_fn=print_fn)


def summarise(config):
    """``gantool train --summary``: build ``config``'s networks for its data's shape and print
    their summaries, without training or writing anything."""
    validate(config)
    validate_step(config)
    _, shaped = load_data(config.replace(dry_run=True))  # a handful of examples give the shape
    config = config.replace(data_shape=shaped.data_shape, data_kind=shaped.data_kind,
                            num_classes=shaped.num_classes)
    set_precision(config.precision)
    keras.utils.set_random_seed(seed_bits(config.seed, 32))
    try:
        generator, discriminator = build_models(config)
    except ValueError as e:
        raise UsageError(f"--arch {config.arch}: {e}") from None
    print_summaries(generator, discriminator)


def scalar_logs_under_multi_worker(gan, strategy):
    """Work around Keras 3 (checked 3.15) ``fit()`` under a multi-worker
    ``MultiWorkerMirroredStrategy``: it reduces the step's logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on scalars ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388). Logs of shape (1,)
    reduce to the same scalars. Same condition as Keras's own (``_in_multi_worker_mode``)."""
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()):
        return
    step = gan.train_step
    gan.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in step(data).items()}
