"""Pictures from arrays: image grids, 2-D scatter plots, loss plots and GIFs.

Everything here takes and returns numpy arrays; images are uint8 (N, H, W, C) with C in {1, 3}.
"""

import math

import imageio.v3 as iio
import numpy as np

GRID_PADDING = 2


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_grid(images, ncols=None, padding=GRID_PADDING):
    """Tile uint8 images (N, H, W, C) into one (rows*(H+p)+p, cols*(W+p)+p, C) uint8 image."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.zeros((nrows * (h + padding) + padding, ncols * (w + padding) + padding, c),
                    np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = image
    return grid


def grid_size(rows, columns, h, w, padding=GRID_PADDING):
    """(width, height) in pixels of :func:`image_grid`'s grid of ``rows`` x ``columns`` HxW."""
    return columns * (w + padding) + padding, rows * (h + padding) + padding


def default_scale(width, target=512):
    """The smallest whole upscaling factor (>= 1) that makes ``width`` pixels >= ``target``."""
    return max(1, math.ceil(target / max(1, width)))


def upscale(image, factor):
    """Nearest-neighbour upscaling of a uint8 image (H, W, C) -> (H*factor, W*factor, C)."""
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def save_image(path, image):
    """Write a uint8 (H, W, 1 or 3) image as PNG."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    iio.imwrite(path, image)


def _figure_to_array(fig):
    fig.canvas.draw()
    array = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    _matplotlib().close(fig)
    return array


def point_limits(real, margin=0.15):
    """Axis limits ((xmin, xmax), (ymin, ymax)) that frame the real points with a margin."""
    lo, hi = real.min(axis=0), real.max(axis=0)
    pad = (hi - lo) * margin + 1e-3
    return (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])


def scatter_image(real, fake, title="", limits=None, size=(5, 5), legend=True):
    """RGB uint8 image of generated 2-D points (N, 2) drawn over the real ones (M, 2)."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=size, dpi=80)
    ax.scatter(fake[:, 0], fake[:, 1], s=4, c="tab:orange", alpha=0.5, label="generated")
    if real is not None and len(real):  # on top, small, so modes stay visible under the fakes
        ax.scatter(real[:, 0], real[:, 1], s=1, c="tab:blue", alpha=0.6, label="real", zorder=3)
    if limits is None and real is not None and len(real):
        limits = point_limits(real)
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    ax.set_title(title)
    if legend:
        ax.legend(loc="upper right", markerscale=3)
    fig.tight_layout()
    return _figure_to_array(fig)


LOSS_CURVES = (("d_loss", "D loss"), ("g_loss", "G loss"))
D_CURVES = (("d_real", "mean D(x)"), ("d_fake", "mean D(G(z))"),
            ("d_acc_real", "D accuracy, real"), ("d_acc_fake", "D accuracy, fake"))
# --augment: ADA's probability and D's overfitting signal E[sign(D(x))], in [-1, 1]
AUGMENT_CURVES = (("aug_p", "augment p"), ("d_sign_real", "E[sign D(x)]"))


MAX_CURVE_POINTS = 2000  # per-step curves are drawn through at most about this many points


def smooth(values, span=None):
    """Exponential moving average of float ``values`` (N,), bias-corrected: (N,) floats.

    ``span`` (default: about N/20, at least 1) sets the decay 1 - 2/(span+1); NaNs are skipped.
    """
    values = np.asarray(values, dtype=float)
    span = span or max(1, len(values) // 20)
    decay = 1 - 2 / (span + 1)
    out, mean, weight = np.empty_like(values), 0.0, 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            mean, weight = decay * mean + (1 - decay) * v, decay * weight + (1 - decay)
        out[i] = mean / weight if weight else np.nan
    return out


def _label_axes(ax_loss, ax_d, xlabel, what):
    """Axis labels, legends and titles ("losses WHAT", "discriminator WHAT"); D's in [0, 1]."""
    for ax in (ax_loss, ax_d):
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper right", fontsize="small")  # (loc="best" searches the data: slow)
    ax_loss.set_ylabel("loss")
    ax_loss.set_title(f"losses {what}")
    ax_d.set_ylim(-0.05, 1.05)
    ax_d.set_title(f"discriminator {what}")


def _plot_augment(ax_d, x, rows, style):
    """--augment's curves (AUGMENT_CURVES) of ``rows`` on D's axes, dashed; D's axis then
    spans [-1, 1] (the sign's range)."""
    present = [(k, label) for k, label in AUGMENT_CURVES if rows and rows[-1].get(k) not in
               (None, "")]
    for i, (key, label) in enumerate(present):
        values = np.array([float(r.get(key) or "nan") for r in rows])
        ax_d.plot(x, style(values), color=f"C{4 + i}", linestyle="--", label=label)
    if present:
        ax_d.set_ylim(-1.05, 1.05)
        ax_d.legend(loc="upper right", fontsize="small")


def _plot_epochs(ax_loss, ax_d, rows):
    """The epoch means of ``metrics.csv`` rows: losses on ``ax_loss``, D's outputs on ``ax_d``."""
    epochs = [int(r["epoch"]) for r in rows]
    for ax, curves in ((ax_loss, LOSS_CURVES), (ax_d, D_CURVES)):
        for key, label in curves:
            ax.plot(epochs, [float(r[key]) for r in rows], marker=".", label=label)
    _label_axes(ax_loss, ax_d, "epoch", "(epoch means)")
    _plot_augment(ax_d, epochs, rows, lambda values: values)
    columns = dict.fromkeys(k for r in rows for k in r)
    extra = [k for k in columns if k.startswith("eval_") and k != "eval_n"]
    if extra:
        ax_eval = ax_loss.twinx()
        for key in extra:
            points = [(int(r["epoch"]), float(r[key])) for r in rows
                      if r.get(key) not in ("", None)]
            if points:
                ax_eval.plot(*zip(*points), "k--", marker="x", label=key)
        ax_eval.legend(loc="upper center", fontsize="small")


def _plot_steps(ax_loss, ax_d, steps):
    """Per-step curves of ``steps.csv`` rows: raw (light) and smoothed, epoch ends dashed."""
    x = np.array([int(r["step"]) for r in steps])
    ends = [int(a["step"]) for a, b in zip(steps, steps[1:]) if a["epoch"] != b["epoch"]]
    ends = ends[:: max(1, len(ends) // 50)]  # at most about 50 marks
    shown = slice(None, None, max(1, len(x) // MAX_CURVE_POINTS))  # drawing costs per point
    for ax, curves in ((ax_loss, LOSS_CURVES), (ax_d, D_CURVES)):
        for i, (key, label) in enumerate(curves):
            values = np.array([float(r[key]) for r in steps])
            color = f"C{i}"
            ax.plot(x[shown], values[shown], color=color, alpha=0.25, linewidth=0.7)
            ax.plot(x[shown], smooth(values)[shown], color=color, linewidth=1.5, label=label)
        for end in ends:
            ax.axvline(end, color="grey", linewidth=0.6, linestyle=":")
    _label_axes(ax_loss, ax_d, "step (dotted: epoch ends)", "per step (smoothed)")
    _plot_augment(ax_d, x, steps, smooth)


def plot_history(path, rows, steps=None):
    """Write ``training.png``: losses and D's outputs per epoch, from ``metrics.csv``-style dict
    rows (and their ``eval_*`` scores), under the per-step curves of ``steps`` (``steps.csv``
    rows, raw and smoothed with epoch marks) when there are any: one PNG either way."""
    plt = _matplotlib()
    steps = [r for r in steps or () if r.get("d_loss") not in ("", None)]
    if steps:
        fig, axes = plt.subplots(2, 2, figsize=(11, 8), dpi=90)
        _plot_steps(*axes[0], steps)
        if rows:
            _plot_epochs(*axes[1], rows)
        else:
            for ax in axes[1]:
                ax.set_axis_off()
    else:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=90)
        _plot_epochs(*axes, rows)
    # fixed margins (tight_layout measured every label: a third of the drawing time)
    fig.subplots_adjust(left=0.07, right=0.93, bottom=0.08 if steps else 0.13,
                        top=0.95 if steps else 0.91, wspace=0.28, hspace=0.32)
    fig.savefig(path)
    plt.close(fig)


def write_gif(path, frames, fps=4):
    """Write RGB or grey uint8 frames (same shape) as a looping GIF at ``fps`` frames per second."""
    frames = [f[..., 0] if f.ndim == 3 and f.shape[-1] == 1 else f for f in frames]
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)


def save_evolution(path, strips, labels):
    """Stack horizontal uint8 image strips (H, W, C) into one PNG, each row labelled on the left."""
    plt = _matplotlib()
    h, w = strips[0].shape[:2]
    scale = 1.5 / 80
    size = (w * scale + 0.9, len(strips) * h * scale + 0.3)
    fig, axes = plt.subplots(len(strips), 1, figsize=size,
                             dpi=80, squeeze=False)
    for ax, strip, label in zip(axes[:, 0], strips, labels):
        grey = strip.shape[-1] == 1
        ax.imshow(strip[..., 0] if grey else strip, cmap="gray" if grey else None,
                  vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.9 / size[0], right=0.99, top=0.99, bottom=0.01, hspace=0.05)
    fig.savefig(path)
    plt.close(fig)
