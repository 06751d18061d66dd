"""``steps.csv`` and ``metrics.csv``, and the one source of the epoch means."""

import csv
import time
from pathlib import Path

import keras

from gantool import rundir
from gantool.gan import AUGMENT_LOG_NAMES, LOG_NAMES
from gantool.training.state import losses_finite


def read_csv(path):
    """The rows of a CSV file as dicts of strings; [] when it does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, rows, fieldnames):
    """Write ``rows`` (dicts; keys not in ``fieldnames`` left out) to ``path`` atomically."""
    with rundir.atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class EpochMeans:
    """Running means of the logged values over an epoch's finite steps (``rows``: the steps of
    a resumed epoch that ``steps.csv`` holds already)."""

    def __init__(self, rows=()):
        done = [r for r in rows if losses_finite(r)]
        self.sums = {k: sum(float(r[k]) for r in done) for k in logged_names(done[-1])} \
            if done else {k: 0.0 for k in LOG_NAMES}
        self.count = len(done)

    def add(self, values):
        for k in values:  # LOG_NAMES, and AUGMENT_LOG_NAMES with --augment
            self.sums[k] = self.sums.get(k, 0.0) + values[k]
        self.count += 1

    def means(self):
        return {k: self.sums[k] / max(self.count, 1) for k in self.sums}


def logged_names(logs):
    """The step's logged names in ``logs`` (a step's logs or a steps.csv row): LOG_NAMES, and
    AUGMENT_LOG_NAMES where the run logs them (--augment)."""
    return [*LOG_NAMES, *(k for k in AUGMENT_LOG_NAMES if logs.get(k) not in (None, ""))]


class RunLog(keras.callbacks.Callback):
    """Counts the steps (``state.step``), writes ``steps.csv`` (one row per step: every Kth with
    steps_per_execution K) and ``metrics.csv`` (one row per complete epoch, with the evaluator's
    ``state.epoch_extras``), and keeps the epoch means.

    It must come first (after an evaluator): it replaces the epoch logs Keras passes on (the
    last batch's values) by the epoch means, plus that epoch's extras, so callbacks after it see
    those. A non-finite step is logged but left out of the means (--on-nan rollback).
    """

    def __init__(self, run_dir, state):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.state = state
        self.history = [r for r in read_csv(self.run_dir / rundir.METRICS)
                        if int(r["epoch"]) <= state.epochs_done]
        self.step_rows = [r for r in read_csv(self.run_dir / rundir.STEPS)
                          if int(r["step"]) <= state.step]
        self.epoch_means = EpochMeans()

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch
        self.epoch_start = time.perf_counter()
        self.batches_seen = 0  # of this fit() call's epoch: Keras's batch index restarts at 0
        self.epoch_means = EpochMeans(r for r in self.step_rows if int(r["epoch"]) == epoch + 1)

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution K, Keras calls this every K steps with the last one's index
        # and logs: each row of steps.csv (and each term of the epoch means) is every Kth step.
        self.state.step += batch + 1 - self.batches_seen
        self.batches_seen = batch + 1
        values = {k: float(logs[k]) for k in logged_names(logs)}
        self.step_rows.append({"step": self.state.step, "epoch": self.current_epoch + 1,
                               **{k: f"{v:.6g}" for k, v in values.items()},
                               **self.state.step_values})
        finite = losses_finite(values)
        if finite:
            self.epoch_means.add(values)
        if self.state.interrupted or not finite:  # a step that may end training: keep it
            self.flush()

    def on_train_end(self, logs=None):
        # A stop request that lands after this step's row was kept but before the Checkpointer
        # saw it still saves this step: its row must reach steps.csv (a resumed epoch's means
        # are computed from it).
        self.flush()

    def flush(self):
        names = logged_names(self.step_rows[-1]) if self.step_rows else LOG_NAMES
        write_csv(self.run_dir / rundir.STEPS, self.step_rows,
                  ["step", "epoch", *names, *self.state.step_values])

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch:  # a partial epoch: its steps are in steps.csv only
            return
        means = self.epoch_means.means()
        extras = self.state.epoch_extras.pop(epoch + 1, {})
        if logs is not None:
            logs.update(means)
            logs.update(extras)
        self.history.append({"epoch": epoch + 1, "step": self.state.step,
                             "seconds": f"{time.perf_counter() - self.epoch_start:.2f}",
                             **{k: f"{v:.6g}" for k, v in {**means, **extras}.items()}})
        self.flush()
        fields = list(dict.fromkeys(k for r in self.history for k in r))  # eval_* columns too
        write_csv(self.run_dir / rundir.METRICS, self.history, fields)
