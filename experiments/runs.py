"""What the experiment scripts share: running ``gantool`` as a user does (a fresh process),
failing with its last error line, and waiting while another job times something."""

import os
import shlex
import subprocess
import sys
import time


def gantool(command, what, hint=None):
    """Run ``python -m gantool COMMAND`` (a list); returns (stdout, wall seconds). On failure
    exits with ``what`` failed, gantool's last error line (plus ``hint(last line)`` when given)
    and the command."""
    full = [sys.executable, "-m", "gantool", *map(str, command)]
    start = time.perf_counter()
    done = subprocess.run(full, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {done.returncode}"
        extra = hint(last) if hint else ""
        raise SystemExit(f"error: {what} failed: {last}{extra}\n  command: {shlex.join(full)}")
    return done.stdout, seconds


def wait_while(lock):
    """Sleep while the file ``lock`` exists (someone is timing something on this machine),
    saying so once on stderr."""
    said = False
    while os.path.exists(lock):
        if not said:
            print(f"  waiting while {lock} exists ...", file=sys.stderr, flush=True)
            said = True
        time.sleep(5)
