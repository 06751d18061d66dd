"""Toy recipes that find every mode: train a TOML recipe (plus flags) on ring/grid per seed,
score with `gantool eval --metrics modes --n 2500` (experiments/mode_collapse.py's protocol,
its helpers reused), print one markdown row per run and a mean +- std row. Runs that keep an
EMA are also scored with `eval --no-ema` (a second row, "raw G"); each run's 2500-point scatter
plot is written to RUN/sample.png (`gantool sample --n 2500`). Waits while /tmp/quiet.lock exists.

    python experiments/toy_recipes.py --config examples/ring_demo.toml --seeds 0,1,2 [-- FLAGS...]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mode_collapse import gantool, summary  # noqa: E402

from runs import wait_while  # noqa: E402

QUIET_LOCK = Path("/tmp/quiet.lock")


def wait_quiet():
    wait_while(QUIET_LOCK)


def score(run, *flags):
    gantool("eval", run, "--metrics", "modes", "--n", 2500, "--quiet", *flags)
    result = json.loads((run / "eval.json").read_text())
    return {"modes": result["modes_covered"], "of": result["num_modes"],
            "hq": result["high_quality_pct"], "kl": result["reverse_kl"]}


def run_one(config, seed, flags, workdir, dataset=None, name=None):
    run = Path(workdir) / f"{name or Path(config).stem}-{seed}"
    extra = ["--dataset", dataset] if dataset else []
    wait_quiet()
    start = time.perf_counter()
    gantool("train", "--config", config, *extra, "--seed", seed, "--out", run, "--force",
            "--quiet", "--no-tensorboard", *flags)
    seconds = time.perf_counter() - start
    steps = int((run / "metrics.csv").read_text().strip().splitlines()[-1].split(",")[1])
    config_json = json.loads((run / "config.json").read_text())
    has_ema = bool(config_json.get("ema") or config_json.get("ema_kimg")
                   or config_json.get("config", {}).get("ema")
                   or config_json.get("config", {}).get("ema_kimg"))
    results = []
    if has_ema:
        results.append(dict(score(run, "--no-ema"), ema=False))
    results.append(dict(score(run), ema=has_ema))  # last: eval.json's top level is this one
    gantool("sample", "--ckpt", run, "--n", 2500, "--out", run / "sample.png", "--quiet")
    for r in results:
        r.update(seconds=seconds, steps=steps, run=str(run))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--dataset")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workdir", default="/tmp/toy_recipes")
    parser.add_argument("--label", default="")
    parser.add_argument("--name", help="run directory prefix (default: the config's stem)")
    parser.add_argument("flags", nargs="*")
    args = parser.parse_args()
    label = args.label or " ".join(args.flags) or "(recipe as is)"
    where = f"{args.config} {args.dataset or ''}".strip()
    print("| recipe | flags | G | seed | modes | HQ % | reverse KL | train wall s | steps |",
          flush=True)
    runs = {}
    for seed in map(int, args.seeds.split(",")):
        for r in run_one(args.config, seed, args.flags, args.workdir, args.dataset, args.name):
            which = "EMA" if r["ema"] else "raw"
            runs.setdefault(which, []).append(r)
            kl = "inf" if r["kl"] is None else f"{r['kl']:.3f}"
            print(f"| {where} | {label} | {which} | {seed} | {r['modes']} / {r['of']} "
                  f"| {r['hq']:.1f} | {kl} | {r['seconds']:.0f} | {r['steps']} |", flush=True)
    for which, rs in runs.items():
        if len(rs) > 1:
            print(f"| {where} | {label} | {which} | mean ± std | "
                  f"{summary([r['modes'] for r in rs])} / {rs[0]['of']} | "
                  f"{summary([r['hq'] for r in rs])} | "
                  f"{summary([np.inf if r['kl'] is None else r['kl'] for r in rs])} | "
                  f"{summary([r['seconds'] for r in rs])} | "
                  f"{summary([r['steps'] for r in rs])} |", flush=True)


if __name__ == "__main__":
    main()
