"""MNIST DCGAN sample quality: train the recipe for a few epochs per loss, then `gantool eval`.

Trains examples/mnist_dcgan.toml on MNIST (an npz copy in keras.datasets layout, so no download
is needed; `--dataset mnist` reads the same images through tensorflow-datasets) and scores
n generated images against n images of the test split with FID, KID and precision/recall.

    python experiments/mnist_fid.py --mnist PATH/mnist.npz --weights PATH/weights.npz \
        [--losses ns,hinge] [--epochs 2] [--n 2000]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def gantool(*args):
    subprocess.run([sys.executable, "-m", "gantool", *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=SHARED / "mnist.npz")
    parser.add_argument("--weights", default=SHARED / "fid_inception" / "weights.npz")
    parser.add_argument("--losses", default="ns,hinge")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", default="runs/experiments")
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {os.cpu_count()} CPU cores; date {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"recipe examples/mnist_dcgan.toml, {args.epochs} epochs; FID/KID/PR on {args.n} "
          f"generated vs {args.n} real (MNIST test split)\n")
    print("| loss | epochs | train time | FID | KID x 1000 | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for loss in args.losses.split(","):
        run = Path(args.out) / f"mnist-dcgan-{loss}"
        start = time.perf_counter()
        gantool("train", "--config", ROOT / "examples" / "mnist_dcgan.toml",
                "--dataset", f"npz:{args.mnist}", "--loss", loss, "--epochs", args.epochs,
                "--out", run, "--force", "--quiet")
        minutes = (time.perf_counter() - start) / 60
        gantool("eval", run, "--n", args.n, "--real-split", "test",
                "--inception-weights", args.weights, "--quiet")
        r = json.loads((run / "eval.json").read_text())
        print(f"| {loss} | {args.epochs} | {minutes:.1f} min | {r['fid']:.1f} | "
              f"{1000 * r['kid_mean']:.1f} ± {1000 * r['kid_std']:.1f} | "
              f"{r['precision']:.2f} | {r['recall']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
