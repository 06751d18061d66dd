"""Fine-tuning vs training from scratch on 1,000 images of one MNIST digit, at equal steps.

    python experiments/finetune.py [--digit 7] [--n-target 1000] \
        [--source-epochs 2] [--steps 0,100,300,1000] [--fid-steps 300,1000] [--freeze-d 1] \
        [--inception-weights ../shared/data/fid_inception/weights.npz] [--fid-n N] \
        [--features runs/mnist_classifier.keras] [--n 1000] [--out runs/finetune] [--reuse]

From real MNIST (`--mnist`, default ../shared/data/mnist.npz) the script writes two datasets
under OUT/data/:

- `source.npz`: `x_train` = every MNIST training image of the other nine digits (~54k);
- `target.npz`: `x_train` = the first `--n-target` MNIST training images of `--digit`, and
  `x_test` = every MNIST *test* image of that digit (1,028 sevens). `gantool eval --real-split
  test` on an `npz:` dataset reads `x_test`, so the reference images are held-out test digits
  the target runs never saw (the first `--n` of them).

Then it runs `gantool train --config CONFIG` (default examples/mnist_dcgan.toml: DCGAN, batch
128, Adam 2e-4/0.5) on the source for `--source-epochs` epochs, and three (or more) arms on the
target for max(`--steps`) steps each, `--target-steps-per-epoch` (default 5) steps an epoch,
with a checkpoint and a sample grid at every step count of `--steps`:

- `scratch`: fresh weights;
- `finetune`: `--init-from SOURCE` (G and D start from the source run; fresh optimisers);
- `freeze-d N`: `--init-from SOURCE --freeze-d N`, for each N of `--freeze-d`.

Every arm uses the same `--seed`, learning rate and batches (epoch e's batches depend on
(seed, e) only). All training runs first; then every checkpoint `RUN/checkpoints/ckpt-STEP` of
`--steps` is scored with `gantool eval --features CLASSIFIER --metrics fid,pr` (if given: the
Fréchet distance and precision/recall in a classifier's features, fast; `--n` samples), and
last, the steps of `--fid-steps` with Inception (`--inception-weights`, `--metrics fid,kid`,
`--fid-n` samples, default `--n`), the largest step first: N generated images against the first
N test-split images of the digit. Step 0 is the starting point: the source generator for the
fine-tuned arms, a random one for scratch. A last row scores the target's real training images
as if they were samples (`gantool eval --samples`): the floor of each score at that n.

Before each training or evaluation subprocess the script waits while `--lock` (default
/tmp/quiet.lock) exists. `--reuse` keeps what OUT already holds: finished runs (an arm that
trained longer counts when it has a checkpoint at every step of `--steps`: the learning rate
is constant) and the scores in each run's eval.json with the same checkpoint, kind and n, so
an interrupted experiment continues and a larger n or another step costs only what is new.

The table (arm, steps, FID, KID x 1000, FD, precision and recall (classifier), the sample grid
at that step) is printed under the command line, machine and date (benchmarks/common.py) with
the sample counts and the reference split; it also goes to OUT/finetune.md and, with all
numbers, OUT/finetune.json; the grids are copied to OUT/samples/. `--dry-run`: 64 target and
256 source images, batch 16, steps 0, 2, 4, 8 samples per score (a smoke test of the path).
"""

import argparse
import contextlib
import csv
import io
import json
import math
import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

import runs  # noqa: E402  (experiments/runs.py)
from benchmarks import common  # noqa: E402  (sets TensorFlow's log level first)
from gantool import rundir  # noqa: E402

DRY_RUN_N = 8


def int_list(text, what, parser):
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        parser.error(f"{what} {text!r}: give comma-separated whole numbers")
    if any(v < 0 for v in values):
        parser.error(f"{what} {text!r}: numbers must be >= 0")
    return values


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(common.SHARED_MNIST),
                        help="MNIST npz with x_train, y_train, x_test, y_test")
    parser.add_argument("--digit", type=int, default=7, help="the target digit")
    parser.add_argument("--n-target", type=int, default=1000, help="target training images")
    parser.add_argument("--config", default=str(ROOT / "examples" / "mnist_dcgan.toml"))
    parser.add_argument("--source-epochs", type=int, default=2)
    parser.add_argument("--source-steps-per-epoch", type=int,
                        help="cap the source run's steps per epoch (default: full epochs)")
    parser.add_argument("--steps", default="0,100,300,1000",
                        help="step counts at which every arm is scored (comma-separated)")
    parser.add_argument("--fid-steps", default="300,1000",
                        help="of those, the steps also scored with Inception FID")
    parser.add_argument("--target-steps-per-epoch", type=int, default=5)
    parser.add_argument("--freeze-d", default="1", help="FreezeD arms: comma-separated N "
                        "('' for none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-args", default="", help="more flags for every train command")
    parser.add_argument("--n", type=int, help="samples per score (default 1000; dry run 8)")
    parser.add_argument("--fid-n", type=int, help="samples per Inception score (default: "
                        "--n; Inception features take ~0.1-0.5 s an image on 2 cores)")
    parser.add_argument("--inception-weights", help="FID Inception weights.npz (without it: "
                        "no Inception FID)")
    parser.add_argument("--features", help="also score in this classifier's features "
                        "(experiments/train_classifier.py)")
    parser.add_argument("--lock", default="/tmp/quiet.lock",
                        help="wait while this file exists before each subprocess")
    parser.add_argument("--out", default="runs/finetune")
    parser.add_argument("--no-real-row", dest="real_row", action="store_false",
                        help="skip the last row: the target's real training images scored "
                        "as samples (the floor of each score at this n)")
    parser.add_argument("--reuse", action="store_true", help="keep the finished runs and the "
                        "scores already in OUT (after an interrupted or extended experiment)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    args.steps = int_list(args.steps, "--steps", parser)
    args.fid_steps = int_list(args.fid_steps, "--fid-steps", parser)
    args.freeze_d = int_list(args.freeze_d, "--freeze-d", parser)
    if args.dry_run:
        args.n = args.n or DRY_RUN_N
        args.n_target = min(args.n_target, 64)
        args.steps, args.fid_steps = [0, 2, 4], [4]
        args.target_steps_per_epoch, args.source_epochs = 2, 1
        args.source_steps_per_epoch = 2
        args.train_args = f"--batch-size 16 {args.train_args}".strip()
    args.n = args.n or 1000
    args.fid_n = args.fid_n or args.n
    if not args.steps or max(args.steps) == 0:
        parser.error("--steps needs a step count above 0")
    args.fid_steps = [s for s in args.fid_steps if s in args.steps] if args.inception_weights \
        else []
    if not args.features and not args.fid_steps:
        parser.error("nothing to score: give --features and/or --inception-weights "
                     "(with --fid-steps among --steps)")
    if any(s % args.target_steps_per_epoch for s in args.steps):
        parser.error(f"every --steps value must be a multiple of --target-steps-per-epoch "
                     f"{args.target_steps_per_epoch}")
    for path, what in ((args.mnist, "--mnist"), (args.config, "--config"),
                       (args.features, "--features"),
                       (args.inception_weights, "--inception-weights")):
        if path and not Path(path).is_file():
            parser.error(f"{what} {path}: no such file")
    return args


# --- data -------------------------------------------------------------------------------------


def write_datasets(args, out):
    """(source spec, target spec, counts): the two npz files under OUT/data/."""
    import numpy as np

    data = np.load(args.mnist)
    x_train, y_train, x_test, y_test = (data[k] for k in ("x_train", "y_train", "x_test",
                                                          "y_test"))
    source = x_train[y_train != args.digit]
    target = x_train[y_train == args.digit][:args.n_target]
    reference = x_test[y_test == args.digit]
    if args.dry_run:
        source = source[:256]
    if len(target) < args.n_target:
        raise SystemExit(f"error: MNIST has only {len(target)} training images of "
                         f"{args.digit}, fewer than --n-target {args.n_target}")
    if len(reference) < args.n:
        print(f"note: {len(reference)} test images of {args.digit}; the reference has that "
              f"many, fewer than --n {args.n}", file=sys.stderr)
    folder = out / "data"
    folder.mkdir(parents=True, exist_ok=True)
    save_unless_same(folder / "source.npz", x_train=source)
    save_unless_same(folder / "target.npz", x_train=target, x_test=reference)
    counts = {"source_train": len(source), "target_train": len(target),
              "target_test": len(reference)}
    return f"npz:{folder / 'source.npz'}", f"npz:{folder / 'target.npz'}", counts


def save_unless_same(path, **arrays):
    """``np.savez(path, **arrays)`` unless ``path`` already holds exactly these arrays (a
    rewritten file gets a new mtime, which misses gantool eval's real-feature cache)."""
    import numpy as np

    if path.is_file():
        with np.load(path) as old:
            if sorted(old.files) == sorted(arrays) and all(
                    np.array_equal(old[k], v) for k, v in arrays.items()):
                return
    np.savez(path, **arrays)


# --- subprocesses -----------------------------------------------------------------------------


def gantool(args, command, what):
    """Run ``python -m gantool COMMAND`` (:func:`runs.gantool`) once ``args.lock`` is gone;
    returns the seconds it took."""
    runs.wait_while(args.lock)
    return runs.gantool(command, what)[1]


def common_train_flags(args):
    flags = ["--config", args.config, "--seed", args.seed, "--force", "--quiet",
             "--no-tensorboard", *shlex.split(args.train_args)]
    return flags


def train_source(args, out, spec):
    run = out / "runs" / "source"
    command = ["train", *common_train_flags(args), "--dataset", spec, "--epochs",
               args.source_epochs, "--out", run]
    if args.source_steps_per_epoch:
        command += ["--steps-per-epoch", args.source_steps_per_epoch]
    if reusable(args, run, None):
        print(f"source: reusing {run}", file=sys.stderr, flush=True)
        return run
    print(f"source: {args.source_epochs} epochs on {spec} ...", file=sys.stderr, flush=True)
    gantool(args, command, "training the source run")
    return run


def arms(args, source):
    """(name, extra train flags) of every arm."""
    result = [("scratch", []), ("finetune", ["--init-from", source])]
    result += [(f"freeze-d {n}", ["--init-from", source, "--freeze-d", n])
               for n in args.freeze_d]
    return result


def train_arm(args, out, spec, name, flags):
    """Train one arm for max(--steps) steps with a checkpoint and a grid at each of --steps."""
    run = out / "runs" / name.replace(" ", "")
    per_epoch = args.target_steps_per_epoch
    epochs = max(args.steps) // per_epoch
    every = math.gcd(*[s // per_epoch for s in args.steps if s])
    command = ["train", *common_train_flags(args), "--dataset", spec, *flags,
               "--steps-per-epoch", per_epoch, "--epochs", epochs, "--checkpoint-every", every,
               "--sample-every", every, "--keep", epochs // every + 1, "--out", run]
    if reusable(args, run, args.steps, flags):
        print(f"{name}: reusing {run}", file=sys.stderr, flush=True)
        return run
    print(f"{name}: {max(args.steps)} steps ...", file=sys.stderr, flush=True)
    gantool(args, command, f"training {name}")
    return run


def reusable(args, run, steps, flags=()):
    """With --reuse: whether ``run`` can stand in for a new one. The source: its last epoch
    is logged. An arm (``steps``: the --steps list; ``flags``: its --init-from/--freeze-d):
    it has a checkpoint at every one of ``steps`` and the same dataset, seed, --freeze-d and
    source; it may have trained longer (the recipe's learning rate is constant and epoch e's
    batches depend on (seed, e) only, so ckpt-300 of a longer run is a 300-step run's end)."""
    if not args.reuse or not (run / rundir.METRICS).is_file():
        return False
    try:
        opened = rundir.Run.open(run)
    except Exception:  # noqa: BLE001 - anything unreadable is trained again
        return False
    config = opened.config
    if steps is None:
        with (run / rundir.METRICS).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        return bool(rows) and int(rows[-1]["epoch"]) == config.epochs
    if config.lr_schedule != "constant" or config.seed != args.seed:
        return False
    flags = [str(f) for f in flags]
    freeze = int(flags[flags.index("--freeze-d") + 1]) if "--freeze-d" in flags else 0
    source = flags[flags.index("--init-from") + 1] if "--init-from" in flags else None
    if config.freeze_d != freeze or bool(config.init_from) != bool(source):
        return False
    if source and Path(config.init_from).parent.parent.resolve() != Path(source).resolve():
        return False
    folder = rundir.checkpoint_dir(run)
    return all((folder / f"{rundir.CHECKPOINT_PREFIX}{s}.index").is_file() for s in steps)


def train_seconds(run, steps=None):
    """Seconds spent in training steps and epoch ends up to step ``steps`` (default: all):
    the sum of metrics.csv's `seconds` (start-up, data loading and graph building excluded)."""
    with (run / rundir.METRICS).open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle)
                if steps is None or int(row["step"]) <= steps]
    return round(sum(float(row["seconds"]) for row in rows), 1)


def score(args, run, step, kind):
    """The eval.json result of scoring ``RUN/checkpoints/ckpt-STEP`` (kind: inception or
    classifier)."""
    checkpoint = rundir.checkpoint_dir(run) / f"{rundir.CHECKPOINT_PREFIX}{step}"
    n = args.n if kind == "classifier" else args.fid_n
    if args.reuse and (run / rundir.EVAL).is_file():
        for old in json.loads((run / rundir.EVAL).read_text()).get("history", []):
            if (old.get("checkpoint") == checkpoint.name and old.get("n_fake") == n
                    and ("fd_classifier" if kind == "classifier" else "fid") in old):
                return {**old, "reused": True}
    command = ["eval", checkpoint, "--n", n, "--real-split", "test", "--quiet"]
    if kind == "classifier":
        command += ["--features", args.features, "--metrics", "fid,pr"]  # KID: slow, skipped
    else:
        command += ["--inception-weights", args.inception_weights, "--metrics", "fid,kid"]
    seconds = gantool(args, command, f"eval ({kind}) of {checkpoint}")
    result = json.loads((run / rundir.EVAL).read_text())
    if result.get("checkpoint") != checkpoint.name:
        raise SystemExit(f"error: {run / rundir.EVAL} holds {result.get('checkpoint')}, "
                         f"expected {checkpoint.name}")
    result = {k: v for k, v in result.items() if k != "history"}
    result["eval_seconds"] = round(seconds, 1)
    return result


def score_real(args, out, target_spec, kind):
    """The floor: the ``--n-target`` real training images of the digit scored as if they
    were samples (``gantool eval --samples``), against the same test-split reference."""
    import numpy as np

    n = args.n if kind == "classifier" else args.fid_n
    samples = out / "data" / "target_train.npy"
    with np.load(target_spec.partition(":")[2]) as data:
        images = data["x_train"]
    if not samples.is_file() or not np.array_equal(np.load(samples), images):
        np.save(samples, images)
    result_file = out / "data" / f"real-{kind}-{n}.json"
    if args.reuse and result_file.is_file():
        old = json.loads(result_file.read_text())
        if old.get("n_fake") == min(n, len(images)):
            return {**old, "reused": True}
    command = ["eval", "--samples", samples, "--dataset", target_spec, "--n", n,
               "--real-split", "test", "--quiet", "--out", result_file]
    if kind == "classifier":
        command += ["--features", args.features, "--metrics", "fid,pr"]
    else:
        command += ["--inception-weights", args.inception_weights, "--metrics", "fid,kid"]
    gantool(args, command, f"eval ({kind}) of the real training images")
    return json.loads(result_file.read_text())


def grid(args, out, run, name, step):
    """Copy the grid saved at ``step`` to OUT/samples/; its path relative to OUT, or None."""
    if step == 0:
        return None
    epoch = step // args.target_steps_per_epoch
    found = sorted(rundir.samples_dir(run).glob(f"epoch_*{epoch}.png"))
    found = [p for p in found if int(p.stem.split("_")[1]) == epoch]
    if not found:
        return None
    copy = out / "samples" / f"{name.replace(' ', '')}-{step}steps.png"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(found[0], copy)
    return str(copy.relative_to(out))


# --- report -----------------------------------------------------------------------------------


def reference_text(args, counts, records):
    """What the scores compare, per feature space: n generated vs n real, which split."""
    parts = []
    for kind, space in (("inception", "FID/KID in FID Inception pool3 features"),
                        ("classifier", "FD/precision/recall in the 128-d `features` layer "
                         f"of {Path(args.features or '-').name} (not comparable with FID)")):
        found = [rec["scores"][kind] for rec in records if rec["scores"].get(kind)]
        if not found:
            continue
        n_fake, n_real, split = found[0]["n_fake"], found[0]["n_real"], found[0]["real_split"]
        parts.append(f"{space}: {n_fake} generated vs the first {n_real} of the "
                     f"{counts['target_test']} MNIST **{split}-split** images of digit "
                     f"{args.digit}")
    return "; ".join(parts) + " (target.npz x_test; never trained on)"


def table_rows(records):
    rows = []
    for record in records:
        inception = record["scores"].get("inception") or {}
        classifier = record["scores"].get("classifier") or {}
        kid = inception.get("kid_mean")
        rows.append([record["arm"], record["step"], common.fmt(inception.get("fid")),
                     common.fmt(kid * 1000) if kid is not None else "-",
                     common.fmt(classifier.get("fd_classifier")),
                     common.fmt(classifier.get("precision_classifier"), 2),
                     common.fmt(classifier.get("recall_classifier"), 2),
                     record["samples"] or "-"])
    return rows


HEADERS = ["arm", "steps", "FID (Inception)", "KID x 1000 (Inception)", "FD (classifier)",
           "precision (classifier)", "recall (classifier)", "samples"]


def report(args, out, counts, source_info, arm_info, records):
    header, table = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(header):
        common.print_header("gantool fine-tuning vs scratch")
        print(f"- recipe: {Path(args.config).name} (seed {args.seed}"
              + (f", {args.train_args}" if args.train_args else "") + ")")
        print(f"- source run: {counts['source_train']} MNIST training images of the digits "
              f"other than {args.digit}, {source_info['epochs']} epochs = "
              f"{source_info['steps']} steps, {source_info['seconds']:.0f} s of training")
        print(f"- target: the first {counts['target_train']} MNIST training images of digit "
              f"{args.digit}, {args.target_steps_per_epoch} steps (batches of the recipe's "
              f"size) an epoch; arms: "
              + ", ".join(f"{a['arm']} ({a['seconds']:.0f} s for {max(args.steps)} steps)"
                          for a in arm_info)
              + " (training seconds: metrics.csv, start-up excluded; the machine was shared)")
        print(f"- scores: {reference_text(args, counts, records)}"
              + (" (dry run)" if args.dry_run else ""))
        print()
    with contextlib.redirect_stdout(table):
        common.print_table(HEADERS, table_rows(records))
    text = header.getvalue() + table.getvalue()
    (out / "finetune.md").write_text(text)
    (out / "finetune.json").write_text(json.dumps(
        {"header": header.getvalue().strip().splitlines(), "columns": HEADERS,
         "rows": table_rows(records), "counts": counts, "source": source_info,
         "arms": arm_info, "records": records}, indent=2, default=str))
    print(text, end="")
    print(f"wrote {out / 'finetune.md'} and {out / 'finetune.json'}")


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source_spec, target_spec, counts = write_datasets(args, out)
    source = train_source(args, out, source_spec)
    source_info = {"run": str(source), "seconds": train_seconds(source),
                   "steps": rundir.step_of(rundir.Run.open(source).checkpoint),
                   "epochs": args.source_epochs}
    arm_info = []
    for name, flags in arms(args, source):  # all training first, then the scores
        run = train_arm(args, out, target_spec, name, flags)
        arm_info.append({"arm": name, "run": run,
                         "seconds": train_seconds(run, max(args.steps))})
    scores = {}
    jobs = [("classifier", step) for step in args.steps] if args.features else []
    jobs += [("inception", step) for step in sorted(args.fid_steps, reverse=True)]
    for kind, step in jobs:  # Inception (slow) last, the longest-trained checkpoints first
        for arm in arm_info:
            if kind == "inception":
                print(f"  {arm['arm']}: Inception FID at step {step} ...", file=sys.stderr,
                      flush=True)
            scores[arm["arm"], step, kind] = score(args, arm["run"], step, kind)
    if args.real_row:
        real = {kind: score_real(args, out, target_spec, kind) for kind in
                (["classifier"] if args.features else []) + (["inception"] if jobs[-1:]
                and jobs[-1][0] == "inception" else [])}
    records = [{"arm": arm["arm"], "step": step, "run": str(arm["run"]),
                "scores": {kind: scores.get((arm["arm"], step, kind))
                           for kind in ("classifier", "inception")
                           if (arm["arm"], step, kind) in scores},
                "samples": grid(args, out, arm["run"], arm["arm"], step)}
               for step in args.steps for arm in arm_info]
    if args.real_row:
        records.append({"arm": "real training images",
                        "step": "-", "run": None, "scores": real, "samples": None})
    for arm in arm_info:
        arm["run"] = str(arm["run"])
    report(args, out, counts, source_info, arm_info, records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
