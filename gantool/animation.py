"""GIFs and stills of training, read back from a run directory's ``samples/``.

Functions take a :class:`~gantool.rundir.Run` (opened once by the command). Only
:func:`interpolation_gif` runs the generator, so only it imports TensorFlow.
"""

import re
from pathlib import Path

import numpy as np

from gantool import rundir, viz
from gantool.errors import UsageError
from gantool.sampling import class_rows, draw_latents, generate, load_generator, slerp, to_uint8

EPOCH_FILE = re.compile(r"epoch_(\d+)\.npy$")


def sample_epochs(run_dir):
    """Sorted ``[(epoch, path)]`` of the fixed-latent samples saved during training."""
    found = [(int(m.group(1)), p) for p in rundir.samples_dir(run_dir).glob("epoch_*.npy")
             if (m := EPOCH_FILE.search(p.name))]
    if not found:
        raise UsageError(f"{run_dir}: no samples/epoch_*.npy yet; train for at least one epoch")
    return sorted(found)


def _real_points(run_dir):
    path = rundir.samples_dir(run_dir) / rundir.REAL_POINTS
    return np.load(path) if path.is_file() else None


def _columns(config, n):
    """Grid columns: one row per class for conditional runs, else a square-ish grid."""
    if config.conditional:
        return class_rows(n, config.num_classes)[1]
    return None


def training_frames(run, max_images=64):
    """One RGB/grey uint8 frame per saved epoch: the image grid, or generated-over-real points."""
    config, run_dir = run.config, run.path
    epochs = sample_epochs(run_dir)
    if config.data_kind == "points":
        real = _real_points(run_dir)
        limits = viz.point_limits(real) if real is not None else None
        return [viz.scatter_image(real, np.load(p), f"epoch {e}", limits) for e, p in epochs]
    frames = []
    for _, path in epochs:
        images = np.load(path)
        columns = _columns(config, len(images))
        frames.append(viz.image_grid(images if columns else images[:max_images], ncols=columns))
    return frames


def training_gif(run, out=None, fps=4):
    """Write the GIF of fixed-latent samples over training; returns its path."""
    out = Path(out) if out else run.file(rundir.TRAINING_GIF)
    viz.write_gif(out, training_frames(run), fps=fps)
    return out


def evolution_png(run, out=None, rows=8, columns=8):
    """A still: up to ``rows`` evenly spaced epochs (rows) x the first ``columns`` fixed latents.

    For 2-D data, a row of scatter plots instead.
    """
    config, run_dir = run.config, run.path
    out = Path(out) if out else run.file(rundir.EVOLUTION)
    epochs = sample_epochs(run_dir)
    picks = sorted({round(i) for i in np.linspace(0, len(epochs) - 1, min(rows, len(epochs)))})
    chosen = [epochs[i] for i in picks]
    if config.data_kind == "points":
        real = _real_points(run_dir)
        limits = viz.point_limits(real) if real is not None else None
        panels = [viz.scatter_image(real, np.load(p), f"epoch {e}", limits, size=(3, 3),
                                     legend=False)
                  for e, p in chosen]
        viz.save_image(out, np.concatenate(panels, axis=1))
        return out
    strips = [viz.image_grid(np.load(p)[:columns], ncols=columns) for _, p in chosen]
    viz.save_evolution(out, strips, [f"epoch {e}" for e, _ in chosen])
    return out


def interpolation_gif(run, out=None, points=4, steps=16, seed=0, fps=8, count=8, ema=None):
    """A GIF walking through ``points`` random latent points (spherical interpolation, looping).

    Each frame shows ``count`` independent walks side by side (images), or the generated points
    of all walks (2-D data). Returns the output path.
    """
    if points < 2 or steps < 1:
        raise UsageError(f"--points must be >= 2 and --steps >= 1, got {points} and {steps}")
    config, run_dir = run.config, run.path
    generator = load_generator(run, ema=ema)
    out = Path(out) if out else run.file(rundir.INTERPOLATION_GIF)
    walks = 1000 if config.data_kind == "points" else count
    anchors = draw_latents(walks * points, config.latent_dim, config.latent_dist, seed)
    anchors = anchors.reshape(walks, points, config.latent_dim)
    t = np.linspace(0, 1, steps, endpoint=False)
    # (frames, walks, latent_dim), closing the loop back to the first point
    path_latents = np.concatenate([
        np.stack([slerp(anchors[w, i], anchors[w, (i + 1) % points], t) for w in range(walks)],
                 axis=1)
        for i in range(points)])
    labels = None
    if config.conditional:  # walk w keeps class w % num_classes all along
        labels = np.tile(np.arange(walks) % config.num_classes, len(path_latents)).astype(np.int32)
    outputs = generate(generator, path_latents.reshape(-1, config.latent_dim), labels)
    outputs = outputs.reshape(len(path_latents), walks, *outputs.shape[1:])
    if config.data_kind == "points":
        real = _real_points(run_dir)
        limits = viz.point_limits(real) if real is not None else None
        frames = [viz.scatter_image(real, frame, "", limits) for frame in outputs]
    else:
        frames = [viz.image_grid(to_uint8(frame), ncols=walks) for frame in outputs]
    viz.write_gif(out, frames, fps=fps)
    return out
