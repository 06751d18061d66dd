"""What a non-finite loss does (``--on-nan``): stop training, or roll back and continue."""

import math

import keras
from tqdm.auto import tqdm

from gantool.errors import TrainingDiverged
from gantool.training.state import losses_finite

ROLLBACK_LR_FACTOR = 0.5
MAX_ROLLBACKS = 5


class NanPolicy(keras.callbacks.Callback):
    """After the run's RunLog (which has logged the step): with ``on_nan="stop"`` a non-finite
    loss ends training (no checkpoint is overwritten); with ``"rollback"`` the latest checkpoint
    is restored and both learning rates are multiplied by ``ROLLBACK_LR_FACTOR``, at most
    ``MAX_ROLLBACKS`` times. (The Checkpointer saves at step 0, so there is always one.)"""

    ROLLBACK_LR_FACTOR = ROLLBACK_LR_FACTOR
    MAX_ROLLBACKS = MAX_ROLLBACKS

    def __init__(self, run_checkpoint, state):
        super().__init__()
        self.run_checkpoint = run_checkpoint
        self.state = state

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if losses_finite(logs):
            return
        if self.state.on_nan == "rollback":
            self.rollback()
            return
        values = {k: float(logs[k]) for k in ("d_loss", "g_loss")}
        bad = next(k for k, v in values.items() if not math.isfinite(v))
        raise TrainingDiverged(
            f"non-finite {bad} ({values[bad]}) at step {self.state.step} (epoch "
            f"{self.current_epoch + 1}); training stopped and no checkpoint was "
            "overwritten (--on-nan rollback restores the last good one and continues)")

    def rollback(self):
        self.state.rollbacks += 1
        if self.state.rollbacks > self.MAX_ROLLBACKS:
            raise TrainingDiverged(f"losses still non-finite after {self.MAX_ROLLBACKS} rollbacks "
                                   f"(step {self.state.step}); giving up")
        path = self.run_checkpoint.latest
        self.run_checkpoint.checkpoint.restore(path)
        for optimizer in (self.model.d_optimizer, self.model.g_optimizer):
            optimizer.learning_rate.assign(optimizer.learning_rate * self.ROLLBACK_LR_FACTOR)
        tqdm.write(f"non-finite loss at step {self.state.step}: restored {path} and halved the "
                   f"learning rates (D {float(self.model.d_optimizer.learning_rate):.3g}, "
                   f"G {float(self.model.g_optimizer.learning_rate):.3g})")
