"""Images from a folder: ``folder:PATH``.

Every regular file under PATH (recursively) with an image extension is used, in sorted path
order; hidden files and folders (names starting with ".") are skipped, symlinked folders are not
followed, and entries that are not regular files (FIFOs, sockets, devices, dangling links) are
skipped without being opened. The images are decoded with PIL up front (a few threads; a
progress bar on a terminal's stderr for large folders), each centre-cropped to a square,
resized to ``image_size`` (default 64) with antialiasing, converted to grey or RGB (``channels``,
default 3; an alpha channel is dropped, not composited) and kept in memory as one uint8
(N, S, S, C) array: about 12 KB per 64x64 RGB image, so 100k images take about 1.2 GB. Files
that cannot be decoded make one error listing them (how many, the first few names); with
``skip_bad_images`` (``--skip-bad-images``) the rest are used, with a one-line warning. Large
folders' decoded arrays are cached (:mod:`gantool.data.folder_cache`).

If every image lies in a first-level sub-folder of PATH, the sub-folders are taken as classes:
``labels_available`` is set and ``class_names`` lists the sorted sub-folder names.
"""

import os
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gantool.data import folder_cache
from gantool.data.source import from_arrays
from gantool.errors import UsageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
DEFAULT_IMAGE_SIZE = 64
DEFAULT_CHANNELS = 3
# A progress bar on a terminal's stderr while decoding at least this many files: after a
# second, or at once from PROGRESS_AT_ONCE files.
PROGRESS_MIN_IMAGES = 200
PROGRESS_AT_ONCE = 1000
# Unreadable files named in an error or warning (the rest are counted).
NAMED_BAD_FILES = 5


class ImageFile(NamedTuple):
    """One image file: its path parts relative to the folder, full path, size and mtime (ns)."""

    parts: tuple
    path: str
    size: int
    mtime_ns: int

    @property
    def name(self):
        return "/".join(self.parts)


def image_files(root):
    """The regular image files under ``root`` as :class:`ImageFile`, sorted by relative path
    (recursive; hidden entries and non-regular files such as FIFOs, sockets and dangling links
    skipped, never opened). One ``stat`` per file, no other file-system call."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        where = Path(folder).relative_to(root).parts
        for name in files:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)  # follows links; opens nothing
                except OSError:  # a dangling link, or gone
                    continue
                if stat.S_ISREG(info.st_mode):
                    found.append(ImageFile((*where, name), path, info.st_size, info.st_mtime_ns))
    return sorted(found)


def find_images(root):
    """Sorted paths of the regular image files under ``root`` (see :func:`image_files`)."""
    return [Path(f.path) for f in image_files(root)]


def class_names_of(files):
    """Sorted first-level sub-folder names if every :class:`ImageFile` lies in one, else None."""
    if not files or any(len(f.parts) < 2 for f in files):
        return None
    return sorted({f.parts[0] for f in files})


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
    pixels, reason = _decode(path, size, channels)
    if reason is not None:
        raise UsageError(f"cannot read image {path}: {reason}")
    return pixels


def _decode(path, size, channels):
    """(uint8 (size, size, channels) pixels, None), or (None, why it cannot be decoded)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image.load()
            image = _convert(image, channels)
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.BICUBIC)
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        reason = str(e).replace(repr(str(path)), "").replace(str(path), "").strip(" :")
        return None, " ".join(reason.split()) or type(e).__name__
    return (pixels[..., np.newaxis] if channels == 1 else pixels), None


def decode_images(paths, size, channels, workers=None):
    """Decode ``paths`` (in order, in parallel): (uint8 (N, size, size, channels) images,
    ``[(index, reason)]`` of the files that cannot be decoded, whose rows stay zero)."""
    from tqdm import tqdm

    images = np.zeros((len(paths), size, size, channels), dtype=np.uint8)
    bad = []
    workers = workers or min(8, os.cpu_count() or 1)
    bar = tqdm(total=len(paths), desc="decoding images", unit="img", leave=False,
               file=sys.stderr, delay=0 if len(paths) >= PROGRESS_AT_ONCE else 1,
               disable=True if len(paths) < PROGRESS_MIN_IMAGES else None)  # None: a tty only
    with bar, ThreadPoolExecutor(max_workers=workers) as pool:
        for i, (pixels, reason) in enumerate(
                pool.map(lambda p: _decode(p, size, channels), paths)):
            if reason is None:
                images[i] = pixels
            else:
                bad.append((i, reason))
            bar.update()
    return images, bad


def _named(names, reason=None):
    """``"a.png (why), b.png and 3 more"``: the first :data:`NAMED_BAD_FILES` names."""
    shown = list(names[:NAMED_BAD_FILES])
    if reason:
        shown[0] += f" ({reason})"
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _decoded(spec, root, files, size, channels, skip_bad):
    """(uint8 images of the decodable ``files``, relative names of those skipped), from the
    cache where it is fresh. Raises :class:`UsageError` listing unreadable files unless
    ``skip_bad``."""
    cache = None
    if len(files) >= folder_cache.MIN_IMAGES:
        cache = folder_cache.FolderCache(root, files, size, channels, skip_bad)
        hit = cache.load()
        if hit is not None:
            return hit
    images, bad = decode_images([f.path for f in files], size, channels)
    skipped = [files[i].name for i, _ in bad]
    if bad and not skip_bad:
        raise UsageError(
            f"dataset {spec!r}: {len(bad)} of {len(files)} images cannot be read: "
            f"{_named(skipped, bad[0][1])}; fix or remove them, or pass --skip-bad-images to "
            f"train on the rest")
    if len(bad) == len(files):
        raise UsageError(f"dataset {spec!r}: none of the {len(files)} images under {root} can "
                         f"be read: {_named(skipped, bad[0][1])}")
    if bad:
        images = np.delete(images, [i for i, _ in bad], axis=0)
    if cache is not None:
        cache.store(images, skipped)
    return images, skipped


def load_folder(spec, path, *, image_size=None, channels=None, max_examples=None,
                skip_bad_images=False):
    """A :class:`~gantool.data.source.DataSource` of the images under the folder ``path``.

    ``skip_bad_images`` trains on the files that decode (warning once on stderr) instead of
    refusing a folder with unreadable ones.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise UsageError(f"dataset {spec!r}: {root} {what}")
    files = image_files(root)
    if not files:
        raise UsageError(
            f"dataset {spec!r}: no image files under {root} (accepted extensions: "
            f"{', '.join(e[1:] for e in IMAGE_EXTENSIONS)})"
        )
    class_names = class_names_of(files)
    files = files[:max_examples]
    images, skipped = _decoded(spec, root, files, image_size or DEFAULT_IMAGE_SIZE,
                               channels or DEFAULT_CHANNELS, skip_bad_images)
    if skipped:
        print(f"warning: dataset {spec!r}: skipped {len(skipped)} of {len(files)} images that "
              f"cannot be read: {_named(skipped)}", file=sys.stderr)
        unreadable = set(skipped)
        files = [f for f in files if f.name not in unreadable]
    labels = None
    if class_names is not None:
        index = {name: i for i, name in enumerate(class_names)}
        labels = np.array([index[f.parts[0]] for f in files], dtype=np.int32)
    return from_arrays(spec, images, labels, class_names)
