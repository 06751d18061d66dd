"""Screen recipes for `make demo`: train each on `shapes` for a short budget, score, one table.

    python experiments/train_classifier.py --dataset shapes --epochs 15 --out /tmp/shapes_clf.keras
    python experiments/demo_recipe.py "current=" "lr1e-3=--lr 1e-3 --lr-schedule cosine" \
        [--base examples/shapes_demo.toml] [--budget 2] [--seeds 0] \
        [--features /tmp/shapes_clf.keras] [--n 1000] [--out /tmp/demo_recipe]

A recipe is `NAME=FLAGS` (gantool train flags applied on top of `--base`; an empty FLAGS is the
base as it is) or a TOML file (used instead of the base). For each recipe and seed the script
waits while `--lock` (default /tmp/quiet.lock) exists, runs `gantool train --config BASE
--time-budget BUDGET FLAGS --seed S --out OUT/NAME-sS --force --quiet` (`--budget 0`: no budget,
the recipe's own epochs), then `gantool eval RUN --features CLASSIFIER --n N` (Fréchet distance,
KID and precision/recall in the classifier's 128-d `features` layer; README, "Fast quality checks
with your own classifier"), then `gantool sample --n N --out RUN/scored.npy` and classifies those
samples with the same classifier: the "recognisable" rate is the share of samples the classifier
assigns to a class with probability > `--confidence` (0.9), overall and per class (disc, square,
triangle: the share of all samples that are confident discs, ...; real shapes: 1/3 each). The
same rates for `--n` real test-split shapes are printed above the table as the reference.

Columns: recipe, seed, steps, epochs, training seconds (the sum of metrics.csv's per-epoch
`seconds`: the budget clock, first step and start-up excluded) and the whole `gantool train`
process's seconds, steps per second of training, the 1-minute load average when the run started
(the machine may be shared), FD, KID x 1000, precision, recall, recognisable % (all / disc /
square / triangle) and the final fixed-latent grid (copied to OUT/grids/). The table goes to
stdout under the command line, machine and date (benchmarks/common.py) and to OUT/demo_recipe.md
and OUT/demo_recipe.json. `--dry-run`: train with --dry-run and score 16 samples (smoke test).
"""

import argparse
import contextlib
import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402  (sets TensorFlow's log level first)
from gantool import rundir  # noqa: E402

CLASSES = ("disc", "square", "triangle")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+", help="'NAME=--flag value ...' or a TOML file")
    parser.add_argument("--base", default=str(ROOT / "examples" / "shapes_demo.toml"),
                        help="the recipe NAME=FLAGS recipes start from")
    parser.add_argument("--budget", type=float, default=2.0,
                        help="--time-budget minutes for every run (0: none)")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--features", default="/tmp/shapes_clf.keras",
                        help="classifier (.keras) from experiments/train_classifier.py")
    parser.add_argument("--n", type=int, help="samples per score (default 1000; dry run 16)")
    parser.add_argument("--confidence", type=float, default=0.9,
                        help="recognisable: classifier probability above this")
    parser.add_argument("--lock", default="/tmp/quiet.lock",
                        help="wait while this file exists before each training run")
    parser.add_argument("--out", default="/tmp/demo_recipe")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.n = args.n or (16 if args.dry_run else 1000)
    if not Path(args.features).is_file():
        parser.error(f"--features {args.features}: no such file (train it with "
                     "experiments/train_classifier.py --dataset shapes --epochs 15)")
    return args


def recipe(text, base):
    """(name, train flags) of a recipe."""
    if text.endswith(".toml"):
        return Path(text).stem, ["--config", text]
    name, sep, flags = text.partition("=")
    if not sep or not name or " " in name:
        raise SystemExit(f"error: recipe {text!r}: write NAME=FLAGS (FLAGS may be empty)")
    return name, ["--config", base, *shlex.split(flags)]


def wait_for_quiet(lock):
    waited = 0
    while os.path.exists(lock):
        if waited == 0:
            print(f"  waiting while {lock} exists ...", file=sys.stderr, flush=True)
        time.sleep(5)
        waited += 5


def gantool(*command, what):
    """Run ``python -m gantool COMMAND``; on failure print its last error line and exit 1."""
    full = [sys.executable, "-m", "gantool", *map(str, command)]
    done = subprocess.run(full, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {done.returncode}"
        raise SystemExit(f"error: {what} failed: {last}\n  command: {shlex.join(full)}")
    return done.stdout


class Recogniser:
    """The classifier's confident decisions on uint8 shapes images."""

    def __init__(self, path, confidence):
        from gantool.metrics.classifier import input_size, load_classifier

        self.model = load_classifier(path)
        self.size = input_size(self.model)
        self.confidence = confidence

    def rates(self, images):
        """{'all': %, 'disc': %, ...}: shares (of all images) confidently given each class."""
        import numpy as np

        from gantool.metrics.classifier import preprocess

        probs = self.model.predict(preprocess(images, self.size), batch_size=250, verbose=0)
        sure = probs.max(axis=1) > self.confidence
        label = probs.argmax(axis=1)
        out = {"all": 100 * float(sure.mean())}
        for k, name in enumerate(CLASSES):
            out[name] = 100 * float(np.mean(sure & (label == k)))
        return out


def real_rates(recogniser, n):
    from gantool.data import load_dataset
    from gantool.evaluation.reference import dataset_images

    source = load_dataset("shapes", split="test", max_examples=n)
    return recogniser.rates(dataset_images(source, n))


def trained(run_dir):
    """(epochs, steps, seconds trained (sum of metrics.csv's seconds), final grid or None)."""
    run = rundir.Run.open(run_dir)
    with run.file(rundir.METRICS).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    seconds = sum(float(r["seconds"]) for r in rows)
    epochs = int(float(rows[-1]["epoch"])) if rows else 0
    grids = sorted(rundir.samples_dir(run_dir).glob("epoch_*.png"))
    return epochs, rundir.step_of(run.checkpoint), seconds, grids[-1] if grids else None


def one_run(args, recogniser, name, flags, seed):
    import numpy as np

    run_dir = Path(args.out) / "runs" / f"{name}-s{seed}"
    budget = ["--time-budget", args.budget] if args.budget and not args.dry_run else []
    command = ["train", flags[0], flags[1], *budget, *flags[2:], "--seed", seed,
               "--out", run_dir, "--force", "--quiet", "--no-tensorboard"]
    if args.dry_run:
        command.append("--dry-run")
    wait_for_quiet(args.lock)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    gantool(*command, what=f"training {name}")
    process_seconds = time.perf_counter() - start
    wait_for_quiet(args.lock)
    gantool("eval", run_dir, "--features", args.features, "--n", args.n, "--quiet",
            what=f"eval of {run_dir}")
    result = json.loads((run_dir / rundir.EVAL).read_text())
    scored = run_dir / "scored.npy"
    gantool("sample", "--ckpt", run_dir, "--n", args.n, "--seed", 1, "--out", scored, "--quiet",
            what=f"sampling {run_dir}")
    rates = recogniser.rates(np.load(scored))
    scored.unlink()
    epochs, steps, seconds, grid = trained(run_dir)
    copy = None
    if grid is not None:
        copy = Path(args.out) / "grids" / f"{run_dir.name}.png"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grid, copy)
    return {"recipe": name, "flags": shlex.join(map(str, flags)), "seed": seed,
            "run": str(run_dir), "epochs": epochs, "steps": steps,
            "train_seconds": round(seconds, 1), "process_seconds": round(process_seconds, 1),
            "load": round(load, 2), "fd": result.get("fd_classifier"),
            "kid": result.get("kid_classifier_mean"),
            "precision": result.get("precision_classifier"),
            "recall": result.get("recall_classifier"), "recognisable": rates,
            "grid": str(copy) if copy else None}


def row(r):
    rec = r["recognisable"]
    f = common.fmt
    return [r["recipe"], r["seed"], r["steps"], r["epochs"], f(r["train_seconds"]),
            f(r["process_seconds"]), f(r["steps"] / max(r["train_seconds"], 1e-9), 2),
            f"{r['load']:.1f}", f(r["fd"]), f(r["kid"] * 1000 if r["kid"] is not None else None),
            f(r["precision"], 2), f(r["recall"], 2),
            " / ".join(f"{rec[k]:.0f}" for k in ("all", *CLASSES)),
            Path(r["grid"]).name if r["grid"] else "-"]


HEADERS = ["recipe", "seed", "steps", "epochs", "train s", "process s", "steps/s", "load",
           "FD (clf)", "KID x 1000", "precision", "recall",
           "recognisable % (all / disc / square / triangle)", "grid"]


def report(args, recipes, records, real):
    header, table = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(header):
        common.print_header("gantool demo recipes on shapes")
        budget = (f"--time-budget {args.budget:g}" if args.budget and not args.dry_run
                  else "no time budget")
        print(f"- runs: base `{Path(args.base).name}` + the recipe's flags, {budget}, seeds "
              f"{','.join(map(str, args.seeds))}" + (" (dry run)" if args.dry_run else ""))
        print(f"- scores: FD/KID/PR in the `features` layer of {Path(args.features).name}, "
              f"{args.n} generated vs {args.n} real test-split shapes; recognisable: "
              f"classifier probability > {args.confidence:g}")
        print("- real test shapes recognisable % (all / disc / square / triangle): "
              + " / ".join(f"{real[k]:.0f}" for k in ("all", *CLASSES)))
        print("- recipes: " + "; ".join(f"`{n}` = `{shlex.join(map(str, fl[2:])) or '(base)'}`"
                                        for n, fl in recipes))
        print()
    with contextlib.redirect_stdout(table):
        common.print_table(HEADERS, [row(r) for r in records])
    text = header.getvalue() + table.getvalue()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo_recipe.md").write_text(text)
    (out / "demo_recipe.json").write_text(json.dumps(
        {"header": header.getvalue().strip().splitlines(), "real_recognisable": real,
         "runs": records}, indent=2))
    print(text, end="")
    print(f"wrote {out / 'demo_recipe.md'} and {out / 'demo_recipe.json'}")


def main(argv=None):
    args = parse_args(argv)
    recipes = [recipe(text, args.base) for text in args.recipes]
    recogniser = Recogniser(args.features, args.confidence)
    real = real_rates(recogniser, args.n)
    records = []
    for name, flags in recipes:
        for seed in args.seeds:
            print(f"{name}: seed {seed} ...", file=sys.stderr, flush=True)
            records.append(one_run(args, recogniser, name, flags, seed))
            print("  " + " | ".join(map(str, row(records[-1]))), file=sys.stderr, flush=True)
    report(args, recipes, records, real)
    return 0


if __name__ == "__main__":
    sys.exit(main())
