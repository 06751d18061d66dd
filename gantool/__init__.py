"""gantool: train, sample, animate and evaluate GANs with Keras 3 on TensorFlow."""

import os
import platform
import sys

__version__ = "0.1.0"

# gantool's models, train step and checkpoints are TensorFlow code: Keras must use that backend
# whatever the environment says (Keras reads this when it is first imported).
os.environ["KERAS_BACKEND"] = "tensorflow"

# TensorFlow enables its oneDNN CPU kernels by default only on some x86 CPUs (Intel ones with
# AVX-512 and the like); elsewhere, AMD EPYC included, convolutions fall back to slower Eigen
# kernels. benchmarks/step_profile.py --threads measured the DCGAN step 1.7-2.0x faster with
# oneDNN on a 2-core AMD EPYC. Only effective when set before TensorFlow is first imported; a
# user's own setting (0 or 1) wins.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

VERBOSE_ENV = "GANTOOL_VERBOSE"


def verbose():
    """True when TensorFlow's own start-up and warning lines should be shown
    (``gantool --verbose`` or $GANTOOL_VERBOSE=1)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class QuietNativeStderr:
    """While active (a context manager), file descriptor 2 goes to /dev/null, so that the lines
    TensorFlow's C++ side writes there at import and first device use ("Could not find cuda
    drivers", "All log messages before absl::InitializeLog()", the oneDNN notice, cuInit) are
    not shown, and TensorFlow's Python loggers show errors only. Python's ``sys.stderr`` (error
    messages, warnings, progress bars) still reaches the terminal: where it wrote to fd 2 it is
    replaced by a stream on a copy of the original fd 2 (kept open for the process's life, since
    loggers may hold it). Does nothing when :func:`verbose`."""

    def __enter__(self):
        self.saved = None
        if verbose():
            return self
        import logging

        for name in ("tensorflow", "absl", "h5py"):
            logging.getLogger(name).setLevel(logging.ERROR)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            sys.stderr.flush()
            on_fd2 = sys.stderr.fileno() == 2
        except (AttributeError, OSError, ValueError):
            on_fd2 = False
        self.saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        self.stream, self.replaced = sys.stderr, on_fd2
        if on_fd2:
            sys.stderr = open(self.saved, "w", buffering=1, closefd=False,  # noqa: SIM115
                              encoding=getattr(self.stream, "encoding", None) or "utf-8",
                              errors="backslashreplace")
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            sys.stderr.flush()
            sys.stderr = self.stream
            os.dup2(self.saved, 2)
            if not self.replaced:  # nothing else can hold it
                os.close(self.saved)
            self.saved = None
        return False
