"""TensorBoard: ``step/*`` scalars (means over TENSORBOARD_STEP_WINDOW steps), ``epoch/*``
(the epoch means), ``eval/*`` (the evaluator's scores) and the sample images."""

import keras
import tensorflow as tf

from gantool.training.callbacks.logs import logged_names
from gantool.training.state import losses_finite

# TensorBoard's per-step curves get the mean of this many steps: writing the 6 scalars costs
# ~4 ms on a 2-core CPU, more than a whole step of a small model (step_profile.py, section 3).
TENSORBOARD_STEP_WINDOW = 10
EVAL_PREFIX = "eval_"  # the evaluator's entries in the epoch logs


class SummaryWriter:
    """TensorBoard scalars and images under ``RUN_DIR/tensorboard``."""

    def __init__(self, log_dir):
        self.writer = tf.summary.create_file_writer(str(log_dir))

    def scalars(self, values, step, prefix=""):
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(prefix + name, value)

    def image(self, name, picture, step):
        with self.writer.as_default(step=step):
            tf.summary.image(name, picture[None], max_outputs=1)
        self.writer.flush()

    def close(self):
        self.writer.close()


class TensorBoardScalars(keras.callbacks.Callback):
    """Writes the scalars; after the run's RunLog, whose step count and epoch means it reads."""

    def __init__(self, writer, state):
        super().__init__()
        self.writer = writer
        self.state = state

    def on_epoch_begin(self, epoch, logs=None):
        self.window = []  # finite step logs not yet written
        self.last_step = self.state.step

    def on_train_batch_end(self, batch, logs=None):
        step, previous = self.state.step, self.last_step
        self.last_step = step
        values = {k: float(logs[k]) for k in logged_names(logs)}  # aug_p, ... too
        if not losses_finite(values):
            return
        self.window.append(values)
        if step // TENSORBOARD_STEP_WINDOW > previous // TENSORBOARD_STEP_WINDOW:
            self._write_window()

    def _write_window(self):
        if self.window:
            means = {k: sum(v[k] for v in self.window) / len(self.window)
                     for k in self.window[-1]}
            self.writer.scalars(means, self.state.step, prefix="step/")
        self.window = []

    def on_epoch_end(self, epoch, logs=None):
        self._write_window()
        if self.state.stopped_mid_epoch or logs is None:
            return
        self.writer.scalars({k: logs[k] for k in logged_names(logs)}, epoch + 1,
                            prefix="epoch/")
        extras = {k: v for k, v in logs.items() if k.startswith(EVAL_PREFIX)}
        if extras:
            self.writer.scalars(extras, epoch + 1, prefix="eval/")
