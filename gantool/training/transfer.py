"""Transfer learning: ``--init-from RUN_OR_CHECKPOINT`` and ``--freeze-d N`` (FreezeD).

A new run (any dataset of the same data shape) starts from another run's generator and
discriminator weights, and its generator's moving averages when both runs use ``--ema``; the
optimisers start fresh (Adam's moments at 0, step 0). Keras's EMA overwrites the average with
the live weights on an optimizer's first step, so the transferred average matters for step 0
only. ``--freeze-d N`` (Mo et al. 2020) marks D's first N layers that own trainable weights
(convolutions, dense layers, normalisations, embeddings, in layer order) non-trainable before
the GAN is compiled, so D's optimiser skips them.
"""

import tensorflow as tf

from gantool import rundir
from gantool.errors import UsageError
from gantool.losses import LOSSES

# settings that define the networks' weights: they must match between the two runs
MODEL_SETTINGS = ("arch", "latent_dim", "data_shape", "conditional", "num_classes",
                  "spectral_norm", "pack")


def _model_settings(config):
    """The settings of ``config`` that shape G's and D's weights, as a dict."""
    values = {k: getattr(config, k) for k in MODEL_SETTINGS}
    values["data_shape"] = list(values["data_shape"] or [])
    values["gradient_penalty"] = LOSSES.get(config.loss).needs_gradient_penalty  # D's norm
    if not config.conditional:
        values["num_classes"] = None
    return {**values, **config.arch_options}


def resolve_init_from(config):
    """``config`` with ``init_from`` replaced by the checkpoint it names (a run directory's
    latest, or the one given), which ``config.json`` records. ``config.data_shape`` must be
    known.

    Raises :class:`UsageError` when the path is no run or checkpoint, or when a setting that
    shapes the networks differs between the two runs (naming it).
    """
    if not config.init_from:
        return config
    source = rundir.Run.open(config.init_from)
    ours, theirs = _model_settings(config), _model_settings(source.config)
    for key in sorted(set(ours) | set(theirs)):
        if ours.get(key) != theirs.get(key):
            raise UsageError(
                f"--init-from {config.init_from}: its {key.replace('_', '-')} is "
                f"{theirs.get(key)!r}, this run's is {ours.get(key)!r}; the networks must "
                "match (same architecture settings and data shape)")
    return config.replace(init_from=str(source.checkpoint))


def load_init_weights(gan, config):
    """Load G's and D's weights (and G's EMA where both runs keep one) from the checkpoint
    ``config.init_from`` (resolved) into the built, compiled ``gan``; optimisers stay fresh."""
    from gantool.training.checkpoints import newest_intact

    prefix = newest_intact(config.init_from)
    networks = tf.train.Checkpoint(generator=gan.generator, discriminator=gan.discriminator)
    try:
        networks.restore(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise UsageError(f"--init-from {prefix} does not fit this run's networks: "
                         f"{str(e).splitlines()[0]}") from None
    if config.ema or config.ema_kimg:
        _copy_ema(gan, prefix)


def _copy_ema(gan, prefix):
    """Set G's moving averages to the source's (when it kept them) or else to G's weights."""
    import keras

    source = rundir.read_config(rundir.resolve(prefix)[0])
    averages = gan.g_optimizer._model_variables_moving_average
    values = [v.numpy() for v in gan.generator.trainable_variables]
    if source.ema or source.ema_kimg:
        theirs = keras.optimizers.Adam(use_ema=True, ema_momentum=source.ema or 0.99)
        theirs.build(gan.generator.trainable_variables)
        tf.train.Checkpoint(g_optimizer=theirs).restore(prefix).expect_partial()
        values = [v.numpy() for v in theirs._model_variables_moving_average]
    for average, value in zip(averages, values):
        average.assign(value)


def weight_layers(model):
    """The layers of ``model`` that own trainable weights, in layer order."""
    return [layer for layer in model.layers if layer.trainable_weights]


def freeze_first_layers(discriminator, n):
    """Mark the first ``n`` weight layers of ``discriminator`` non-trainable (before compiling).

    Raises :class:`UsageError` if it has fewer than ``n`` such layers.
    """
    if not isinstance(n, int) or n < 0:
        raise UsageError(f"--freeze-d must be a whole number >= 0, got {n!r}")
    if not n:
        return
    layers = weight_layers(discriminator)
    if n > len(layers):
        raise UsageError(f"--freeze-d {n}: the discriminator has only {len(layers)} weight "
                         f"layers ({', '.join(layer.name for layer in layers)})")
    for layer in layers[:n]:
        layer.trainable = False
