"""Resumable checkpoints of a run: generator, discriminator, both optimizers, step and epoch.

``tf.train.CheckpointManager`` writes a checkpoint's files under temporary names, renames them
into place and only then rewrites the small ``checkpoint`` index file (itself written to a
temporary file and renamed). A process killed at any moment therefore leaves the index pointing
at the latest *complete* checkpoint. Checkpoints are numbered by training step.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from gantool.errors import GantoolError, TrainingDiverged, UsageError

CHECKPOINT_DIR = "checkpoints"


class RunCheckpoint:
    """Saves and restores the training state of a :class:`~gantool.gan.GAN` in ``directory``."""

    def __init__(self, gan, directory, keep=3):
        self.gan = gan
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            epoch=self.epoch,
            step=self.step,
            # Dropout's random state, so that a resumed run draws the same masks.
            rng_states=random_states(gan.generator, gan.discriminator),
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory),
                                                  max_to_keep=keep)

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def save(self, step, epoch):
        """Write a checkpoint at training ``step`` (``epoch`` complete epochs); returns its path.

        Refuses to save non-finite weights, so a diverged run never replaces a good checkpoint.
        """
        for model in (self.gan.generator, self.gan.discriminator):
            if not all(np.isfinite(v.numpy()).all() for v in model.weights):
                raise TrainingDiverged(f"{model.name} weights are not finite at step {step}; "
                                       f"not saving (latest good checkpoint: {self.latest})")
        self.step.assign(step)
        self.epoch.assign(epoch)
        try:
            return self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as e:
            reason = getattr(e, "message", None) or str(e)
            raise GantoolError(f"could not write a checkpoint to {self.manager.directory} "
                               f"({reason.splitlines()[0]}); the previous checkpoint "
                               f"{self.latest} is kept") from None

    @staticmethod
    def step_of(path):
        """The training step checkpoint ``path`` (``.../ckpt-N``) was saved at; 0 for None."""
        return int(str(path).rsplit("-", 1)[1]) if path else 0

    def restore(self, path=None):
        """Restore ``path`` (default: the latest); returns ``(step, epoch)`` saved with it."""
        path = path or self.latest
        if path is None:
            raise UsageError(f"no checkpoint to resume from in {self.manager.directory}")
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise UsageError(f"checkpoint {path} does not match this run's models: "
                             f"{str(e).splitlines()[0]}") from None
        return int(self.step.numpy()), int(self.epoch.numpy())


def random_states(*models):
    """The state variables of the layers' Keras seed generators (e.g. Dropout), in layer order."""
    return [layer.seed_generator.state for model in models for layer in model._flatten_layers()
            if getattr(layer, "seed_generator", None) is not None]


def resolve_checkpoint(path):
    """Map a run directory or a checkpoint prefix to ``(run_dir, checkpoint_prefix)``.

    Accepts ``RUN_DIR``, ``RUN_DIR/checkpoints`` or ``RUN_DIR/checkpoints/ckpt-N``.
    """
    path = Path(path)
    if path.is_dir():
        ckpt_dir = path / CHECKPOINT_DIR if (path / CHECKPOINT_DIR).is_dir() else path
        prefix = tf.train.latest_checkpoint(str(ckpt_dir))
        if prefix is None:
            raise UsageError(f"{path}: no checkpoint found (expected a run directory "
                             f"with {CHECKPOINT_DIR}/ or a checkpoint path like ckpt-3)")
        return ckpt_dir.parent if ckpt_dir.name == CHECKPOINT_DIR else ckpt_dir, prefix
    if Path(str(path) + ".index").is_file():
        return path.parent.parent if path.parent.name == CHECKPOINT_DIR else path.parent, str(path)
    raise UsageError(f"{path}: not a run directory or checkpoint (expected RUN_DIR or "
                     f"RUN_DIR/{CHECKPOINT_DIR}/ckpt-N)")


def restore_generator(generator, prefix, g_optimizer=None):
    """Load the generator's weights (and, if given, its optimizer, e.g. for the EMA weights)
    from checkpoint ``prefix``."""
    parts = {"generator": generator}
    if g_optimizer is not None:
        parts["g_optimizer"] = g_optimizer
    try:
        status = tf.train.Checkpoint(**parts).restore(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise UsageError(f"checkpoint {prefix} does not fit the generator described by the run's "
                         f"config.json (another architecture?): {str(e).splitlines()[0]}") from None
