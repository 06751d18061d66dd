"""Ready-made samples given to ``gantool eval --samples``: a folder of images, a .npy/.npz
uint8 array, or for ring/grid a .npy array of points."""

from pathlib import Path

import numpy as np

from gantool.data import load_dataset, split_spec
from gantool.errors import UsageError

from .reference import dataset_images


def samples_spec(samples_path):
    """The dataset spec (``folder:``, ``npy:``, ``npz:``) that reads ``samples_path``."""
    path = Path(samples_path).expanduser()
    if path.is_dir():
        return f"folder:{path}"
    if path.is_file() and path.suffix.lower() in (".npy", ".npz"):
        return f"{path.suffix.lower()[1:]}:{path}"
    what = "does not exist" if not path.exists() else "is not a folder or a .npy/.npz file"
    raise UsageError(f"--samples {path} {what}; give a folder of images or a .npy array of "
                     "uint8 images (N, H, W[, C]) (float points (N, 2) for ring/grid)")


def read_points(samples_path, n):
    """The first ``n`` points (float64 (N, 2)) of a .npy file."""
    path = Path(samples_path).expanduser()
    if path.suffix.lower() != ".npy" or not path.is_file():
        raise UsageError(f"--samples {path}: 2-D datasets need a .npy file of points (N, 2)")
    try:
        points = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--samples {path}: cannot read it as .npy ({e})") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise UsageError(f"--samples {path}: expected points of shape (N, 2), got {points.shape}")
    return points[:n].astype(np.float64)


def read_images(spec, n, real_shape):
    """The first ``n`` sample images of ``spec`` as uint8 (N, H, W, C). Folder images are
    decoded at the reference images' size and channels (``real_shape`` [H, W, C]); arrays
    keep their own shape."""
    size, _, depth = real_shape
    folder = split_spec(spec)[0] == "folder:"
    options = {"image_size": size, "channels": depth} if folder else {}
    return dataset_images(load_dataset(spec, max_examples=n, **options), n)
