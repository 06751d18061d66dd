"""Where ``gantool sample`` writes: one rule for every output kind, checked before generating.

``--out`` ending in .png/.jpg/.jpeg is a grid (2-D data: a scatter over the real points), .npy
an array streamed to disk batch by batch, anything else a folder of numbered PNGs (2-D data:
points.npy and scatter.png in it). Missing parent directories are created; a location that
cannot be written, a grid too large to draw or an output the disk cannot hold is refused
(:class:`~gantool.errors.UsageError`) before any sample is generated. Every file goes through
:func:`gantool.rundir.atomic_path`, so a failed write leaves no temporary file and names the
path.
"""

import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantool import rundir, viz
from gantool.errors import UsageError

GRID_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_GRID_IMAGES = 4096  # a grid shows at most this many images ...
MAX_GRID_SIDE = 16384  # ... and is at most this many pixels wide and high (after --scale)
MAX_SCATTER_POINTS = 1_000_000  # a scatter .png of 2-D samples draws at most this many
SCATTER_SHOWN = 100_000  # the scatter beside a .npy or in a folder shows the first this many
FILE_OVERHEAD = 4096  # bytes a small PNG file takes beyond its pixels (at least a block)


@dataclass(frozen=True)
class Target:
    """A checked output: ``kind`` is "grid", "npy" or "folder"; ``points`` for 2-D data."""

    out: Path
    kind: str
    n: int
    shape: tuple
    points: bool
    columns: int | None = None
    scale: int = 1
    real_path: Path | None = None


def kind_of(out):
    suffix = Path(out).suffix.lower()
    return "grid" if suffix in GRID_SUFFIXES else "npy" if suffix == ".npy" else "folder"


def plan(out, n, config, run_dir, columns=None, scale=None):
    """Check ``out`` for ``n`` samples of ``config.data_shape`` and create its missing parents;
    returns the :class:`Target`. ``scale``: grid upscaling (None: viz.default_scale).
    """
    out, kind, points = Path(out), kind_of(out), config.data_kind == "points"
    shape = tuple(config.data_shape)
    if kind == "grid" and points and n > MAX_SCATTER_POINTS:
        raise UsageError(f"--n {n}: a scatter .png draws at most {MAX_SCATTER_POINTS} points; "
                         "write a .npy or a folder to stream more")
    if kind == "grid" and not points:
        scale = _grid_scale(n, shape, columns, scale)
    _check_space(out, n, shape, kind, points)
    prepare_location(out, kind)
    real = rundir.samples_dir(run_dir) / rundir.REAL_POINTS
    return Target(out, kind, n, shape, points, columns, scale or 1,
                  real if real.is_file() else None)


def _grid_scale(n, shape, columns, scale):
    if n > MAX_GRID_IMAGES:
        raise UsageError(f"--n {n}: a grid shows at most {MAX_GRID_IMAGES} images; write a .npy "
                         "or a folder to stream more")
    h, w = shape[:2]
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    width, height = viz.grid_size(rows, columns, h, w)
    scale = scale or viz.default_scale(width)
    if max(width, height) * scale > MAX_GRID_SIDE:
        raise UsageError(f"a {width}x{height} grid at --scale {scale} is over {MAX_GRID_SIDE} "
                         "pixels a side; lower --scale or --n")
    return scale


def _existing_ancestor(path):
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _check_space(out, n, shape, kind, points):
    pixels = 2 * 4 if points else math.prod(shape)
    per_sample = pixels + (FILE_OVERHEAD if kind == "folder" and not points else 0)
    needed = n * per_sample if kind != "grid" else 0
    where = _existing_ancestor(out)
    free = shutil.disk_usage(where).free
    if needed > free:
        raise UsageError(f"--out {out}: {n} samples need about {needed / 1e9:.3g} GB but "
                         f"{where} has {free / 1e9:.3g} GB free")


def prepare_location(out, kind):
    """Create the missing parents of ``out`` (a "folder" itself), or refuse (exit 2) if it
    cannot be written there."""
    directory = out if kind == "folder" else out.parent
    if kind == "folder" and out.exists() and not out.is_dir():
        raise UsageError(f"cannot write to {out}: it exists and is not a directory")
    if kind != "folder" and out.is_dir():
        raise UsageError(f"cannot write to {out}: it is a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to {out}: {e.strerror or e}: {e.filename or directory}"
                         ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {out}: {directory} is not writable")


def write(target, batches, progress=False):
    """Write the uint8 images or float32 points of ``batches`` (an iterator of arrays, ``n``
    samples in all) to ``target``; returns the written paths (a folder's files, or the file and
    any scatter beside it, or the folder)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=target.n, unit="sample", file=sys.stderr, leave=False,
               disable=not progress, dynamic_ncols=True)
    batches = _counted(batches, bar)
    try:
        if target.kind == "grid":
            return _write_grid(target, np.concatenate(list(batches)))
        if target.kind == "npy":
            kept = _stream_npy(target.out, target, batches)
            return [target.out, *_scatter(target, kept, target.out.with_suffix(".png"))]
        if target.points:
            kept = _stream_npy(target.out / "points.npy", target, batches)
            return [target.out / "points.npy", *_scatter(target, kept, target.out / "scatter.png")]
        return _write_folder(target, batches)
    finally:
        bar.close()


def _counted(batches, bar):
    for batch in batches:
        yield batch
        bar.update(len(batch))


def _write_grid(target, samples):
    if target.points:
        return _scatter(target, samples, target.out)
    grid = viz.upscale(viz.image_grid(samples, ncols=target.columns), target.scale)
    return [save_image(target.out, grid)]


def save_image(path, image):
    """:func:`gantool.viz.save_image`, atomically; returns the path."""
    with rundir.atomic_path(path) as tmp:
        viz.save_image(tmp, image)
    return Path(path)


def _scatter(target, points, path):
    """A scatter PNG of (the first :data:`SCATTER_SHOWN` of) 2-D ``points`` over the real ones;
    nothing for images."""
    if not target.points:
        return []
    real = np.load(target.real_path) if target.real_path is not None else None
    shown = f"first {len(points)} of " if len(points) < target.n else ""
    return [save_image(path, viz.scatter_image(real, points, title=f"{shown}{target.n} samples"))]


def _stream_npy(path, target, batches):
    """Write the batches to ``path`` as one .npy array (N, *shape) (uint8 images) or (N, 2)
    (float32 points), sequentially; returns the first :data:`SCATTER_SHOWN` points (or None)."""
    dtype = np.dtype(np.float32 if target.points else np.uint8)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (target.n, *target.shape)}
    kept, count = [], 0
    with rundir.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for batch in batches:
            f.write(np.ascontiguousarray(batch, dtype).tobytes())
            if target.points and count < SCATTER_SHOWN:
                kept.append(batch[:SCATTER_SHOWN - count])
            count += len(batch)
    return np.concatenate(kept) if kept else None


def _write_folder(target, batches):
    """Numbered PNGs ``0.png``... (zero-padded to one width); returns ``[folder]`` (a list of
    every file would not fit in memory for the largest ``--n``)."""
    width, count = len(str(target.n - 1)), 0
    for batch in batches:
        for image in batch:
            save_image(target.out / f"{count:0{width}d}.png", image)
            count += 1
    return [target.out]
