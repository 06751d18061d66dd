"""Tiny trained runs shared by the sampling, export and projection tests (a few seconds each)."""

import numpy as np

from gantool.cli import main


def cli(args):
    """``gantool ARGS`` in-process; returns the exit code."""
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        return e.code
    return 0


def image_run(root, ema=True, steps=4, extra=(), exit_code=0):
    """An mlp run with --ema on 64 random 8x8 grey images (npz), trained ``steps`` steps
    (``extra``: more ``train`` arguments); ``gantool train`` must exit with ``exit_code``."""
    rng = np.random.default_rng(3)
    data = root / "digits.npz"
    np.savez(data, x_train=rng.integers(0, 256, (64, 8, 8), dtype=np.uint8))
    run_dir = root / "run"
    args = ["train", "--arch", "mlp", "--dataset", f"npz:{data}", "--out", run_dir,
            "--epochs", 1, "--steps-per-epoch", steps, "--batch-size", 16, "--latent-dim", 8,
            "--g-hidden", 16, "--d-hidden", 16, "--grid-size", 4, "--quiet", *extra]
    code = cli(args + (["--ema", 0.9] if ema else []))
    assert (code or 0) == exit_code, code
    return run_dir
