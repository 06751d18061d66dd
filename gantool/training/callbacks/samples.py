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


class SampleWriter(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last), samples ``fixed`` from ``sampler()`` (a
    :class:`~gantool.sampling.SamplingGenerator`: the EMA weights with ``--ema``).

    Images: ``samples/epoch_NNNN.png`` (grid) and ``.npy`` (uint8 (N, H, W, C)). 2-D points:
    ``.npy`` (float32 (N, 2)) and a ``.png`` scatter over ``samples/real_points.npy``.
    """

    def __init__(self, run_dir, state, sampler, fixed, every, summary_writer=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.state = state
        self.sampler = sampler
        self.fixed = fixed
        self.every = every
        self.summary_writer = summary_writer
        rundir.samples_dir(run_dir).mkdir(parents=True, exist_ok=True)
        rundir.save_array(rundir.samples_dir(run_dir) / rundir.FIXED_LATENTS, fixed.latents)
        if fixed.real_points is not None:
            rundir.save_array(rundir.samples_dir(run_dir) / rundir.REAL_POINTS, fixed.real_points)
            self.limits = viz.point_limits(fixed.real_points)

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if self.state.stopped_mid_epoch or (epoch % self.every and epoch != self.state.epochs):
            return
        outputs = generate(self.sampler(), self.fixed.latents, self.fixed.labels)
        if self.fixed.kind == "points":
            array = outputs.astype(np.float32)
            picture = viz.scatter_image(self.fixed.real_points, outputs, f"epoch {epoch}",
                                        self.limits)
        else:
            array = to_uint8(outputs)
            picture = viz.image_grid(array, ncols=self.fixed.columns)
        rundir.save_array(rundir.sample_path(self.run_dir, epoch, ".npy"), array)
        with rundir.atomic_path(rundir.sample_path(self.run_dir, epoch, ".png")) as tmp:
            viz.save_image(tmp, picture)
        if self.summary_writer is not None:
            self.summary_writer.image("samples", picture, epoch)
