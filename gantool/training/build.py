"""Building the GAN of a run: precision policy, models, optimizers, compile."""

import keras
import tensorflow as tf

from gantool.errors import UsageError
from gantool.gan import GAN
from gantool.models import build_models


def set_precision(precision):
    keras.mixed_precision.set_global_policy(precision)


def adam(config, learning_rate, ema=None):
    """Adam with the run's betas; ``--ema``: Keras's optimizer keeps the moving average of the
    weights it updates (saved with the optimizer in checkpoints; see sampling.load_generator)."""
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=config.beta1, beta_2=config.beta2,
                                      use_ema=ema is not None,
                                      ema_momentum=ema if ema is not None else 0.99)
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def build_gan(config, strategy, total_steps=None, steps_per_execution=1):
    """The compiled :class:`~gantool.gan.GAN` of ``config`` under ``strategy``, optimizer slots
    built, weights initialised from ``config.seed``."""
    set_precision(config.precision)
    with strategy.scope():
        keras.utils.set_random_seed(config.seed)
        try:
            generator, discriminator = build_models(config)
        except ValueError as e:
            raise UsageError(f"--arch {config.arch}: {e}") from None
        gan = GAN(generator, discriminator, latent_dim=config.latent_dim,
                  latent_dist=config.latent_dist, loss=config.loss,
                  label_smoothing=config.label_smoothing, seed=config.seed,
                  d_steps=config.d_steps, g_steps=config.g_steps, gp_weight=config.gp_weight,
                  r1_gamma=config.r1, instance_noise=config.instance_noise,
                  total_steps=total_steps, pack=config.pack, conditional=config.conditional)
        gan.compile(d_optimizer=adam(config, config.d_learning_rate),
                    g_optimizer=adam(config, config.g_learning_rate, config.ema),
                    jit_compile=config.jit, steps_per_execution=steps_per_execution)
        gan.build_optimizers()
    return gan


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
