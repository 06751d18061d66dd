"""The run-directory lock: one writer (``gantool train``) per run directory at a time.

``RUN_DIR/.lock`` holds ``PID HOST START`` of the writer, and the writer holds an exclusive
``fcntl.flock`` on it while it runs. The kernel drops a flock when its process dies (SIGKILL
included), so a lock file whose flock can be taken is a stale one: it is taken over with a
warning naming the dead holder. ``sample``, ``animate`` and ``eval`` never take the lock.
"""

import fcntl
import os
import socket
import sys
import time
from pathlib import Path

from gantool.errors import GantoolError, UsageError

LOCK = ".lock"


class RunLock:
    """``with RunLock(run_dir):`` holds ``run_dir``'s lock (creating ``run_dir``, parents
    included); a live holder is a :class:`GantoolError` (exit 1) naming its PID, host and start
    time. Released (file removed) on exit, errors and signals included."""

    def __init__(self, run_dir, create=True):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self.create = create
        self.fd = None

    def __enter__(self):
        self._make_dir()
        while self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise UsageError(f"cannot write to --out {self.run_dir}: "
                                 f"{e.strerror or e}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read(fd)
                os.close(fd)
                raise GantoolError(f"run directory {self.run_dir} is in use by another "
                                   f"gantool train ({describe(holder)}); wait for it or choose "
                                   "another --out") from None
            if not _same_file(fd, self.path):  # removed by its releasing holder meanwhile
                os.close(fd)
                continue
            self.fd = fd
        stale = _read(self.fd)
        if stale:
            print(f"warning: taking over the lock of {self.run_dir} left by a gantool train "
                  f"that is gone ({describe(stale)})", file=sys.stderr)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()} {socket.gethostname()} "
                           f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode(), 0)
        return self

    def _make_dir(self):
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise UsageError(f"--out {self.run_dir} exists and is not a directory")
        if not self.create and not self.run_dir.is_dir():
            raise UsageError(f"{self.run_dir}: not a gantool run directory (it does not exist)")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot write to --out {self.run_dir}: {e.strerror or e}") from None

    def __exit__(self, *exc):
        if self.fd is not None:
            try:
                if _same_file(self.fd, self.path):
                    self.path.unlink()
            finally:
                os.close(self.fd)
                self.fd = None
        return False


def _read(fd):
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _same_file(fd, path):
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def describe(holder):
    """``PID 123 on HOST since START`` from a lock file's text (as much as it holds)."""
    parts = holder.split()
    if len(parts) < 3:
        return f"lock file says {holder!r}" if holder else "holder unknown"
    return f"PID {parts[0]} on {parts[1]} since {parts[2]}"
