"""``training.png``: per-step curves (from ``steps.csv``) above the losses and D's outputs per
epoch (and the eval_* scores)."""

from pathlib import Path

import keras

from gantool import rundir, viz
from gantool.training.callbacks.logs import read_csv


class TrainingPlot(keras.callbacks.Callback):
    """Redraws the plot after every complete epoch from ``history`` (the rows of metrics.csv,
    the list the run's RunLog appends to) and the run's ``steps.csv`` (which the RunLog, an
    earlier callback, has just written)."""

    def __init__(self, run_dir, state, history):
        super().__init__()
        self.path = Path(run_dir) / rundir.PLOT
        self.steps_path = Path(run_dir) / rundir.STEPS
        self.state = state
        self.history = history

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch:
            return
        with rundir.atomic_path(self.path) as tmp:
            viz.plot_history(tmp, self.history, read_csv(self.steps_path))
