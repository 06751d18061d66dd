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


def plot_history(path, rows):
    """Plot losses and discriminator outputs per epoch from ``metrics.csv``-style dict rows."""
    plt = _matplotlib()
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(11, 4), dpi=90)
    for key, label in (("d_loss", "D loss"), ("g_loss", "G loss")):
        ax_loss.plot(epochs, [float(r[key]) for r in rows], marker=".", label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_loss.set_title("losses")
    for key, label in (("d_real", "mean D(x)"), ("d_fake", "mean D(G(z))"),
                       ("d_acc_real", "D accuracy, real"), ("d_acc_fake", "D accuracy, fake")):
        ax_d.plot(epochs, [float(r[key]) for r in rows], marker=".", label=label)
    ax_d.set_ylim(-0.05, 1.05)
    ax_d.set_xlabel("epoch")
    ax_d.legend(fontsize="small")
    ax_d.set_title("discriminator")
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
    fig.tight_layout()
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
