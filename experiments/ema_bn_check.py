"""Does a batch-norm generator sample better with its moving-average (EMA) weights, and does it
matter which batch-norm statistics go with them?

    python experiments/ema_bn_check.py RUN_DIR --out PREFIX [--n 2000]

Keras's EMA averages only the trainable weights; the batch-norm moving statistics that sampling
uses (``training=False``) stay those of the live weights. This script writes four .npy arrays
of ``--n`` uint8 samples from the same latents (seed 0), one per combination of
{live, EMA} weights x {moving, per-batch} batch-norm statistics (batches of 500):
``PREFIX-live.npy``, ``PREFIX-live-batch.npy``, ``PREFIX-ema.npy``, ``PREFIX-ema-batch.npy``
(the EMA pair only for a run trained with --ema or --ema-kimg; unconditional runs only).
Score each with

    gantool eval --samples PREFIX-ema.npy --dataset DATASET --n 2000 --metrics fid
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402,F401  (sets TensorFlow's log level first)

BATCH = 500


def variants(config):
    """(name, use EMA weights, use per-batch statistics) for this run's config."""
    names = [("live", False, False), ("live-batch", False, True)]
    if config.ema or config.ema_kimg:
        names += [("ema", True, False), ("ema-batch", True, True)]
    return names


def draw(generator, latents, batch_statistics):
    """Images in [-1, 1], (N, H, W, C) float32, from ``latents`` in batches of BATCH."""
    import numpy as np
    import tensorflow as tf

    from gantool.sampling import generate

    if not batch_statistics:
        return generate(generator, latents, None, BATCH)
    return np.concatenate([tf.cast(generator(latents[i:i + BATCH], training=True),
                                   tf.float32).numpy() for i in range(0, len(latents), BATCH)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory or checkpoint")
    parser.add_argument("--out", required=True, help="prefix of the .npy files")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args(argv)

    import numpy as np

    from gantool.rundir import Run
    from gantool.sampling import draw_latents, load_generator, to_uint8

    run = Run.open(args.run)
    if run.config.conditional:
        parser.error(f"{args.run} is a conditional run; this check takes unconditional runs")
    latents = draw_latents(args.n, run.config.latent_dim, run.config.latent_dist, seed=0)
    for name, ema, batch_statistics in variants(run.config):
        images = draw(load_generator(run, ema=ema), latents, batch_statistics)
        path = f"{args.out}-{name}.npy"
        np.save(path, to_uint8(images))
        print(f"{path}: {images.shape}")


if __name__ == "__main__":
    main()
