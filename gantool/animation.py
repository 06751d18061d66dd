"""GIFs and stills of training, read back from a run directory's ``samples/``.

Functions take a :class:`~gantool.rundir.Run` (opened once by the command). Only
:func:`interpolation_gif` runs the generator, so only it imports TensorFlow.
"""

import re
from pathlib import Path

import numpy as np

from gantool import rundir, viz
from gantool.errors import UsageError
from gantool.sampling import (
    class_rows,
    generate,
    load_generator,
    random_latents,
    slerp,
    to_uint8,
)

SAMPLE_FILE = re.compile(r"(epoch|step)_(\d+)\.npy$")


def sample_epochs(run_dir):
    """Sorted ``[(title, path)]`` of the fixed-latent samples saved during training: those of
    ``--sample-every-steps`` (``samples/step_*.npy``, titled "step N") in step order when the
    run has them, else the epochs' (``samples/epoch_*.npy``, "epoch N")."""
    found = [(m.group(1), int(m.group(2)), p) for p in rundir.samples_dir(run_dir).glob("*.npy")
             if (m := SAMPLE_FILE.fullmatch(p.name))]
    kind = "step" if any(k == "step" for k, _, _ in found) else "epoch"
    found = sorted((n, p) for k, n, p in found if k == kind)
    if not found:
        raise UsageError(f"{run_dir}: no samples/epoch_*.npy yet; train for at least one epoch")
    return [(f"{kind} {n}", p) for n, p in found]


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
        return [viz.scatter_image(real, np.load(p), title, limits) for title, p in epochs]
    frames = []
    for _, path in epochs:
        images = np.load(path)
        columns = _columns(config, len(images))
        frames.append(viz.image_grid(images if columns else images[:max_images], ncols=columns))
    return frames


def training_gif(run, out=None, fps=4, scale=None):
    """Write the GIF of fixed-latent samples over training; returns its path. Image grids are
    upscaled by ``scale`` (None: at least 512 pixels wide)."""
    out = Path(out) if out else run.file(rundir.TRAINING_GIF)
    check_animation_path(out)
    frames = training_frames(run)
    if run.config.data_kind != "points":
        factor = scale or viz.default_scale(frames[0].shape[1])
        frames = [viz.upscale(frame, factor) for frame in frames]
    write_animation(out, frames, fps=fps)
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
        panels = [viz.scatter_image(real, np.load(p), title, limits, size=(3, 3), legend=False)
                  for title, p in chosen]
        viz.save_image(out, np.concatenate(panels, axis=1))
        return out
    strips = [viz.image_grid(np.load(p)[:columns], ncols=columns) for _, p in chosen]
    viz.save_evolution(out, strips, [title for title, _ in chosen])
    return out


def interpolation_gif(run, out=None, points=4, steps=16, seed=0, fps=8, count=8, ema=None,
                      seeds=None, truncation=None, scale=None):
    """A GIF walking through ``points`` random latent points (spherical interpolation, looping).

    Each frame shows ``count`` independent walks side by side (images), or the generated points
    of all walks (2-D data). ``seeds``: instead, one walk through the latents of these seeds, in
    order (see :func:`~gantool.sampling.seed_latents`). ``truncation``: latent components outside
    [-PSI, PSI] redrawn. ``scale``: image frames upscaled by this factor (None: at least 512
    pixels wide). Returns the output path.
    """
    points = len(seeds) if seeds is not None else points
    if points < 2 or steps < 1:
        raise UsageError(f"--points (or the number of --seeds) must be >= 2 and --steps >= 1, "
                         f"got {points} and {steps}")
    config = run.config
    out = Path(out) if out else run.file(rundir.INTERPOLATION_GIF)
    check_animation_path(out)
    walks = 1 if seeds is not None else 1000 if config.data_kind == "points" else count
    anchors = random_latents(walks * points, config.latent_dim, config.latent_dist, seed, seeds,
                             truncation).reshape(walks, points, config.latent_dim)
    generator = load_generator(run, ema=ema)
    frames = walk_frames(generator, config, anchors, steps, _real_points(run.path), scale)
    with rundir.atomic_path(out) as tmp:
        write_animation(tmp, frames, fps=fps)
    return out


def walk_frames(generator, config, anchors, steps, real=None, scale=None):
    """Frames of looping slerp walks through ``anchors`` (walks, points, latent_dim), ``steps``
    frames from one point to the next: uint8 grids of the walks side by side, upscaled by
    ``scale`` (None: at least 512 pixels wide), or scatters of the walks' points over ``real``.
    """
    walks, points, latent_dim = anchors.shape
    t = np.linspace(0, 1, steps, endpoint=False)
    # (frames, walks, latent_dim), closing the loop back to the first point
    path_latents = np.concatenate([
        np.stack([slerp(anchors[w, i], anchors[w, (i + 1) % points], t) for w in range(walks)],
                 axis=1)
        for i in range(points)])
    labels = None
    if config.conditional:  # walk w keeps class w % num_classes all along
        labels = np.tile(np.arange(walks) % config.num_classes, len(path_latents)).astype(np.int32)
    outputs = generate(generator, path_latents.reshape(-1, latent_dim), labels)
    outputs = outputs.reshape(len(path_latents), walks, *outputs.shape[1:])
    if config.data_kind == "points":
        limits = viz.point_limits(real) if real is not None else None
        return [viz.scatter_image(real, frame, "", limits) for frame in outputs]
    frames = [viz.image_grid(to_uint8(frame), ncols=walks) for frame in outputs]
    factor = scale or viz.default_scale(frames[0].shape[1])
    return [viz.upscale(frame, factor) for frame in frames]


VIDEO_SUFFIXES = (".mp4",)


def check_animation_path(path):
    """Raise :class:`UsageError` if ``path`` is a video (``.mp4``) and the ``imageio-ffmpeg``
    package (``pip install 'gantool[video]'``) is missing; anything else is written as a GIF."""
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        return
    try:
        import imageio_ffmpeg  # noqa: F401 - brings its own ffmpeg binary
    except ImportError:
        raise UsageError(f"writing {Path(path).name} needs the imageio-ffmpeg package: "
                         "pip install 'gantool[video]' (or imageio-ffmpeg)") from None


def write_animation(path, frames, fps=4):
    """Write uint8 frames (same shape (H, W) or (H, W, 1 or 3)) to ``path``: an H.264 ``.mp4``
    (yuv420p, frames padded with black to even sizes, as players need) or a looping GIF."""
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        viz.write_gif(path, frames, fps=fps)
        return
    check_animation_path(path)
    import imageio.v2 as imageio

    frames = np.stack([f if f.ndim == 3 else f[..., None] for f in frames])
    frames = np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames
    _, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    with imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                            pixelformat="yuv420p", macro_block_size=2) as writer:
        for frame in frames:
            writer.append_data(frame)
