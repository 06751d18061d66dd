"""Keras callbacks that write a run's outputs while ``fit()`` trains.

Only these callbacks write files during training. Epoch numbers in outputs are 1-based
("epoch 3" is the state after three epochs).
"""

import csv
import math
import time
from pathlib import Path

import keras
import numpy as np

from gantool import viz
from gantool.errors import TrainingDiverged
from gantool.gan import LOG_NAMES
from gantool.sampling import generate, to_uint8

METRICS_NAME = "metrics.csv"
STEPS_NAME = "steps.csv"
PLOT_NAME = "training.png"
SAMPLES_DIR = "samples"


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


class RunLogger(keras.callbacks.Callback):
    """Per-step and per-epoch logs: a tqdm bar, ``metrics.csv``, ``steps.csv`` and the plot.

    Replaces the epoch logs Keras passes on (the last batch's values) by the epoch means, so
    callbacks after this one see the means. Stops training on a non-finite loss.
    """

    def __init__(self, run_dir, steps_per_epoch, epochs, initial_epoch=0, progress=True,
                 summary_writer=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.progress = progress
        self.summary_writer = summary_writer
        self.history = [r for r in read_csv(self.run_dir / METRICS_NAME)
                        if int(r["epoch"]) <= initial_epoch]
        self.step_rows = [r for r in read_csv(self.run_dir / STEPS_NAME)
                          if int(r["epoch"]) <= initial_epoch]
        self.global_step = initial_epoch * steps_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch
        self.epoch_start = time.perf_counter()
        self.sums = dict.fromkeys(LOG_NAMES, 0.0)
        self.count = 0
        self.bar = None
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.epochs}",
                            unit="step", leave=True, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        values = {k: float(logs[k]) for k in LOG_NAMES}
        self.global_step += 1
        bad = [k for k in ("d_loss", "g_loss") if not math.isfinite(values[k])]
        if bad:
            if self.bar is not None:
                self.bar.close()
            raise TrainingDiverged(
                f"non-finite {bad[0]} ({values[bad[0]]}) at step {self.global_step} "
                f"(epoch {self.current_epoch + 1}); training stopped, checkpoints kept as they were"
            )
        for k in LOG_NAMES:
            self.sums[k] += values[k]
        self.count += 1
        self.step_rows.append({"step": self.global_step, "epoch": self.current_epoch + 1,
                               **{k: f"{v:.6g}" for k, v in values.items()}})
        if self.summary_writer is not None:
            self.summary_writer.scalars(values, self.global_step, prefix="step/")
        if self.bar is not None:
            means = {k: self.sums[k] / self.count for k in LOG_NAMES}
            self.bar.set_postfix({"D": f"{means['d_loss']:.3f}", "G": f"{means['g_loss']:.3f}",
                                  "D(x)": f"{means['d_real']:.2f}",
                                  "D(G(z))": f"{means['d_fake']:.2f}"}, refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.close()
        means = {k: self.sums[k] / max(self.count, 1) for k in LOG_NAMES}
        if logs is not None:
            logs.update(means)
        row = {"epoch": epoch + 1, "step": self.global_step,
               "seconds": f"{time.perf_counter() - self.epoch_start:.2f}",
               **{k: f"{v:.6g}" for k, v in means.items()}}
        self.history.append(row)
        write_csv(self.run_dir / METRICS_NAME, self.history, list(row))
        write_csv(self.run_dir / STEPS_NAME, self.step_rows, ["step", "epoch", *LOG_NAMES])
        viz.plot_history(self.run_dir / PLOT_NAME, self.history)
        if self.summary_writer is not None:
            self.summary_writer.scalars(means, epoch + 1, prefix="epoch/")


class SampleWriter(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last), samples from fixed latent vectors.

    Images: ``samples/epoch_NNNN.png`` (grid) and ``.npy`` (uint8 (N, H, W, C)). 2-D points:
    ``.npy`` (float32 (N, 2)) and a ``.png`` scatter over ``samples/real_points.npy``.
    """

    def __init__(self, run_dir, latents, data_kind, every, epochs, real_points=None,
                 summary_writer=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.latents = latents
        self.data_kind = data_kind
        self.every = every
        self.epochs = epochs
        self.summary_writer = summary_writer
        (self.run_dir / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
        np.save(self.run_dir / SAMPLES_DIR / "fixed_latents.npy", latents)
        self.real_points = real_points
        if real_points is not None:
            np.save(self.run_dir / SAMPLES_DIR / "real_points.npy", real_points)
            self.limits = viz.point_limits(real_points)

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if epoch % self.every and epoch != self.epochs:
            return
        outputs = generate(self.model.generator, self.latents)
        if self.data_kind == "points":
            np.save(sample_path(self.run_dir, epoch, ".npy"), outputs.astype(np.float32))
            picture = viz.scatter_image(self.real_points, outputs, f"epoch {epoch}", self.limits)
        else:
            images = to_uint8(outputs)
            np.save(sample_path(self.run_dir, epoch, ".npy"), images)
            picture = viz.image_grid(images)
        viz.save_image(sample_path(self.run_dir, epoch, ".png"), picture)
        if self.summary_writer is not None:
            self.summary_writer.image("samples", picture, epoch)


class Checkpointer(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last): a resumable checkpoint and ``generator.keras``."""

    def __init__(self, run_checkpoint, run_dir, every, epochs):
        super().__init__()
        self.run_checkpoint = run_checkpoint
        self.run_dir = Path(run_dir)
        self.every = every
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if epoch % self.every and epoch != self.epochs:
            return
        self.run_checkpoint.save(epoch)
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
