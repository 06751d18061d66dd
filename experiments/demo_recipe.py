"""Screen recipes for `make demo`: train each on `shapes` for a short budget, score, one table.

    python experiments/train_classifier.py --dataset shapes --epochs 15 --out /tmp/shapes_clf.keras
    python experiments/demo_recipe.py "current=" "lr1e-3=--lr 1e-3 --lr-schedule cosine" \
        [--base examples/shapes_demo.toml] [--budget 2] [--seeds 0] \
        [--features /tmp/shapes_clf.keras] [--n 1000] [--out /tmp/demo_recipe]

A recipe is `NAME=FLAGS` (gantool train flags applied on top of `--base`; an empty FLAGS is the
base as it is) or a TOML file (used instead of the base). For each recipe and seed the script waits
while `--lock` (default /tmp/quiet.lock) exists, runs `gantool train --config BASE --time-budget
BUDGET FLAGS --seed S --out OUT/NAME-sS --force --quiet --no-tensorboard` (`--budget 0`: the
recipe's own epochs and time budget, if any), then `gantool eval RUN --features CLASSIFIER --n N`
(Fréchet distance, KID and precision/recall in the classifier's 128-d `features` layer; README,
"Fast quality checks with your own classifier"), then `gantool sample --n N --out RUN/scored.npy`
and judges those samples with a 4-class recogniser (`Recogniser`: disc, square, triangle, blob;
trained here once on real and blurred shapes and saved to `--recogniser`): the "recognisable" rate
is the share of samples it assigns to one of the three shapes with probability > `--confidence`
(0.9), overall and per class (the share of all samples that are confident discs, ...; real shapes:
1/3 each), and the blob column the share confidently called a blob. The same rates for `--n` real
test-split shapes, and for blurred copies of them, are printed above the table as references.

Columns: recipe, seed, steps, epochs; "step s", the seconds of the training steps (the sum of
metrics.csv's per-epoch `seconds`); "clock s", a budgeted run's training clock (the checkpoint's
`elapsed_seconds`: the steps and what runs between them, such as epoch-end checkpoints, grids and
training.png; the first step and start-up are not counted); "process s", the whole `gantool
train` process; steps per second of the steps; the 1-minute load average when the run started
(the machine may be shared); FD, KID x 1000, precision, recall; recognisable % (all / disc /
square / triangle; blob); the final fixed-latent grid (copied to OUT/grids/). The table goes to
stdout under the command line, machine and date (benchmarks/common.py) and to OUT/demo_recipe.md
and OUT/demo_recipe.json. `--dry-run`: train with --dry-run and score 16 samples (smoke test).

`--figure RUN_DIR [--figure-epochs 1,5,10,20|last] [--figure-out docs/demo/shapes_epochs.png]`
writes the README's picture of training instead: the first 16 fixed latents after each of
those epochs, 4x4 grids (x2) side by side.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

import runs  # noqa: E402  (experiments/runs.py)
from benchmarks import common  # noqa: E402  (sets TensorFlow's log level first)
from gantool import rundir  # noqa: E402

CLASSES = ("disc", "square", "triangle")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help="'NAME=--flag value ...' or a TOML file")
    parser.add_argument("--base", default=str(ROOT / "examples" / "shapes_demo.toml"),
                        help="the recipe NAME=FLAGS recipes start from")
    parser.add_argument("--budget", type=float, default=2.0,
                        help="--time-budget minutes for every run (0: the recipe's own)")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--features", default="/tmp/shapes_clf.keras",
                        help="classifier (.keras) from experiments/train_classifier.py")
    parser.add_argument("--n", type=int, help="samples per score (default 1000; dry run 16)")
    parser.add_argument("--recogniser", default="/tmp/shapes_recogniser.keras",
                        help="the 4-class recogniser (.keras): loaded, or trained and saved")
    parser.add_argument("--confidence", type=float, default=0.9,
                        help="recognisable: classifier probability above this")
    parser.add_argument("--lock", default="/tmp/quiet.lock",
                        help="wait while this file exists before each training run")
    parser.add_argument("--out", default="/tmp/demo_recipe")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--figure", metavar="RUN_DIR",
                        help="instead of screening: write the README's epochs figure from this "
                        "run's samples/epoch_*.npy (first 16 fixed latents per epoch, 4x4, x2)")
    parser.add_argument("--figure-epochs", default="1,5,10,20",
                        help="--figure: comma-separated epochs ('last' for the final one)")
    parser.add_argument("--figure-out", default=str(ROOT / "docs" / "demo" / "shapes_epochs.png"))
    args = parser.parse_args(argv)
    if args.figure:
        return args
    if not args.recipes:
        parser.error("give at least one recipe (or --figure RUN_DIR)")
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


def gantool(*command, what):
    """Run ``python -m gantool COMMAND`` (:func:`runs.gantool`); returns its stdout."""
    return runs.gantool(command, what)[0]


class Recogniser:
    """Confident decisions on uint8 shapes images by a 4-class CNN: disc, square, triangle and
    "blob" (real shapes blurred with a Gaussian of sigma 1.5-3 pixels, and speckle noise).

    The `--features` classifier alone is no judge of recognisability: it only knows the three
    clean classes, so it calls an untrained generator's noise "triangle" and rounded blobs
    "square" with probability > 0.9. This one (experiments/train_classifier.py's network, one
    more output) has seen blobs, so a sample counts as recognisable only when it is confidently
    one of the three shapes and not a blob. Trained once (about 30 s on 2 cores) and saved to
    `--recogniser`."""

    def __init__(self, path, confidence, seed=0):
        import keras

        self.confidence = confidence
        if Path(path).is_file():
            self.model = keras.saving.load_model(path)
        else:
            print(f"training the recogniser {path} ...", file=sys.stderr, flush=True)
            self.model = self.train(seed)
            self.model.save(path)

    @staticmethod
    def blobs(images, rng):
        """Blurred copies of ``images`` (uint8) and a few of pure speckle noise."""
        import numpy as np
        from scipy.ndimage import gaussian_filter

        out = np.empty_like(images)
        for i, image in enumerate(images):
            sigma = rng.uniform(1.5, 3.0)
            out[i] = np.clip(gaussian_filter(image.astype(np.float32), (sigma, sigma, 0)),
                             0, 255).astype(np.uint8)
        noisy = rng.random(len(images)) < 0.1
        out[noisy] = rng.integers(0, 256, out[noisy].shape, dtype=np.uint8)
        return out

    def train(self, seed):
        import keras
        import numpy as np
        from train_classifier import build_classifier

        from gantool.data.shapes import draw_shapes
        from gantool.metrics.classifier import preprocess

        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        x, y = draw_shapes(10_000, seed=seed)
        extra, _ = draw_shapes(15_000, seed=seed + 1)
        x = np.concatenate([x, self.blobs(extra[10_000:], rng)])
        y = np.concatenate([y, np.full(5000, 3, np.int32)])
        model = build_classifier(x.shape[1:], 4)
        model.fit(preprocess(x, x.shape[1:]), y, epochs=20, batch_size=128, shuffle=True,
                  verbose=0)
        return model

    def rates(self, images):
        """{'all': %, 'disc': %, ..., 'blob': %}: shares (of all images) given each class with
        probability > confidence ('all': the three shapes together)."""
        import numpy as np

        from gantool.metrics.classifier import preprocess

        images = np.asarray(images)
        probs = self.model.predict(preprocess(images, images.shape[1:]), batch_size=250,
                                   verbose=0)
        sure = probs.max(axis=1) > self.confidence
        label = probs.argmax(axis=1)
        out = {name: 100 * float(np.mean(sure & (label == k)))
               for k, name in enumerate((*CLASSES, "blob"))}
        out["all"] = sum(out[name] for name in CLASSES)
        return out


def real_rates(recogniser, n):
    """Rates on ``n`` real test-split shapes and on blurred copies of them (the references)."""
    import numpy as np

    from gantool.data import load_dataset
    from gantool.evaluation.reference import dataset_images

    source = load_dataset("shapes", split="test", max_examples=n)
    images = dataset_images(source, n)
    blurred = Recogniser.blobs(images, np.random.default_rng(123))
    return recogniser.rates(images), recogniser.rates(blurred)


def trained(run_dir):
    """(epochs, steps, epoch seconds (the sum of metrics.csv's `seconds`: the steps alone),
    clock seconds (a budgeted run's `elapsed_seconds` from its checkpoint: the steps and the
    epoch-end outputs; None without a budget), final grid or None)."""
    import tensorflow as tf

    run = rundir.Run.open(run_dir)
    with run.file(rundir.METRICS).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    seconds = sum(float(r["seconds"]) for r in rows)
    epochs = int(float(rows[-1]["epoch"])) if rows else 0
    reader = tf.train.load_checkpoint(str(run.checkpoint))
    keys = [k for k in reader.get_variable_to_shape_map() if k.startswith("elapsed_seconds/")]
    clock = float(reader.get_tensor(keys[0])) if keys else None
    grids = sorted(rundir.samples_dir(run_dir).glob("epoch_*.png"))
    return (epochs, rundir.step_of(run.checkpoint), seconds, clock,
            grids[-1] if grids else None)


def one_run(args, recogniser, name, flags, seed):
    import numpy as np

    run_dir = Path(args.out) / "runs" / f"{name}-s{seed}"
    budget = ["--time-budget", args.budget] if args.budget and not args.dry_run else []
    command = ["train", flags[0], flags[1], *budget, *flags[2:], "--seed", seed,
               "--out", run_dir, "--force", "--quiet", "--no-tensorboard"]
    if args.dry_run:
        command.append("--dry-run")
    runs.wait_while(args.lock)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    gantool(*command, what=f"training {name}")
    process_seconds = time.perf_counter() - start
    runs.wait_while(args.lock)
    gantool("eval", run_dir, "--features", args.features, "--n", args.n, "--quiet",
            what=f"eval of {run_dir}")
    result = json.loads((run_dir / rundir.EVAL).read_text())
    scored = run_dir / "scored.npy"
    gantool("sample", "--ckpt", run_dir, "--n", args.n, "--seed", 1, "--out", scored, "--quiet",
            what=f"sampling {run_dir}")
    rates = recogniser.rates(np.load(scored))
    scored.unlink()
    epochs, steps, seconds, clock, grid = trained(run_dir)
    copy = None
    if grid is not None:
        copy = Path(args.out) / "grids" / f"{run_dir.name}.png"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grid, copy)
    return {"recipe": name, "flags": shlex.join(map(str, flags)), "seed": seed,
            "run": str(run_dir), "epochs": epochs, "steps": steps,
            "step_seconds": round(seconds, 1),
            "clock_seconds": None if clock is None else round(clock, 1),
            "process_seconds": round(process_seconds, 1),
            "load": round(load, 2), "fd": result.get("fd_classifier"),
            "kid": result.get("kid_classifier_mean"),
            "precision": result.get("precision_classifier"),
            "recall": result.get("recall_classifier"), "recognisable": rates,
            "grid": str(copy) if copy else None}


def row(r):
    rec = r["recognisable"]
    f = common.fmt
    return [r["recipe"], r["seed"], r["steps"], r["epochs"], f(r["step_seconds"]),
            f(r["clock_seconds"]), f(r["process_seconds"]),
            f(r["steps"] / max(r["step_seconds"], 1e-9), 2),
            f"{r['load']:.1f}", f(r["fd"]), f(r["kid"] * 1000 if r["kid"] is not None else None),
            f(r["precision"], 2), f(r["recall"], 2),
            " / ".join(f"{rec[k]:.0f}" for k in ("all", *CLASSES, "blob")),
            Path(r["grid"]).name if r["grid"] else "-"]


HEADERS = ["recipe", "seed", "steps", "epochs", "step s", "clock s", "process s", "steps/s",
           "load",
           "FD (clf)", "KID x 1000", "precision", "recall",
           "recognisable % (all / disc / square / triangle; blob)", "grid"]


def machine_header():
    """benchmarks/common.py's header (command, machine, load, date), taken when the runs start."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        common.print_header("gantool demo recipes on shapes")
    return text.getvalue()


def report(args, recipes, records, real, start_header):
    header, table = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(header):
        print(start_header, end="")
        budget = (f"--time-budget {args.budget:g}" if args.budget and not args.dry_run
                  else "no time budget")
        print(f"- runs: base `{Path(args.base).name}` + the recipe's flags, {budget}, seeds "
              f"{','.join(map(str, args.seeds))}" + (" (dry run)" if args.dry_run else ""))
        print(f"- scores: FD/KID/PR in the `features` layer of {Path(args.features).name}, "
              f"{args.n} generated vs {args.n} real test-split shapes; recognisable: "
              f"classifier probability > {args.confidence:g}")
        for what, rates in zip(("real test shapes", "the same shapes blurred"), real):
            print(f"- {what}, recognisable % (all / disc / square / triangle; blob): "
                  + " / ".join(f"{rates[k]:.0f}" for k in ("all", *CLASSES, "blob")))
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
        {"header": header.getvalue().strip().splitlines(),
         "real_recognisable": real[0], "blurred_recognisable": real[1],
         "runs": records}, indent=2))
    print(text, end="")
    print(f"wrote {out / 'demo_recipe.md'} and {out / 'demo_recipe.json'}")


def figure(args):
    """Side by side 4x4 grids of the first 16 fixed latents after each of --figure-epochs."""
    import numpy as np

    from gantool import viz

    saved = sorted(rundir.samples_dir(args.figure).glob("epoch_*.npy"))
    if not saved:
        raise SystemExit(f"error: {args.figure}: no samples/epoch_*.npy")
    by_epoch = {int(p.stem.split("_")[1]): p for p in saved}
    epochs = [max(by_epoch) if e.strip() == "last" else int(e)
              for e in args.figure_epochs.split(",")]
    missing = [e for e in epochs if e not in by_epoch]
    if missing:
        raise SystemExit(f"error: no samples for epochs {missing}; the run has {sorted(by_epoch)}")
    panels = [viz.upscale(viz.image_grid(np.load(by_epoch[e])[:16], ncols=4), 2) for e in epochs]
    viz.save_image(args.figure_out, np.concatenate(panels, axis=1))
    print(f"wrote {args.figure_out}: epochs {', '.join(map(str, epochs))} of {args.figure}")
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.figure:
        return figure(args)
    recipes = [recipe(text, args.base) for text in args.recipes]
    start_header = machine_header()
    recogniser = Recogniser(args.recogniser, args.confidence)
    real = real_rates(recogniser, args.n)
    records = []
    for name, flags in recipes:
        for seed in args.seeds:
            print(f"{name}: seed {seed} ...", file=sys.stderr, flush=True)
            records.append(one_run(args, recogniser, name, flags, seed))
            print("  " + " | ".join(map(str, row(records[-1]))), file=sys.stderr, flush=True)
    report(args, recipes, records, real, start_header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
