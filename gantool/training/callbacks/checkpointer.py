"""Checkpoints during training, and ``generator.keras``."""

from pathlib import Path

import keras

from gantool import rundir


class Checkpointer(keras.callbacks.Callback):
    """Checkpoints every ``every`` epochs and after the last (plus ``generator.keras``), on a
    stop request (SIGINT/SIGTERM) at the end of the current step, and at step 0 so that
    ``--on-nan rollback`` always has a state to return to."""

    def __init__(self, run_checkpoint, run_dir, state, every):
        super().__init__()
        self.run_checkpoint = run_checkpoint
        self.run_dir = Path(run_dir)
        self.state = state
        self.every = every

    def on_train_begin(self, logs=None):
        if self.run_checkpoint.latest is None:
            self.run_checkpoint.save(self.state.step, self.state.epochs_done)

    def on_train_batch_end(self, batch, logs=None):
        if self.state.interrupted and not self.model.stop_training:
            self.run_checkpoint.save(self.state.step, self.state.epochs_done)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if self.state.stopped_mid_epoch or (epoch % self.every and epoch != self.state.epochs):
            return
        latest = self.run_checkpoint.latest or ""
        if not latest.endswith(f"{rundir.CHECKPOINT_PREFIX}{self.state.step}"):
            self.run_checkpoint.save(self.state.step, epoch)  # (a stop request may have saved it)
        with rundir.atomic_path(self.run_dir / rundir.GENERATOR) as tmp:
            self.model.generator.save(tmp)
