"""Folders at scale: the first and the second start on a ``folder:`` of 50,000 small JPEGs.

The folder is written to a temporary directory: 32x32 JPEGs (quality 90) made from the CIFAR-10
test images in ../shared/data/cifar10_test.npz (cycled, flipped and shifted so that no two
files are equal) or, where that file is absent, smooth random images. Each measurement runs in
a fresh Python process, as a user's command does:

- ``load_dataset("folder:...", image_size=32)``: the process's wall time, the import of
  TensorFlow and gantool, and the load alone;
- ``gantool train --arch mlp --dataset folder:... --image-size 32 --epochs 1
  --steps-per-epoch 1``: the wall time of the whole one-step run (an upper bound of the time to
  the first step: it also writes a sample grid and generator.keras when it ends).

"first" starts with an empty decoded-folder cache ($GANTOOL_CACHE, here a scratch folder):
every file is decoded. "second" finds the cache written by the first. The target (issue 14): the
second start reaches the first training step within 10 s.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import common

TARGET_SECONDS = 10.0
LOAD = """
import json, sys, time
start = time.perf_counter()
import tensorflow
from gantool.data import load_dataset
imported = time.perf_counter()
source = load_dataset(sys.argv[1], image_size=int(sys.argv[2]))
done = time.perf_counter()
print(json.dumps({"import": imported - start, "load": done - imported, "n": source.num_examples}))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000, help="JPEG files to write")
    parser.add_argument("--size", type=int, default=32, help="side of the images, in pixels")
    parser.add_argument("--quick", action="store_true", help="2,000 images")
    args = parser.parse_args(argv)
    if args.quick:
        args.images = min(args.images, 2000)
    return args


def source_images(n, size):
    """uint8 (n, size, size, 3) images: CIFAR-10 test images where present, else random."""
    import numpy as np

    path = common.SHARED / "data" / "cifar10_test.npz"
    rng = np.random.default_rng(0)
    if path.is_file() and size == 32:
        with np.load(path, allow_pickle=False) as data:
            base = data[data.files[0] if "x_test" not in data.files else "x_test"]
        note = f"CIFAR-10 test images ({path}), cycled, flipped and shifted"
    else:
        ramp = np.linspace(0, 1, size)[None, :, None, None]
        base = np.clip(rng.uniform(0, 255, (1000, 1, 1, 3)) * ramp
                       + rng.normal(0, 20, (1000, size, size, 3)), 0, 255).astype(np.uint8)
        note = "smooth random images"
    picks = np.arange(n) % len(base)
    images = base[picks].copy()
    rounds = np.arange(n) // len(base)
    images[rounds % 2 == 1] = images[rounds % 2 == 1, :, ::-1]  # every other cycle flipped
    for r in np.unique(rounds):
        images[rounds == r] = np.roll(images[rounds == r], r // 2, axis=2)
    return images, note


def write_jpegs(directory, images):
    """One JPEG per image, 1000 per sub-folder (as large datasets are usually laid out)."""
    from PIL import Image

    for i, image in enumerate(images):
        sub = directory / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(sub / f"{i:06d}.jpg", quality=90)
    return directory


def run(command, cache):
    """Run ``command`` with GANTOOL_CACHE=``cache``: (wall seconds, stdout)."""
    env = {**common.GIVEN_ENVIRONMENT, "GANTOOL_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=common.REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def load_row(label, spec, size, cache):
    seconds, out = run([sys.executable, "-c", LOAD, spec, str(size)], cache)
    result = json.loads(out.strip().splitlines()[-1])
    return [label, f"`load_dataset(\"{spec.split(':')[0]}:...\")`", result["n"],
            common.fmt(seconds, 2), common.fmt(result["import"], 2), common.fmt(result["load"], 2)]


def train_row(label, spec, size, cache, out):
    gantool = [sys.executable, "-m", "gantool", "train", "--arch", "mlp", "--dataset", spec,
               "--image-size", str(size), "--epochs", "1", "--steps-per-epoch", "1",
               "--batch-size", "64", "--g-hidden", "64", "--d-hidden", "64", "--quiet",
               "--no-tensorboard", "--out", str(out)]
    seconds, _ = run(gantool, cache)
    return [label, "`gantool train ... --epochs 1 --steps-per-epoch 1`", "", common.fmt(seconds, 2),
            "", ""], seconds


def main(argv=None):
    args = parse_args(argv)
    common.print_header(f"gantool folder: first and second start ({args.images} JPEGs)")
    scratch = common.scratch_dir("folder")
    images, note = source_images(args.images, args.size)
    write_seconds, folder = common.timed(write_jpegs, scratch / "jpegs", images)
    du = sum(f.stat().st_size for f in folder.rglob("*.jpg")) / 2**20
    print(f"- folder: {args.images} JPEGs {args.size}x{args.size} ({note}), {du:.0f} MiB, "
          f"written in {write_seconds:.0f} s")
    spec = f"folder:{folder}"
    rows = [load_row("first (empty cache)", spec, args.size, scratch / "cache-a"),
            load_row("second (cached)", spec, args.size, scratch / "cache-a")]
    first, _ = train_row("first (empty cache)", spec, args.size, scratch / "cache-b",
                         scratch / "run-1")
    second, seconds = train_row("second (cached)", spec, args.size, scratch / "cache-b",
                                scratch / "run-2")
    rows += [first, second]
    cached = sum(f.stat().st_size for f in (scratch / "cache-a").rglob("*")) / 2**20
    print(f"- decoded-folder cache entry: {cached:.0f} MiB; decoding threads: "
          f"{min(8, os.cpu_count() or 1)}")
    print()
    headers = ["start", "command (fresh process)", "images", "wall s", "import TF s", "load s"]
    common.print_table(headers, rows,
                       title="First and second start")
    print(f"second start, whole one-step training run: {seconds:.1f} s "
          f"(target <= {TARGET_SECONDS:g} s to the first step: "
          f"{common.verdict(seconds, TARGET_SECONDS)})")


if __name__ == "__main__":
    main()
