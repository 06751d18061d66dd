"""Training progress and ``--time-budget``.

Progress is a fraction of training in [0, 1]: ``step / total_steps``, or under a time budget
the larger of that and ``elapsed training seconds / budget``. It is set, once per step (every
Kth with ``--steps-per-execution`` K), in the GAN's float32 variable ``gan.progress``, which the
traced step reads (instance noise under a budget), and read on the host by the learning-rate
schedule (:mod:`gantool.training.lr_schedule`).

The budget clock is the wall clock from the end of this process's first step (data loading,
graph tracing and that first step are not counted; epoch-end outputs between steps are) plus
the seconds the checkpoint saved (``elapsed_seconds``), so a resumed run spends what is left.
Wall-clock progress makes a budgeted run's schedules, and so its resume, not bitwise
reproducible; without a budget everything stays a function of the step.
"""

import time

import keras
import tensorflow as tf


def progress_variable(gan, strategy):
    """Give ``gan`` its ``progress`` variable (float32 scalar, 0 to 1, not trainable)."""
    with strategy.scope():
        gan.progress = tf.Variable(0.0, dtype=tf.float32, trainable=False, name="progress")
    return gan.progress


def elapsed_variable():
    """The checkpointed training seconds of a budgeted run (float64 scalar)."""
    return tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds")


class TrainingClock(keras.callbacks.Callback):
    """Sets ``progress`` at each step's beginning and, with ``budget`` (seconds), stops training
    at the end of the first step at or past it: that epoch becomes the run's last
    (``state.epochs``), so the callbacks write what they write after a last epoch (metrics row,
    plot, checkpoint, generator.keras, samples, scores), for a partial epoch too.

    ``elapsed``: the variable the checkpoint saves the training seconds in (restored on resume),
    kept current at each step's end, before the Checkpointer (a later callback) saves.
    """

    def __init__(self, state, progress, total_steps, budget=None, elapsed=None):
        super().__init__()
        self.state = state
        self.progress = progress
        self.total_steps = total_steps
        self.budget = budget
        self.elapsed = elapsed
        self.previous = float(elapsed.numpy()) if elapsed is not None else 0.0
        self.started = None  # time.monotonic() when this process's first step ended
        self.current_epoch = state.epochs_done

    @property
    def seconds(self):
        """Training seconds so far, across resumes."""
        running = 0.0 if self.started is None else time.monotonic() - self.started
        return self.previous + running

    @property
    def spent(self):
        return self.budget is not None and self.seconds >= self.budget

    @property
    def fraction(self):
        """Progress in [0, 1] (a Python float)."""
        fraction = self.state.step / self.total_steps
        if self.budget is not None:
            fraction = max(fraction, self.seconds / self.budget)
        return min(1.0, fraction)

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.progress.assign(self.fraction)

    def on_train_batch_end(self, batch, logs=None):
        if self.started is None:
            self.started = time.monotonic()
        seconds = self.seconds  # one reading: what is saved is what decided
        if self.elapsed is not None:
            self.elapsed.assign(seconds)
        if self.budget is not None and seconds >= self.budget and not self.state.budget_spent:
            self.state.budget_spent = True
            self.state.epochs = self.current_epoch + 1  # this one is the last
            self.model.stop_training = True
