"""Keras callbacks that write a run's outputs while ``fit()`` trains.

Only these callbacks write files during training. Epoch numbers in outputs are 1-based
("epoch 3" is the state after three epochs).
"""

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from gantool import viz
from gantool.errors import TrainingDiverged
from gantool.gan import LOG_NAMES
from gantool.sampling import SAMPLES_DIR, generate, to_uint8

METRICS_NAME = "metrics.csv"
STEPS_NAME = "steps.csv"
PLOT_NAME = "training.png"
# TensorBoard's per-step curves get the mean of this many steps: writing the 6 scalars costs
# ~4 ms on a 2-core CPU, more than a whole step of a small model (step_profile.py, section 3).
TENSORBOARD_STEP_WINDOW = 10


def read_csv(path):
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, rows, fieldnames):
    tmp = Path(str(path) + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def sample_path(run_dir, epoch, suffix):
    return Path(run_dir) / SAMPLES_DIR / f"epoch_{epoch:04d}{suffix}"


@dataclass
class TrainingState:
    """What the callbacks share: the global step, the schedule and stop requests."""

    steps_per_epoch: int
    epochs: int
    step: int = 0  # steps completed so far (across resumes)
    on_nan: str = "stop"
    interrupted: str | None = None  # name of the signal that asked training to stop
    rollbacks: int = 0
    epoch_extras: dict = field(default_factory=dict)  # 1-based epoch -> {"eval_fid": ...}

    @property
    def epochs_done(self):
        return self.step // self.steps_per_epoch

    @property
    def stopped_mid_epoch(self):
        """A stop request ended the current epoch before its last step. (A request that lands
        during an epoch's last step stops training after a complete epoch, which is logged.)"""
        return bool(self.interrupted) and self.step % self.steps_per_epoch != 0


def _finite(logs):
    return all(math.isfinite(float(logs[k])) for k in ("d_loss", "g_loss"))


class RunLogger(keras.callbacks.Callback):
    """Per-step and per-epoch logs: a tqdm bar, ``metrics.csv``, ``steps.csv``, the plot and
    TensorBoard scalars (``step/*``: means over TENSORBOARD_STEP_WINDOW steps; ``epoch/*``).

    Replaces the epoch logs Keras passes on (the last batch's values) by the epoch means, so
    callbacks after this one see the means. With ``on_nan="stop"`` a non-finite loss ends
    training; with ``"rollback"`` the step is logged but left out of the means.
    """

    def __init__(self, run_dir, state, progress=True, summary_writer=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.state = state
        self.progress = progress
        self.summary_writer = summary_writer
        self.history = [r for r in read_csv(self.run_dir / METRICS_NAME)
                        if int(r["epoch"]) <= state.epochs_done]
        self.step_rows = [r for r in read_csv(self.run_dir / STEPS_NAME)
                          if int(r["step"]) <= state.step]

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch
        self.epoch_start = time.perf_counter()
        self.batches_seen = 0  # of this fit() call's epoch: Keras's batch index restarts at 0
        done = [r for r in self.step_rows if int(r["epoch"]) == epoch + 1]  # a resumed epoch
        self.sums = {k: sum(float(r[k]) for r in done if _finite(r)) for k in LOG_NAMES}
        self.count = sum(1 for r in done if _finite(r))
        self.window = []  # finite step logs not yet written to TensorBoard
        self.bar = None
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.state.steps_per_epoch,
                            initial=self.state.step - epoch * self.state.steps_per_epoch,
                            desc=f"epoch {epoch + 1}/{self.state.epochs}", unit="step",
                            dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution K, Keras calls this every K steps with the last one's index
        # and logs: each row of steps.csv (and each term of the epoch means) is every Kth step.
        advanced = batch + 1 - self.batches_seen
        self.batches_seen = batch + 1
        values = {k: float(logs[k]) for k in LOG_NAMES}
        self.state.step += advanced
        step = self.state.step
        self.step_rows.append({"step": step, "epoch": self.current_epoch + 1,
                               **{k: f"{v:.6g}" for k, v in values.items()}})
        if not _finite(values):
            if self.state.on_nan == "stop":
                self.flush()
                self._close_bar()
                bad = next(k for k in ("d_loss", "g_loss") if not math.isfinite(values[k]))
                raise TrainingDiverged(
                    f"non-finite {bad} ({values[bad]}) at step {step} (epoch "
                    f"{self.current_epoch + 1}); training stopped and no checkpoint was "
                    "overwritten (--on-nan rollback restores the last good one and continues)")
        else:
            for k in LOG_NAMES:
                self.sums[k] += values[k]
            self.count += 1
            self.window.append(values)
            if step // TENSORBOARD_STEP_WINDOW > (step - advanced) // TENSORBOARD_STEP_WINDOW:
                self._write_window()
        if self.state.interrupted:
            self.flush()
        if self.bar is not None:
            means = {k: self.sums[k] / max(self.count, 1) for k in LOG_NAMES}
            self.bar.set_postfix({"D": f"{means['d_loss']:.3f}", "G": f"{means['g_loss']:.3f}",
                                  "D(x)": f"{means['d_real']:.2f}",
                                  "D(G(z))": f"{means['d_fake']:.2f}"}, refresh=False)
            self.bar.update(advanced)

    def _write_window(self):
        if self.summary_writer is not None and self.window:
            means = {k: sum(v[k] for v in self.window) / len(self.window) for k in LOG_NAMES}
            self.summary_writer.scalars(means, self.state.step, prefix="step/")
        self.window = []

    def flush(self):
        write_csv(self.run_dir / STEPS_NAME, self.step_rows, ["step", "epoch", *LOG_NAMES])

    def _close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_epoch_end(self, epoch, logs=None):
        self._close_bar()
        self._write_window()
        if self.state.stopped_mid_epoch:  # a partial epoch: its steps are in steps.csv only
            return
        means = {k: self.sums[k] / max(self.count, 1) for k in LOG_NAMES}
        if logs is not None:
            logs.update(means)
        extras = self.state.epoch_extras.pop(epoch + 1, {})
        row = {"epoch": epoch + 1, "step": self.state.step,
               "seconds": f"{time.perf_counter() - self.epoch_start:.2f}",
               **{k: f"{v:.6g}" for k, v in means.items()},
               **{k: f"{v:.6g}" for k, v in extras.items()}}
        self.history.append(row)
        self.flush()
        fields = list(dict.fromkeys(k for r in self.history for k in r))  # eval_* columns too
        write_csv(self.run_dir / METRICS_NAME, self.history, fields)
        viz.plot_history(self.run_dir / PLOT_NAME, self.history)
        if self.summary_writer is not None:
            self.summary_writer.scalars(means, epoch + 1, prefix="epoch/")
            if extras:
                self.summary_writer.scalars(extras, epoch + 1, prefix="eval/")


class SampleWriter(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last), samples from fixed latent vectors.

    Images: ``samples/epoch_NNNN.png`` (grid) and ``.npy`` (uint8 (N, H, W, C)). 2-D points:
    ``.npy`` (float32 (N, 2)) and a ``.png`` scatter over ``samples/real_points.npy``.
    """

    def __init__(self, run_dir, state, latents, data_kind, every, real_points=None,
                 summary_writer=None, sample_fn=None, columns=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.state = state
        self.latents = latents
        self.sample_fn = sample_fn  # latents -> model-range outputs; default: the live generator
        self.columns = columns
        self.data_kind = data_kind
        self.every = every
        self.summary_writer = summary_writer
        (self.run_dir / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
        np.save(self.run_dir / SAMPLES_DIR / "fixed_latents.npy", latents)
        self.real_points = real_points
        if real_points is not None:
            np.save(self.run_dir / SAMPLES_DIR / "real_points.npy", real_points)
            self.limits = viz.point_limits(real_points)

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if self.state.stopped_mid_epoch or (epoch % self.every and epoch != self.state.epochs):
            return
        if self.sample_fn is not None:
            outputs = self.sample_fn(self.latents)
        else:
            outputs = generate(self.model.generator, self.latents)
        if self.data_kind == "points":
            np.save(sample_path(self.run_dir, epoch, ".npy"), outputs.astype(np.float32))
            picture = viz.scatter_image(self.real_points, outputs, f"epoch {epoch}", self.limits)
        else:
            images = to_uint8(outputs)
            np.save(sample_path(self.run_dir, epoch, ".npy"), images)
            picture = viz.image_grid(images, ncols=self.columns)
        viz.save_image(sample_path(self.run_dir, epoch, ".png"), picture)
        if self.summary_writer is not None:
            self.summary_writer.image("samples", picture, epoch)


class Checkpointer(keras.callbacks.Callback):
    """Checkpoints every ``every`` epochs and after the last (plus ``generator.keras``), on a
    stop request (SIGINT/SIGTERM) at the end of the current step, and at step 0 so that
    ``on_nan="rollback"`` always has a state to return to. Rolling back restores the latest
    checkpoint and multiplies both learning rates by ``ROLLBACK_LR_FACTOR``.
    """

    ROLLBACK_LR_FACTOR = 0.5
    MAX_ROLLBACKS = 5

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
        if not _finite(logs) and self.state.on_nan == "rollback":
            self.rollback()
        if self.state.interrupted and not self.model.stop_training:
            self.run_checkpoint.save(self.state.step, self.state.epochs_done)
            self.model.stop_training = True

    def rollback(self):
        self.state.rollbacks += 1
        if self.state.rollbacks > self.MAX_ROLLBACKS:
            raise TrainingDiverged(f"losses still non-finite after {self.MAX_ROLLBACKS} rollbacks "
                                   f"(step {self.state.step}); giving up")
        path = self.run_checkpoint.latest
        self.run_checkpoint.checkpoint.restore(path)
        for optimizer in (self.model.d_optimizer, self.model.g_optimizer):
            optimizer.learning_rate.assign(optimizer.learning_rate * self.ROLLBACK_LR_FACTOR)
        from tqdm.auto import tqdm

        tqdm.write(f"non-finite loss at step {self.state.step}: restored {path} and halved the "
                   f"learning rates (D {float(self.model.d_optimizer.learning_rate):.3g}, "
                   f"G {float(self.model.g_optimizer.learning_rate):.3g})")

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if self.state.stopped_mid_epoch or (epoch % self.every and epoch != self.state.epochs):
            return
        latest = self.run_checkpoint.latest or ""
        if not latest.endswith(f"ckpt-{self.state.step}"):  # a stop request may have saved it
            self.run_checkpoint.save(self.state.step, epoch)
        tmp = self.run_dir / "generator.tmp.keras"
        self.model.generator.save(tmp)
        tmp.replace(self.run_dir / "generator.keras")


class SummaryWriter:
    """TensorBoard scalars and images under ``RUN_DIR/tensorboard``."""

    def __init__(self, log_dir):
        import tensorflow as tf

        self._tf = tf
        self.writer = tf.summary.create_file_writer(str(log_dir))

    def scalars(self, values, step, prefix=""):
        with self.writer.as_default(step=step):
            for name, value in values.items():
                self._tf.summary.scalar(prefix + name, value)

    def image(self, name, picture, step):
        with self.writer.as_default(step=step):
            self._tf.summary.image(name, picture[None], max_outputs=1)
        self.writer.flush()

    def close(self):
        self.writer.close()
