"""Command-line latency and memory: whole ``gantool`` processes, timed from outside.

- ``gantool --help`` (and ``gantool train --help``): median wall time of several runs, against
  the target of 0.5 s; a bare ``python -c pass`` is timed as the floor;
- ``gantool train`` of an MNIST DCGAN for one epoch of ``--train-steps`` steps (100 by default):
  wall time and peak memory (the child's max RSS from ``os.wait4``), against the target of 3 GB;
- ``gantool sample`` of 10,000 images from that run into a ``.npy`` file: median wall time,
  against the target of 15 s.

Uses the ``gantool`` script next to this interpreter (``sys.executable -m gantool`` where there is
none) and real MNIST from ../shared/data/mnist.npz, or a random stand-in where it is absent.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import common

HELP_TARGET_S = 0.5
SAMPLE_TARGET_S = 15.0
MEMORY_TARGET_GB = 3.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--help-runs", type=int, default=7, help="runs of each --help command")
    parser.add_argument("--sample-runs", type=int, default=3, help="runs of gantool sample")
    parser.add_argument("--n", type=int, default=10_000, help="images to sample")
    parser.add_argument("--train-steps", type=int, default=100,
                        help="steps of the DCGAN training run whose peak memory is measured")
    parser.add_argument("--device", choices=["auto", "cpu"], default="auto",
                        help="auto: gantool uses the GPUs TensorFlow finds (the CPU here); cpu: "
                             "hide GPUs from the gantool processes (CUDA_VISIBLE_DEVICES=-1)")
    parser.add_argument("--quick", action="store_true",
                        help="3 --help runs, 1 sample run, 20 training steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.help_runs, args.sample_runs = min(args.help_runs, 3), min(args.sample_runs, 1)
        args.train_steps = min(args.train_steps, 20)
    return args


def gantool_command():
    """The argv prefix that starts gantool with this interpreter's environment."""
    script = Path(sys.executable).with_name("gantool")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gantool"]


TIME = Path("/usr/bin/time")
CHILD_ENVIRONMENT = dict(os.environ)  # --device cpu adds CUDA_VISIBLE_DEVICES=-1
RSS_TAG = "GANTOOL_BENCH_MAXRSS_KIB="


def run_process(argv):
    """Run ``argv`` to completion; return (wall seconds, max RSS in bytes). Raises on failure.

    The max RSS comes from ``/usr/bin/time`` where present: a child forked from this Python
    process would count this process's own pages (copied at fork) in its ``ru_maxrss``. Without
    it, ``os.wait4`` gives the child's ``ru_maxrss`` with that floor (tens of MiB) included.
    """
    use_time = TIME.is_file()
    command = [str(TIME), "-f", RSS_TAG + "%M", *argv] if use_time else argv
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=CHILD_ENVIRONMENT)
    stderr = process.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != 0:
        lines = [line for line in stderr.strip().splitlines()
                 if not line.startswith((RSS_TAG, "Command exited"))]
        tail = "\n".join(lines[-5:])
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{tail}")
    kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    tagged = [line for line in stderr.splitlines() if line.startswith(RSS_TAG)]
    if use_time and tagged:
        kib = int(tagged[-1][len(RSS_TAG):])
    return seconds, kib * 1024


def repeat_process(argv, runs):
    """``runs`` runs of ``argv``: (list of wall seconds, largest max RSS)."""
    results = [run_process(argv) for _ in range(runs)]
    return [s for s, _ in results], max(r for _, r in results)


def row(label, seconds, rss, target_s=None):
    """A table row; with ``target_s`` the median wall time is checked against it."""
    value = common.median(seconds)
    target = f"< {target_s:g} s" if target_s else ""
    verdict = common.verdict(value, target_s) if target_s else ""
    return [label, len(seconds), common.fmt(value, 3), common.fmt(min(seconds), 3),
            common.fmt(max(seconds), 3), f"{rss / 2**20:,.0f}", target, verdict]


def check_samples(path, n):
    """The sampled .npy must hold ``n`` uint8 28x28x1 images."""
    import numpy as np

    images = np.load(path)
    if images.shape != (n, 28, 28, 1) or images.dtype != np.uint8:
        raise RuntimeError(f"{path}: unexpected samples {images.shape} {images.dtype}")


def main(argv=None):
    args = parse_args(argv)
    common.print_header("gantool command-line latency and memory (whole processes)", args.device)
    if args.device == "cpu":
        CHILD_ENVIRONMENT["CUDA_VISIBLE_DEVICES"] = "-1"
    start = time.perf_counter()
    scratch = common.scratch_dir("cli")
    gantool = gantool_command()
    spec, data_note = common.mnist_spec(scratch)
    run_dir = scratch / "run"
    out = scratch / "samples.npy"
    train = [*gantool, "train", "--arch", "dcgan", "--dataset", spec, "--epochs", "1",
             "--steps-per-epoch", str(args.train_steps), "--out", str(run_dir), "--quiet"]
    sample = [*gantool, "sample", "--ckpt", str(run_dir), "--n", str(args.n), "--out", str(out)]

    rows = []
    seconds, rss = repeat_process([sys.executable, "-c", "pass"], args.help_runs)
    rows.append(row("python -c pass (floor)", seconds, rss))
    seconds, rss = repeat_process([*gantool, "--help"], args.help_runs)
    rows.append(row("gantool --help", seconds, rss, HELP_TARGET_S))
    seconds, rss = repeat_process([*gantool, "train", "--help"], args.help_runs)
    rows.append(row("gantool train --help", seconds, rss, HELP_TARGET_S))

    seconds, train_rss = run_process(train)
    memory_ok = common.verdict(train_rss / 1e9, MEMORY_TARGET_GB)
    train_row = row(f"gantool train dcgan, 1 epoch of {args.train_steps} steps", [seconds],
                    train_rss)
    train_row[-2:] = [f"RSS < {MEMORY_TARGET_GB:g} GB", memory_ok]
    rows.append(train_row)
    seconds, rss = repeat_process(sample, args.sample_runs)
    check_samples(out, args.n)
    rows.append(row(f"gantool sample --n {args.n} (.npy)", seconds, rss, SAMPLE_TARGET_S))

    print(f"command: `{' '.join(gantool)}`; data: {data_note}")
    print(f"training run: `{' '.join(train)}`")
    print()
    common.print_table(["command", "runs", "median s", "min s", "max s", "max RSS MiB",
                        "target", "verdict"], rows, title="Whole-process wall time and memory")
    print(f"peak memory of the training run: {train_rss / 1e9:.2f} GB "
          f"(target < {MEMORY_TARGET_GB:g} GB): {memory_ok}")
    print(f"total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
