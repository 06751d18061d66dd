"""Resumable checkpoints of a run: generator, discriminator, both optimizers, step and epoch.

``tf.train.CheckpointManager`` writes a checkpoint's files under temporary names, renames them
into place and only then rewrites the small ``checkpoint`` index file (itself written to a
temporary file and renamed). A process killed at any moment therefore leaves the index pointing
at the latest *complete* checkpoint. Checkpoints are numbered by training step; where they are
and how they are found is :mod:`gantool.rundir`'s.
"""

import shutil
import sys

import numpy as np
import tensorflow as tf

from gantool import rundir
from gantool.errors import GantoolError, TrainingDiverged, UsageError, first_line


class RunCheckpoint:
    """Saves and restores the training state of a :class:`~gantool.gan.GAN` in ``directory``."""

    step_of = staticmethod(rundir.step_of)  # the step a checkpoint prefix was saved at

    def __init__(self, gan, directory, keep=3, extras=None):
        """``extras``: more variables to save by name (e.g. a budgeted run's training seconds);
        a checkpoint without one of them (an older run's) restores the rest and leaves it."""
        self.gan = gan
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.extras = dict(extras or {})
        self.checkpoint = self._checkpoint(self.extras)
        self.manager = self._manager(directory, keep)

    def _checkpoint(self, extras):
        gan = self.gan
        return tf.train.Checkpoint(
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            epoch=self.epoch,
            step=self.step,
            # Dropout's random state, so that a resumed run draws the same masks.
            rng_states=random_states(gan.generator, gan.discriminator),
            **augment_state(gan),
            **extras,
        )

    def _manager(self, directory, keep):
        """The CheckpointManager of ``directory``; an unreadable ``checkpoint`` index file (empty,
        binary) is rewritten from the checkpoint files there, with a warning."""
        def make():
            return tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=keep,
                                              checkpoint_name=rundir.CHECKPOINT_PREFIX[:-1])
        try:
            return make()
        except Exception as e:  # noqa: BLE001 (UnicodeDecodeError, protobuf ParseError, ...)
            index = rundir.Path(directory) / "checkpoint"
            print(f"warning: {index} is unreadable ({type(e).__name__}); rebuilt from the "
                  "checkpoint files", file=sys.stderr)
            _write_index(index, rundir.checkpoints(directory))
            return make()

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
        temps = rundir.Path(self.manager.directory).glob
        before = set(temps(f"*-{step}_temp*"))
        try:
            return self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as e:
            for temp in set(temps(f"*-{step}_temp*")) - before:  # this save's partial files
                shutil.rmtree(temp, ignore_errors=True) if temp.is_dir() else temp.unlink(True)
            reason = getattr(e, "message", None) or str(e)
            raise GantoolError(f"could not write a checkpoint to {self.manager.directory} "
                               f"({reason.splitlines()[0]}); the previous checkpoint "
                               f"{self.latest} is kept") from None

    def restore(self, path=None):
        """Restore ``path`` (default: the latest), or where it is damaged the newest intact
        checkpoint before it (see :func:`newest_intact`); returns ``(step, epoch)`` saved with
        it. After a fallback the ``checkpoint`` index names the restored one, so that training
        writes over the damaged ones."""
        path = path or self.latest or rundir.latest_checkpoint(self.manager.directory)
        if path is None:
            raise UsageError(f"no checkpoint to resume from in {self.manager.directory}")
        intact = newest_intact(path)
        try:
            saved = {name.split("/")[0] for name, _ in tf.train.list_variables(intact)}
            held = {k: v for k, v in self.extras.items() if k in saved}
            checkpoint = (self.checkpoint if len(held) == len(self.extras)
                          else self._checkpoint(held))
            checkpoint.restore(intact).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise UsageError(f"checkpoint {intact} does not match this run's models: "
                             f"{str(e).splitlines()[0]}") from None
        if intact != self.latest:
            self._restart_manager(intact)
        return int(self.step.numpy()), int(self.epoch.numpy())

    def _restart_manager(self, latest):
        directory, keep = self.manager.directory, self.manager._max_to_keep
        older = [p for p in reversed(rundir.checkpoints(directory))
                 if rundir.step_of(p) < rundir.step_of(latest) and damage(p) is None]
        _write_index(rundir.Path(directory) / "checkpoint", [latest, *reversed(older)])
        self.manager = self._manager(directory, keep)


def _write_index(path, prefixes):
    """TensorFlow's ``checkpoint`` index file naming ``prefixes`` (newest first); none: removed."""
    if not prefixes:
        path.unlink(missing_ok=True)
        return
    names = [rundir.Path(p).name for p in prefixes]
    lines = [f'model_checkpoint_path: "{names[0]}"',
             *(f'all_model_checkpoint_paths: "{n}"' for n in reversed(names))]
    rundir.write_text(path, "\n".join(lines) + "\n")


def damage(prefix):
    """None when every tensor of checkpoint ``prefix`` reads back, else why not (one line):
    a truncated ``.data`` or ``.index`` file, a missing one."""
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (IndexError, ValueError, OSError, RuntimeError, tf.errors.OpError) as e:
        return first_line(e)
    return None


def newest_intact(prefix):
    """``prefix`` when it reads back, else the newest older checkpoint beside it that does,
    with a one-line warning naming each damaged one; none intact is a :class:`GantoolError`."""
    step = rundir.step_of(prefix)
    older = [p for p in rundir.checkpoints(rundir.Path(prefix).parent)
             if rundir.step_of(p) < step]
    damaged = []  # (prefix, why)
    for candidate in [str(prefix), *sorted(older, key=rundir.step_of, reverse=True)]:
        problem = damage(candidate)
        if problem is None:
            if damaged:
                more = f"; {len(damaged) - 1} more damaged" if len(damaged) > 1 else ""
                print(f"warning: checkpoint {damaged[0][0]} is damaged ({damaged[0][1]}); using "
                      f"{candidate}{more}", file=sys.stderr)
            return candidate
        damaged.append((candidate, problem))
    more = f", and so are the {len(damaged) - 1} before it" if len(damaged) > 1 else ""
    raise GantoolError(f"no intact checkpoint: {damaged[0][0]} is damaged ({damaged[0][1]}){more}")


def augment_state(gan):
    """``--augment ada``: its probability p and accumulators, so a resumed run continues with
    the same p (nothing for other runs: their checkpoints keep their layout)."""
    variables = getattr(getattr(gan, "augmenter", None), "variables", None)
    return {"augment": list(variables)} if variables else {}


def random_states(*models):
    """The state variables of the layers' Keras seed generators (e.g. Dropout), in layer order."""
    return [layer.seed_generator.state for model in models for layer in model._flatten_layers()
            if getattr(layer, "seed_generator", None) is not None]
