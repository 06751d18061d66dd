"""The sample grids drawn during training from fixed latent vectors."""

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from gantool import rundir, viz
from gantool.sampling import class_rows, draw_latents, generate, to_uint8

POINT_SAMPLES = 1000  # points drawn per epoch for 2-D data
REAL_POINT_COUNT = 2000  # real points they are drawn over


@dataclass
class FixedSamples:
    """What every epoch's samples are drawn from: ``latents`` (seed + 1), for conditional runs
    ``labels`` with one grid row per class (``columns`` wide), and for 2-D points the real
    points they are drawn over."""

    kind: str
    latents: np.ndarray
    labels: np.ndarray | None = None
    columns: int | None = None
    real_points: np.ndarray | None = None

    @classmethod
    def for_run(cls, config, source):
        points = source.kind == "points"
        n = POINT_SAMPLES if points else config.grid_size
        real = next(source.dataset.batch(REAL_POINT_COUNT).as_numpy_iterator()) if points else None
        latents = draw_latents(n, config.latent_dim, config.latent_dist, config.seed + 1)
        labels, columns = class_rows(n, config.num_classes) if config.conditional else (None, None)
        return cls(source.kind, latents, labels, columns, real)


def step_sample_path(run_dir, step, suffix):
    """``RUN_DIR/samples/step_NNNNNNN{suffix}``: the fixed-latent samples after ``step`` steps."""
    return rundir.samples_dir(run_dir) / f"step_{step:07d}{suffix}"


class SampleWriter(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last), samples ``fixed`` from ``sampler()`` (a
    :class:`~gantool.sampling.SamplingGenerator`: the EMA weights with ``--ema``); with
    ``every_steps`` also every that many steps (``--sample-every-steps``).

    Images: ``samples/epoch_NNNN.png`` (grid) and ``.npy`` (uint8 (N, H, W, C)). 2-D points:
    ``.npy`` (float32 (N, 2)) and a ``.png`` scatter over ``samples/real_points.npy``. Every
    ``every_steps`` steps the same as ``samples/step_NNNNNNN.png`` and ``.npy`` (NNNNNNN the
    global step; with ``--steps-per-execution`` K, the first step seen at or past each
    multiple). TensorBoard: images ``samples`` by epoch, ``samples_by_step`` by step.
    """

    def __init__(self, run_dir, state, sampler, fixed, every, summary_writer=None,
                 every_steps=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.state = state
        self.sampler = sampler
        self.fixed = fixed
        self.every = every
        self.every_steps = every_steps
        self.summary_writer = summary_writer
        self.last_step = state.step
        rundir.samples_dir(run_dir).mkdir(parents=True, exist_ok=True)
        rundir.save_array(rundir.samples_dir(run_dir) / rundir.FIXED_LATENTS, fixed.latents)
        if fixed.real_points is not None:
            rundir.save_array(rundir.samples_dir(run_dir) / rundir.REAL_POINTS, fixed.real_points)
            self.limits = viz.point_limits(fixed.real_points)

    def on_train_batch_end(self, batch, logs=None):
        step, previous = self.state.step, self.last_step
        self.last_step = step
        if self.every_steps and step // self.every_steps > previous // self.every_steps:
            self._write(lambda suffix: step_sample_path(self.run_dir, step, suffix),
                        f"step {step}", "samples_by_step", step)

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if self.state.stopped_mid_epoch or (epoch % self.every and epoch != self.state.epochs):
            return
        self._write(lambda suffix: rundir.sample_path(self.run_dir, epoch, suffix),
                    f"epoch {epoch}", "samples", epoch)

    def _write(self, path, title, tag, step):
        """Sample the fixed latents into ``path(".npy")`` and ``path(".png")``, and TensorBoard
        image ``tag`` at ``step``."""
        outputs = generate(self.sampler(), self.fixed.latents, self.fixed.labels)
        if self.fixed.kind == "points":
            array = outputs.astype(np.float32)
            picture = viz.scatter_image(self.fixed.real_points, outputs, title, self.limits)
        else:
            array = to_uint8(outputs)
            picture = viz.image_grid(array, ncols=self.fixed.columns)
        rundir.save_array(path(".npy"), array)
        with rundir.atomic_path(path(".png")) as tmp:
            viz.save_image(tmp, picture)
        if self.summary_writer is not None:
            self.summary_writer.image(tag, picture, step)
