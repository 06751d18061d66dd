"""Toy recipes that find every mode: train a TOML recipe (plus flags) on ring/grid per seed,
score with `gantool eval --metrics modes --n 2500` (experiments/mode_collapse.py's protocol,
its helpers reused), print one markdown row per run and a mean +- std row.

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


def run_one(config, seed, flags, workdir, dataset=None):
    run = Path(workdir) / f"{Path(config).stem}-{seed}"
    extra = ["--dataset", dataset] if dataset else []
    start = time.perf_counter()
    gantool("train", "--config", config, *extra, "--seed", seed, "--out", run, "--force",
            "--quiet", "--no-tensorboard", *flags)
    seconds = time.perf_counter() - start
    gantool("eval", run, "--metrics", "modes", "--n", 2500, "--quiet")
    result = json.loads((run / "eval.json").read_text())
    return {"modes": result["modes_covered"], "of": result["num_modes"],
            "hq": result["high_quality_pct"], "kl": result["reverse_kl"], "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--dataset")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workdir", default="/tmp/toy_recipes")
    parser.add_argument("--label", default="")
    parser.add_argument("flags", nargs="*")
    args = parser.parse_args()
    label = args.label or " ".join(args.flags) or "(recipe as is)"
    runs = []
    for seed in map(int, args.seeds.split(",")):
        r = run_one(args.config, seed, args.flags, args.workdir, args.dataset)
        runs.append(r)
        kl = "inf" if r["kl"] is None else f"{r['kl']:.3f}"
        print(f"| {args.config} {args.dataset or ''} | {label} | {seed} | {r['modes']} / {r['of']} "
              f"| {r['hq']:.1f} | {kl} | {r['seconds']:.0f} |", flush=True)
    if len(runs) > 1:
        print(f"| {args.config} {args.dataset or ''} | {label} | mean ± std | "
              f"{summary([r['modes'] for r in runs])} / {runs[0]['of']} | "
              f"{summary([r['hq'] for r in runs])} | "
              f"{summary([np.inf if r['kl'] is None else r['kl'] for r in runs])} | "
              f"{np.mean([r['seconds'] for r in runs]):.0f} |", flush=True)


if __name__ == "__main__":
    main()
