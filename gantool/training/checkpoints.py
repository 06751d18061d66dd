"""Resumable checkpoints of a run: generator, discriminator, both optimizers, step and epoch.

``tf.train.CheckpointManager`` writes a checkpoint's files under temporary names, renames them
into place and only then rewrites the small ``checkpoint`` index file (itself written to a
temporary file and renamed). A process killed at any moment therefore leaves the index pointing
at the latest *complete* checkpoint. Checkpoints are numbered by training step; where they are
and how they are found is :mod:`gantool.rundir`'s.
"""

import numpy as np
import tensorflow as tf

from gantool import rundir
from gantool.errors import GantoolError, TrainingDiverged, UsageError


class RunCheckpoint:
    """Saves and restores the training state of a :class:`~gantool.gan.GAN` in ``directory``."""

    step_of = staticmethod(rundir.step_of)  # the step a checkpoint prefix was saved at

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
                                                  max_to_keep=keep,
                                                  checkpoint_name=rundir.CHECKPOINT_PREFIX[:-1])

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
