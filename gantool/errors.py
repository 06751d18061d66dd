"""User-facing errors. The CLI turns them into one-line messages and exit codes."""


class GantoolError(Exception):
    """A runtime failure the user can act on (exit code 1)."""

    exit_code = 1


class UsageError(GantoolError):
    """Bad input from the user: an unknown name, a bad path, a nonsense number (exit code 2)."""

    exit_code = 2


class TrainingDiverged(GantoolError):
    """A loss became NaN or infinite."""


def first_line(error):
    """The first line of ``error``'s message (TensorFlow's ``message`` where it has one), or its
    type's name when the message is empty."""
    text = (getattr(error, "message", None) or str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__
