"""``--lr-schedule`` and ``--lr-warmup``: both learning rates as a function of training progress.

Each optimizer's rate is ``base * scale * lr_multiplier(progress)``: ``base`` the run's rate
(``--lr``, ``--d-lr``, ``--g-lr``), ``scale`` the product of ``--on-nan rollback``'s halvings
(checkpointed as ``lr_scale``, so a resumed run keeps them), and progress the fraction of
training done (:class:`~gantool.training.callbacks.budget.TrainingClock`). The rates are set
from the host at each step's beginning (every Kth with ``--steps-per-execution`` K).
"""

import math

import keras
import tensorflow as tf

from gantool.training.callbacks.nan import ROLLBACK_LR_FACTOR

SCHEDULES = ("constant", "linear", "cosine")


def lr_multiplier(schedule, warmup, progress):
    """The factor in [0, 1] on the learning rates at ``progress`` in [0, 1] (clipped):
    with ``warmup`` w > 0 it rises linearly from 0 to 1 over progress [0, w]; then, with
    t = (progress - w) / (1 - w), ``constant`` stays 1, ``linear`` is 1 - t and ``cosine``
    is (1 + cos(pi t)) / 2 (both reach 0 at the end of training)."""
    progress = min(max(float(progress), 0.0), 1.0)
    if warmup and progress < warmup:
        return progress / warmup
    t = (progress - warmup) / (1.0 - warmup)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - t
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr-schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")


def scheduled(config):
    """Whether the run's learning rates change over training."""
    return config.lr_schedule != "constant" or bool(config.lr_warmup)


def scale_variable():
    """The checkpointed product of the rollbacks' learning-rate factors (float64 scalar)."""
    return tf.Variable(1.0, dtype=tf.float64, trainable=False, name="lr_scale")


class LearningRateSchedule(keras.callbacks.Callback):
    """Sets both optimizers' learning rates from ``clock.fraction`` at each step's beginning;
    after the run's NanPolicy has rolled back (``state.rollbacks`` went up) the scale is
    multiplied by its factor per rollback. The G rate set is logged as steps.csv's ``lr``."""

    def __init__(self, config, state, clock, scale):
        super().__init__()
        self.config = config
        self.state = state
        self.clock = clock
        self.scale = scale  # the checkpointed variable, restored on resume
        self.rollbacks = state.rollbacks

    def on_train_batch_begin(self, batch, logs=None):
        if self.state.rollbacks > self.rollbacks:
            factor = ROLLBACK_LR_FACTOR ** (self.state.rollbacks - self.rollbacks)
            self.scale.assign(float(self.scale.numpy()) * factor)
            self.rollbacks = self.state.rollbacks
        factor = float(self.scale.numpy()) * lr_multiplier(
            self.config.lr_schedule, self.config.lr_warmup, self.clock.fraction)
        rates = ((self.model.d_optimizer, self.config.d_learning_rate),
                 (self.model.g_optimizer, self.config.g_learning_rate))
        for optimizer, base in rates:
            optimizer.learning_rate.assign(base * factor)
        self.state.step_values["lr"] = f"{self.config.g_learning_rate * factor:.6g}"
