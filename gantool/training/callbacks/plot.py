"""``training.png``: per-step curves (from ``steps.csv``) above the losses and D's outputs per
epoch (and the eval_* scores)."""

import time
from pathlib import Path

import keras

from gantool import rundir, viz
from gantool.training.callbacks.logs import read_csv

# Redraws are skipped while less than max(MIN_SECONDS, REDRAW_RATIO x the last drawing's time)
# has passed since the last one, so that drawing costs at most about 1/REDRAW_RATIO of training
# on runs of short epochs; the last epoch, and the end of training, always draw.
MIN_SECONDS = 10.0
REDRAW_RATIO = 40


class TrainingPlot(keras.callbacks.Callback):
    """Redraws the plot after complete epochs (see REDRAW_RATIO) from ``history`` (the rows of
    metrics.csv, the list the run's RunLog appends to) and the run's ``steps.csv`` (which the
    RunLog, an earlier callback, has just written)."""

    def __init__(self, run_dir, state, history):
        super().__init__()
        self.path = Path(run_dir) / rundir.PLOT
        self.steps_path = Path(run_dir) / rundir.STEPS
        self.state = state
        self.history = history
        self.drawn_at, self.draw_seconds, self.pending = time.monotonic(), 0.0, False

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch:
            return
        wait = max(MIN_SECONDS, REDRAW_RATIO * self.draw_seconds)
        if epoch + 1 < self.state.epochs and time.monotonic() - self.drawn_at < wait:
            self.pending = True
            return
        self.draw()

    def on_train_end(self, logs=None):
        if self.pending:  # a stop request or the time budget ended training after a skip
            self.draw()

    def draw(self):
        start = time.monotonic()
        with rundir.atomic_path(self.path) as tmp:
            viz.plot_history(tmp, self.history, read_csv(self.steps_path))
        self.drawn_at = time.monotonic()
        self.draw_seconds, self.pending = self.drawn_at - start, False
