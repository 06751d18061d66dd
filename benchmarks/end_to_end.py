"""End to end against the pure step: ``gantool train`` on MNIST (DCGAN, outputs every epoch)
against the images/s of the same training step fed by a constant batch, in one run.

Measured, each ``gantool train`` a fresh process as a user runs it (examples/mnist_dcgan.toml on
real MNIST from ../shared/data/mnist.npz, or a random stand-in where it is absent; sample grid,
plot, checkpoint and generator.keras after every epoch, TensorBoard on, no progress bar):

- ``full``: ``--epochs E`` (default 2): the whole process, start-up included;
- ``start``: ``--epochs 1 --steps-per-epoch 1``: start-up (TensorFlow import, data, models,
  tracing), one step, and one epoch's outputs and the final files.

``full - start`` is the time of E epochs of steps minus one step, with E - 1 epochs' outputs:
training as it runs once started. The pure step is gantool's DCGAN step on one constant batch
(benchmarks/input_pipeline.py's ConstantBatchRunner), timed in this process before and after the
``gantool train`` runs (their mean; both are printed, so drift shows). The issue 15 target: the
started-up rate at least 97% of the pure step's.
"""

import argparse
import csv
import subprocess
import sys
import time

import common

TARGET = 0.97
BATCH_SIZE = 128


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the full run")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="limit each epoch (a quick check; default: the whole dataset)")
    parser.add_argument("--step-windows", type=int, default=5,
                        help="timed windows of the pure step, before and after each")
    parser.add_argument("--window-steps", type=int, default=20, help="steps in a window")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 2 epochs of 10 steps, 2 windows of 3 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.steps_per_epoch = 2, 10
        args.step_windows, args.window_steps = 2, 3
    return args


def train_command(spec, out, epochs, steps_per_epoch=None):
    command = [sys.executable, "-m", "gantool", "train", "--config",
               str(common.EXAMPLES / "mnist_dcgan.toml"), "--dataset", spec,
               "--epochs", str(epochs), "--quiet", "--out", str(out), "--force"]
    return command + (["--steps-per-epoch", str(steps_per_epoch)] if steps_per_epoch else [])


def timed_train(command):
    """Wall seconds of ``command`` (a fresh process), and the steps it trained (steps.csv)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=common.REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    out = command[command.index("--out") + 1]
    with open(f"{out}/metrics.csv", newline="") as f:
        steps = int(list(csv.DictReader(f))[-1]["step"])
    return seconds, steps


def pure_step_rates(spec, windows, window_steps):
    """images/s of the DCGAN 28x28x1 step (batch 128) on a constant batch, ``windows`` times."""
    import keras
    from input_pipeline import ConstantBatchRunner
    from train_throughput import GantoolRunner

    from gantool.data import load_dataset

    keras.backend.clear_session()
    source = load_dataset(spec)
    config = common.recipe_config("mnist_dcgan", dataset=spec, data_shape=list(source.shape),
                                  data_kind=source.kind)
    runner = ConstantBatchRunner(GantoolRunner(config, source, config.jit, 1), source)
    runner.run(3)  # trace and warm up
    rates = []
    for _ in range(windows):
        seconds, _ = common.timed(runner.run, window_steps)
        rates.append(window_steps * BATCH_SIZE / seconds)
    return rates


def main(argv=None):
    args = parse_args(argv)
    common.print_header("gantool train end to end vs the pure step (MNIST DCGAN, images/s)")
    import gantool  # noqa: F401  (the pure step runs with gantool's TF settings, as train does)

    scratch = common.scratch_dir("e2e")
    spec, note = common.mnist_spec(scratch)
    print(f"- data: {note}; recipe examples/mnist_dcgan.toml, batch {BATCH_SIZE}")
    before = pure_step_rates(spec, args.step_windows, args.window_steps)
    full_seconds, full_steps = timed_train(
        train_command(spec, scratch / "full", args.epochs, args.steps_per_epoch))
    start_seconds, start_steps = timed_train(train_command(spec, scratch / "start", 1, 1))
    after = pure_step_rates(spec, args.step_windows, args.window_steps)

    step_rate = (common.median(before) + common.median(after)) / 2
    whole = full_steps * BATCH_SIZE / full_seconds
    started = (full_steps - start_steps) * BATCH_SIZE / (full_seconds - start_seconds)
    rows = [
        ["pure step, before the runs", common.fmt(common.median(before)), common.spread(before),
         ""],
        ["pure step, after the runs", common.fmt(common.median(after)), common.spread(after), ""],
        [f"`gantool train --epochs {args.epochs}` ({full_steps} steps), whole process "
         f"({full_seconds:.1f} s)", common.fmt(whole), "", common.fmt(whole / step_rate, 3)],
        [f"the same once started: ({full_steps} - {start_steps} steps) / ({full_seconds:.1f} - "
         f"{start_seconds:.1f} s)", common.fmt(started), "", common.fmt(started / step_rate, 3)],
    ]
    common.print_table(["what", "images/s", "spread", "/ pure step"], rows,
                       title="End to end against the pure step")
    print(f"start-up, one step and one epoch's outputs: {start_seconds:.1f} s")
    print(f"once started: {started / step_rate:.3f} of the pure step (target >= {TARGET:g}: "
          f"{common.verdict(started / step_rate, TARGET, True)})")


if __name__ == "__main__":
    main()
