"""The decoded-folder cache: a ``folder:`` dataset decoded once is read back in seconds.

One entry per (folder, number of files, image size, channels, ``--skip-bad-images``) under
``$GANTOOL_CACHE/folders`` (else ``$XDG_CACHE_HOME/gantool/folders``, else
``~/.cache/gantool/folders``): ``NAME.npy`` holds the decoded uint8 (N, S, S, C) array and
``NAME.json`` its key, a digest of every file's relative path, size and modification time (and
the names of the images skipped as unreadable). An entry whose digest no longer matches the
files (a file added, removed, edited or touched) is stale: the folder is decoded again and the
entry replaced. Both files are written atomically, the ``.json`` last, so a half-written entry
is never read. Folders of fewer than :data:`MIN_IMAGES` images decode in about a second and
are not cached. A cache that cannot be read or written is ignored (it is only a speed-up).
"""

import hashlib
import json

import numpy as np

from gantool import rundir
from gantool.metrics.inception.weights import cache_dir

FOLDERS_DIR = "folders"
CACHE_FORMAT = 1
MIN_IMAGES = 500


def cache_root():
    """``$GANTOOL_CACHE/folders`` (see :func:`gantool.metrics.inception.weights.cache_dir`)."""
    return cache_dir() / FOLDERS_DIR


class FolderCache:
    """The cache entry for decoding ``files`` (:class:`~gantool.data.folder.ImageFile` under
    ``root``) to uint8 (size, size, channels)."""

    def __init__(self, root, files, size, channels, skip_bad):
        where = str(root.resolve())
        name = json.dumps([CACHE_FORMAT, where, len(files), size, channels, bool(skip_bad)])
        stem = hashlib.sha256(name.encode()).hexdigest()[:24]
        self.array_path = cache_root() / f"{stem}.npy"
        self.key_path = cache_root() / f"{stem}.json"
        self.shape = (size, size, channels)
        self.key = {"format": CACHE_FORMAT, "root": where, "files": len(files),
                    "shape": list(self.shape), "digest": _digest(files)}

    def load(self):
        """(uint8 (N, S, S, C) images, skipped relative names) if the entry is fresh, else None."""
        try:
            saved = json.loads(self.key_path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or {**saved, "skipped": None} != {
                    **self.key, "skipped": None}:
                return None
            images = np.load(self.array_path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        skipped = saved.get("skipped")
        if (images.dtype != np.uint8 or images.shape[1:] != self.shape
                or not isinstance(skipped, list)
                or len(images) + len(skipped) != self.key["files"]):
            return None
        return images, skipped

    def store(self, images, skipped):
        """Write the entry (array first, key last); a failure leaves no entry, silently."""
        try:
            self.array_path.parent.mkdir(parents=True, exist_ok=True)
            self.key_path.unlink(missing_ok=True)
            rundir.save_array(self.array_path, images)
            rundir.write_json(self.key_path, {**self.key, "skipped": list(skipped)})
        except OSError:
            pass


def _digest(files):
    """sha256 over every file's relative path, size and mtime (ns) (``ImageFile`` fields)."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.name}\0{file.size}\0{file.mtime_ns}\n".encode())
    return digest.hexdigest()
