"""D's overfitting signal of several runs in one picture, with each run's FID in its label.

    python experiments/overfitting_plot.py none=RUN_A diffaugment=RUN_B ada=RUN_C \
        --out overfitting.png [--title "MNIST, 1,000 images"]

Left: the ADA paper's overfitting heuristic r_t = E[sign(D(x))] on the real batches D trains
on (Karras et al. 2020, eq. 1), per step and smoothed: near 0 while D cannot tell its training
images from fakes, towards 1 as it memorises them. It is read from each run's ``steps.csv`` as
2 * d_acc_real - 1 (d_acc_real is the fraction of real logits above 0, so this is the same
statistic that ``--augment ada`` logs as ``d_sign_real``) so that runs without ADA show it too;
the dotted line is ADA's default target 0.6. Right: the augmentation probability ``aug_p``
(ADA's p; DiffAugment's is always 1; runs without augmentation are left out). Each label
carries the run's score from ``RUN/eval.json`` (Inception FID, or the classifier FD when that
is what was evaluated) with its sample counts.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantool import rundir, viz  # noqa: E402
from gantool.config import TrainConfig  # noqa: E402

ADA_TARGET = TrainConfig.ada_target  # --ada-target's default


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    pairs = []
    for item in args.runs:
        label, sep, path = item.partition("=")
        if not sep or not label or not (Path(path) / rundir.STEPS).is_file():
            parser.error(f"{item!r}: expected LABEL=RUN_DIR with a {rundir.STEPS} in RUN_DIR")
        pairs.append((label, Path(path)))
    args.runs = pairs
    return args


def read_curves(run_dir):
    """(steps (N,), sign (N,) in [-1, 1], aug_p (N,) in [0, 1] or None) from ``steps.csv``."""
    with open(run_dir / rundir.STEPS, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("d_acc_real") not in ("", None)]
    steps = np.array([int(r["step"]) for r in rows])
    sign = 2 * np.array([float(r["d_acc_real"]) for r in rows]) - 1
    aug_p = None
    if rows and rows[-1].get("aug_p") not in ("", None):
        aug_p = np.array([float(r.get("aug_p") or "nan") for r in rows])
    return steps, sign, aug_p


def score_text(run_dir):
    """'FID 123.4 (2000 vs 2000)' or 'FD (classifier) 12.34 (1000 vs 1000)' from ``eval.json``
    ('' when the run was not evaluated)."""
    path = run_dir / rundir.EVAL
    if not path.is_file():
        return ""
    scores = json.loads(path.read_text())
    n_fake, n_real = scores.get("n_fake"), scores.get("n_real")
    suffix = f" ({n_fake} vs {n_real})" if n_fake and n_real else ""
    if "fid" in scores:
        return f"FID {scores['fid']:.1f}{suffix}"
    if "fd_classifier" in scores:
        return f"FD (classifier) {scores['fd_classifier']:.2f}{suffix}"
    return ""


def plot(runs, out, title=""):
    """Draw ``runs`` [(label, run_dir)] into the PNG ``out``; returns the labels drawn."""
    plt = viz._matplotlib()
    fig, (ax_sign, ax_p) = plt.subplots(1, 2, figsize=(11, 4), dpi=90)
    labels = []
    for i, (label, run_dir) in enumerate(runs):
        steps, sign, aug_p = read_curves(run_dir)
        score = score_text(run_dir)
        text = f"{label}: {score}" if score else label
        labels.append(text)
        ax_sign.plot(steps, sign, color=f"C{i}", alpha=0.15, linewidth=0.6)
        ax_sign.plot(steps, viz.smooth(sign), color=f"C{i}", linewidth=1.6, label=text)
        if aug_p is not None:
            ax_p.plot(steps, aug_p, color=f"C{i}", linewidth=1.6, label=label)
    ax_sign.axhline(ADA_TARGET, color="grey", linestyle=":", linewidth=1,
                    label=f"ADA target {ADA_TARGET}")
    ax_sign.set_ylim(-1.05, 1.05)
    ax_sign.set_xlabel("step")
    ax_sign.set_ylabel("E[sign D(x)], real training batches")
    ax_sign.set_title("D's overfitting signal (smoothed)")
    ax_sign.legend(loc="lower right", fontsize="small")
    ax_p.set_ylim(-0.02, 1.02)
    ax_p.set_xlabel("step")
    ax_p.set_ylabel("augmentation probability p")
    ax_p.set_title("augmentation probability (diffaugment: 1)")
    if ax_p.lines:
        ax_p.legend(loc="upper left", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.13, top=0.85 if title else 0.9,
                        wspace=0.25)
    fig.savefig(out)
    plt.close(fig)
    return labels


def main(argv=None):
    args = parse_args(argv)
    for label in plot(args.runs, args.out, args.title):
        print(label)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
