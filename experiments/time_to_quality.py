"""Quality per minute: train recipes for time budgets, score each run, print one table.

    python experiments/time_to_quality.py examples/mnist_dcgan.toml "ns=--arch dcgan --loss ns" \
        --dataset npz:../shared/data/mnist.npz --budgets 2,5,10 [--seeds 0,1,2] \
        [--features mnist_classifier.keras | --inception-weights weights.npz] [--n 2000] \
        [--out runs/time_to_quality]

A recipe is a TOML file (passed as `--config FILE`) or a string of `gantool train` flags,
optionally named `NAME=FLAGS`. For every recipe, budget (minutes) and seed the script runs
`gantool train RECIPE --time-budget MINUTES --seed SEED --out OUT/runs/...` (`--budget-flag`
names another flag: `--budget-flag epochs` passes the budgets as epochs), then
`gantool eval RUN --n N --real-split SPLIT` with `--features` or Inception weights, and reads
what was actually trained (epochs from metrics.csv, steps from the latest checkpoint, via
gantool.rundir) and the scores from RUN/eval.json.

The table (recipe, budget, epochs (the last, maybe partial, epoch logged), steps, training
seconds (the whole `gantool train` process, start-up included), FID or FD (classifier), KID x 1000,
precision, recall, the final sample grid) is printed under the command line, machine and date
(benchmarks/common.py), with the sample counts, the reference split and the feature space in
its header; with several seeds each cell is mean ± std over the seeds. It is also written to
OUT/time_to_quality.md and, with every run's numbers, OUT/time_to_quality.json; each run's last
sample grid is copied to OUT/samples/. `--dry-run` passes --dry-run to train and evaluates
8 samples (unless --n is given): a smoke test of the whole path.
"""

import argparse
import contextlib
import csv
import io
import json
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

import runs  # noqa: E402  (experiments/runs.py)
from benchmarks import common  # noqa: E402  (sets TensorFlow's log level first)
from gantool import rundir  # noqa: E402

DRY_RUN_N = 8
SCORES = {"inception": ("fid", "kid_mean", "precision", "recall"),
          "classifier": ("fd_classifier", "kid_classifier_mean", "precision_classifier",
                         "recall_classifier")}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+", help="TOML files or 'NAME=--flag value ...'")
    parser.add_argument("--budgets", default="2,5,10", help="minutes, comma-separated")
    parser.add_argument("--budget-flag", default="time-budget",
                        help="the train flag that gets each budget, without its dashes "
                        "(e.g. epochs, to test without --time-budget)")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--dataset", help="--dataset for every recipe")
    parser.add_argument("--train-args", default="", help="more flags for every train command")
    parser.add_argument("--n", type=int, help="samples per eval (default 2000; dry run 8)")
    parser.add_argument("--real-split", default="test")
    parser.add_argument("--metrics", default="auto")
    parser.add_argument("--features", help="score in this classifier's features (eval "
                        "--features PATH.keras[:LAYER]) instead of Inception's")
    parser.add_argument("--inception-weights", help="FID Inception weights.npz")
    parser.add_argument("--out", default="runs/time_to_quality")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        args.budgets = [b.strip() for b in args.budgets.split(",") if b.strip()]
        [float(b) for b in args.budgets]
        args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--budgets {args.budgets!r} and --seeds {args.seeds!r} must be "
                     "comma-separated numbers")
    if not args.budgets or not args.seeds:
        parser.error("give at least one budget and one seed")
    if args.features and args.inception_weights:
        parser.error("--features and --inception-weights exclude each other")
    args.n = args.n or (DRY_RUN_N if args.dry_run else 2000)
    args.budget_flag = "--" + args.budget_flag.lstrip("-")
    return args


def recipe(text):
    """(label, train flags) of a recipe: a TOML file or 'NAME=FLAGS' / 'FLAGS'."""
    name, sep, flags = text.partition("=")
    if sep and name and not name.startswith("-") and " " not in name:
        return name, shlex.split(flags)
    if text.endswith(".toml"):
        if not Path(text).is_file():
            raise SystemExit(f"error: recipe {text}: no such file")
        return Path(text).stem, ["--config", text]
    label = "".join(c if c.isalnum() or c in "-_." else "_" for c in text.strip())
    return label.strip("_")[:40] or "recipe", shlex.split(text)


def gantool(args, what):
    """:func:`runs.gantool`, with a hint where the installed gantool lacks --time-budget."""
    def hint(last):
        if "--time-budget" in last or "No such option" in last:
            return " (without gantool train --time-budget, try --budget-flag --epochs)"
        return ""

    return runs.gantool(args, what, hint)[0]


def train_command(args, flags, budget, seed, run_dir):
    command = ["train", *flags, args.budget_flag, budget, "--seed", seed, "--out", run_dir,
               "--force", "--quiet", *shlex.split(args.train_args)]
    if args.dataset:
        command += ["--dataset", args.dataset]
    return command + (["--dry-run"] if args.dry_run else [])


def eval_command(args, run_dir):
    command = ["eval", run_dir, "--n", args.n, "--real-split", args.real_split, "--metrics",
               args.metrics, "--quiet"]
    if args.features:
        command += ["--features", args.features]
    elif args.inception_weights:
        command += ["--inception-weights", args.inception_weights]
    return command


def trained(run_dir):
    """(epochs, steps, final sample grid or None) of a run directory, from gantool.rundir."""
    run = rundir.Run.open(run_dir)
    with run.file(rundir.METRICS).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    epochs = int(float(rows[-1]["epoch"])) if rows and "epoch" in rows[-1] else len(rows)
    grids = sorted(rundir.samples_dir(run_dir).glob("epoch_*.png"))
    return epochs, rundir.step_of(run.checkpoint), grids[-1] if grids else None


def one_run(args, label, flags, budget, seed):
    """Train and score one recipe x budget x seed; returns its record."""
    unit = "min" if args.budget_flag == "--time-budget" else args.budget_flag.lstrip("-")
    run_dir = Path(args.out) / "runs" / f"{label}-{budget}{unit}-seed{seed}"
    start = time.perf_counter()
    gantool(train_command(args, flags, budget, seed, run_dir), f"training {label} ({budget})")
    seconds = time.perf_counter() - start
    gantool(eval_command(args, run_dir), f"eval of {run_dir}")
    result = json.loads((run_dir / rundir.EVAL).read_text())
    epochs, steps, grid = trained(run_dir)
    copy = None
    if grid is not None:
        copy = Path(args.out) / "samples" / f"{run_dir.name}.png"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grid, copy)
    kind = "classifier" if result.get("features") else "inception"
    scores = {key: result.get(key) for key in SCORES[kind]}
    return {"recipe": label, "budget_min": budget, "seed": seed, "run": str(run_dir),
            "epochs": epochs, "steps": steps, "train_seconds": round(seconds, 1),
            "samples": str(copy.relative_to(args.out)) if copy else None, "kind": kind,
            "scores": scores, "eval": {k: v for k, v in result.items() if k != "history"}}


def cell(values, scale=1.0, digits=3):
    """'m' for one value, 'm ± s' over seeds; '-' when missing."""
    values = [v * scale if scale != 1 else v for v in values if v is not None]
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return str(values[0]) if isinstance(values[0], int) else common.fmt(mean, digits)
    return f"{common.fmt(mean, digits)} ± {common.fmt(statistics.stdev(values), 2)}"


def table_rows(records):
    """One row per recipe x budget (seeds pooled), in the order the runs were made."""
    groups = {}
    for record in records:
        groups.setdefault((record["recipe"], record["budget_min"]), []).append(record)
    rows = []
    for (label, budget), group in groups.items():
        names = SCORES[group[0]["kind"]]
        score = [[r["scores"][name] for r in group] for name in names]
        rows.append([label, budget, len(group), cell([r["epochs"] for r in group]),
                     cell([r["steps"] for r in group]),
                     cell([r["train_seconds"] for r in group]), cell(score[0]),
                     cell(score[1], 1000), cell(score[2]), cell(score[3]),
                     " ".join(r["samples"] or "-" for r in group)])
    return rows


def header_text(records):
    """What every score of the table was computed on."""
    first = records[0]["eval"]
    if first.get("features"):
        info = first["features"]
        space = (f"FD/KID/PR in the features of classifier {Path(info['path']).name} (layer "
                 f"{info['layer']!r}, {info['dim']}-d; not Inception FID)")
    else:
        space = "FID/KID/PR in FID Inception pool3 features"
    dataset = first["real_dataset"]
    prefix, _, path = dataset.partition(":")
    dataset = f"{prefix}:{Path(path).name}" if path else dataset
    return (f"{space}; {first['n_fake']} generated vs {first['n_real']} real images, "
            f"{dataset} {first['real_split']} split")


def machine_header():
    """benchmarks/common's header (command, machine, load average, date) as text, taken when
    it is called: before training, so that the load and date are those at the start."""
    header = io.StringIO()
    with contextlib.redirect_stdout(header):
        common.print_header("gantool time to quality")
    return header.getvalue()


def report(args, records, machine):
    """Print ``machine`` (:func:`machine_header`), the scores line and the table; write them as
    markdown and JSON under ``args.out``."""
    first = SCORES[records[0]["kind"]]
    fd_name = "FD (classifier)" if first[0] == "fd_classifier" else "FID"
    headers = ["recipe", "budget (min)" if args.budget_flag == "--time-budget"
               else f"budget ({args.budget_flag})", "seeds", "epochs", "steps", "train s",
               fd_name, "KID x 1000", "precision", "recall", "samples"]
    header = (machine + f"scores: {header_text(records)}"
              + (" (dry run)" if args.dry_run else "") + "\n\n")
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        common.print_table(headers, table_rows(records))
    text = header + table.getvalue()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "time_to_quality.md").write_text(text)
    (out / "time_to_quality.json").write_text(json.dumps(
        {"header": header.strip().splitlines(), "columns": headers,
         "rows": table_rows(records), "runs": records}, indent=2))
    print(text, end="")
    print(f"wrote {out / 'time_to_quality.md'} and {out / 'time_to_quality.json'}")


def main(argv=None):
    args = parse_args(argv)
    recipes = [recipe(text) for text in args.recipes]
    machine = machine_header()
    records = []
    for label, flags in recipes:
        for budget in args.budgets:
            for seed in args.seeds:
                print(f"{label}: budget {budget}, seed {seed} ...", file=sys.stderr, flush=True)
                records.append(one_run(args, label, flags, budget, seed))
    report(args, records, machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
