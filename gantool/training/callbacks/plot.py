"""``training.png``: the losses and D's outputs per epoch (and the eval_* scores)."""

from pathlib import Path

import keras

from gantool import rundir, viz


class TrainingPlot(keras.callbacks.Callback):
    """Redraws the plot after every complete epoch from ``history`` (the rows of metrics.csv,
    the list the run's RunLog appends to)."""

    def __init__(self, run_dir, state, history):
        super().__init__()
        self.path = Path(run_dir) / rundir.PLOT
        self.state = state
        self.history = history

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch:
            return
        with rundir.atomic_path(self.path) as tmp:
            viz.plot_history(tmp, self.history)
