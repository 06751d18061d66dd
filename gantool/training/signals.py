"""Stopping on SIGINT/SIGTERM: the signal asks for a stop at the end of the current step (a
checkpoint is saved there); a second SIGINT aborts at once."""

import contextlib
import signal
import threading

from gantool.errors import GantoolError


class Interrupted(GantoolError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint (exit code 128 + signal)."""

    def __init__(self, message, signal_name="SIGINT"):
        super().__init__(message)
        self.exit_code = 128 + signal.Signals[signal_name].value


@contextlib.contextmanager
def stop_requests(state):
    """While active, SIGINT/SIGTERM set ``state.interrupted`` (a second SIGINT aborts at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum, frame):
        if state.interrupted and signum == signal.SIGINT:
            raise KeyboardInterrupt
        state.interrupted = signal.Signals(signum).name

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
