"""Resumable checkpoints of a run: generator, discriminator, both optimizers and the epoch.

``tf.train.CheckpointManager`` writes each checkpoint's files under temporary names and then
updates the small ``checkpoint`` index file atomically, so an interrupted save leaves the previous
checkpoint as the latest complete one.
"""

from pathlib import Path

import tensorflow as tf

from gantool.errors import GantoolError, UsageError

CHECKPOINT_DIR = "checkpoints"


class RunCheckpoint:
    """Saves and restores the training state of a :class:`~gantool.gan.GAN` in ``directory``."""

    def __init__(self, gan, directory, keep=3):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.checkpoint = tf.train.Checkpoint(
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            epoch=self.epoch,
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory),
                                                  max_to_keep=keep)

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def save(self, epoch):
        """Write a checkpoint for the end of ``epoch``; returns its path prefix."""
        self.epoch.assign(epoch)
        try:
            return self.manager.save(checkpoint_number=epoch)
        except (OSError, tf.errors.OpError) as e:
            raise GantoolError(f"could not write a checkpoint to {self.manager.directory}: "
                               f"{getattr(e, 'message', e)}; the previous checkpoint is kept") from None

    def restore(self, path=None):
        """Restore ``path`` (default: the latest); returns the epoch it was saved at."""
        path = path or self.latest
        if path is None:
            raise UsageError(f"no checkpoint to resume from in {self.manager.directory}")
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise UsageError(f"checkpoint {path} does not match this run's models: "
                             f"{str(e).splitlines()[0]}") from None
        return int(self.epoch.numpy())


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


def restore_generator(generator, prefix):
    """Load only the generator's weights from checkpoint ``prefix``."""
    try:
        status = tf.train.Checkpoint(generator=generator).restore(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise UsageError(f"checkpoint {prefix} does not fit the generator described by the run's "
                         f"config.json (another architecture?): {str(e).splitlines()[0]}") from None
