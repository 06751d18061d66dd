"""Images from a folder: ``folder:PATH``.

Every file under PATH (recursively) with an image extension is used, in sorted path order;
hidden files and folders (names starting with ".") are skipped, symlinked folders are not
followed. The images are decoded with PIL up front (a few threads), each centre-cropped to a
square, resized to ``image_size`` (default 64) with antialiasing, converted to grey or RGB
(``channels``, default 3) and kept in memory as one uint8 (N, S, S, C) array: about 12 KB per
64x64 RGB image, so 100k images take about 1.2 GB. A file that cannot be decoded is an error
naming it.

If every image lies in a first-level sub-folder of PATH, the sub-folders are taken as classes:
``labels_available`` is set and ``class_names`` lists the sorted sub-folder names.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gantool.data.source import from_arrays
from gantool.errors import UsageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
DEFAULT_IMAGE_SIZE = 64
DEFAULT_CHANNELS = 3


def find_images(root):
    """Sorted paths of the image files under ``root`` (recursive, hidden entries skipped)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(folder, name))
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def class_names_of(root, paths):
    """Sorted first-level sub-folder names if every path lies in one, else None."""
    parts = [p.relative_to(root).parts for p in paths]
    if not parts or any(len(p) < 2 for p in parts):
        return None
    return sorted({p[0] for p in parts})


def _convert(image, channels):
    """PIL image -> PIL image in mode L (``channels == 1``) or RGB; alpha is dropped."""
    from PIL import Image

    if image.mode.startswith("I"):  # 16-bit grey: keep the high byte
        high = np.asarray(image).astype(np.int64) >> 8
        image = Image.fromarray(np.clip(high, 0, 255).astype(np.uint8))
    elif image.mode in ("P", "PA", "LA") or "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("L" if channels == 1 else "RGB")


def read_image(path, size, channels):
    """Decode one file to uint8 (size, size, channels), centre-cropped to square and resized.

    Raises :class:`UsageError` naming ``path`` if it cannot be decoded.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image.load()
            image = _convert(image, channels)
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.BICUBIC)
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise UsageError(f"cannot read image {path}: {e}") from None
    return pixels[..., np.newaxis] if channels == 1 else pixels


def read_images(paths, size, channels, workers=None):
    """Decode ``paths`` (in order) into one uint8 (N, size, size, channels) array."""
    images = np.empty((len(paths), size, size, channels), dtype=np.uint8)
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, pixels in enumerate(pool.map(lambda p: read_image(p, size, channels), paths)):
            images[i] = pixels
    return images


def load_folder(spec, path, *, image_size=None, channels=None, max_examples=None):
    """A :class:`~gantool.data.source.DataSource` of the images under the folder ``path``."""
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise UsageError(f"dataset {spec!r}: {root} {what}")
    paths = find_images(root)
    if not paths:
        raise UsageError(
            f"dataset {spec!r}: no image files under {root} (accepted extensions: "
            f"{', '.join(e[1:] for e in IMAGE_EXTENSIONS)})"
        )
    class_names = class_names_of(root, paths)
    if max_examples is not None:
        paths = paths[:max_examples]
    images = read_images(paths, image_size or DEFAULT_IMAGE_SIZE, channels or DEFAULT_CHANNELS)
    labels = None
    if class_names is not None:
        labels = [class_names.index(p.relative_to(root).parts[0]) for p in paths]
    return from_arrays(spec, images, labels, class_names)
