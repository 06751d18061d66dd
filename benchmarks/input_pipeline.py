"""Input pipeline throughput: images/s that gantool's data pipeline delivers on its own, against
the images/s the DCGAN training step consumes.

Sources, each through ``gantool.data.load_dataset`` and ``gantool.data.pipeline.training_dataset``
(cache, per-epoch seeded shuffle, batch 128, conversion to [-1, 1], prefetch):

- ``mnist`` from tensorflow-datasets, mocked with ``tfds.testing.mock_data`` (random examples
  generated from the dataset's feature spec, so nothing is downloaded);
- ``npz:`` with real MNIST (../shared/data/mnist.npz) or a random stand-in where it is absent;
- ``folder:`` with PNG files written to a temporary directory and loaded at gantool's defaults
  for folders (64x64 RGB, 16x the bytes of an MNIST image: a stricter test than the 28x28 step).

For each it reports the load time, the first epoch (cold: fills the cache) and later epochs
(warm, median over windows of whole epochs). The consumption is measured in the same run: the
images/s of gantool's DCGAN 28x28x1 step at batch 128 fed by a constant batch (pure step) and
by the npz pipeline (the difference is what the pipeline costs the step), or given with
``--step-rate``. The target is a pipeline at least 5x faster than the step.
"""

import argparse
import contextlib
import math
import time

import common

BATCH_SIZE = 128
TARGET_RATIO = 5.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--device", default="/CPU:0",
                        help="TensorFlow device for the training step (the pipeline runs on CPU)")
    parser.add_argument("--repeats", type=int, default=5, help="timed windows per measurement")
    parser.add_argument("--tfds-examples", type=int, default=3000,
                        help="examples in the mocked tfds mnist")
    parser.add_argument("--folder-images", type=int, default=2000, help="PNG files to generate")
    parser.add_argument("--min-batches", type=int, default=100,
                        help="a warm window covers whole epochs and at least this many batches")
    parser.add_argument("--step-rate", type=float, default=None,
                        help="images/s of the training step; skips measuring it")
    parser.add_argument("--jit", action="store_true",
                        help="measure the step with XLA (default: gantool's default setting)")
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats, 1000 mocked examples, 500 PNGs")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = min(args.repeats, 3)
        args.tfds_examples = min(args.tfds_examples, 1000)
        args.folder_images = min(args.folder_images, 500)
    return args


# --- sources ----------------------------------------------------------------------------------


def write_pngs(directory, n, size=80, seed=0):
    """``n`` random RGB PNGs of ``size`` x ``size`` (smooth gradients plus noise) in two class
    sub-folders of ``directory``."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size)[None, :, None]
    for i in range(n):
        sub = directory / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        colour = rng.uniform(0, 255, (1, 1, 3))
        pixels = colour * ramp + rng.normal(0, 20, (size, size, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(sub / f"{i:05d}.png")
    return directory


@contextlib.contextmanager
def mocked_tfds(num_examples):
    """tfds datasets generated from their feature specs (nothing downloaded)."""
    import tensorflow_datasets as tfds
    from absl import logging

    logging.set_verbosity(logging.ERROR)  # mock_data's deprecation warnings

    with tfds.testing.mock_data(num_examples=num_examples,
                                policy=tfds.testing.MockPolicy.USE_CODE):
        yield


def source_specs(args, scratch):
    """``[(label, spec, context manager factory)]`` for the three sources."""
    npz_spec, npz_note = common.mnist_spec(scratch)
    folder = write_pngs(scratch / "pngs", args.folder_images)
    return [
        (f"tfds mnist (mock_data, {args.tfds_examples} examples)", "mnist",
         lambda: mocked_tfds(args.tfds_examples)),
        (f"npz: {npz_note}", npz_spec, contextlib.nullcontext),
        (f"folder: {args.folder_images} PNGs 80x80 -> 64x64x3", f"folder:{folder}",
         contextlib.nullcontext),
    ]


# --- pipeline rate ----------------------------------------------------------------------------


def iterate(iterator, batches):
    """Pull ``batches`` batches; returns the number of images."""
    images = 0
    for _ in range(batches):
        images += int(next(iterator).shape[0])
    return images


def measure_pipeline(args, spec):
    """Load ``spec`` and time its training batches: (load s, examples, shape, cold img/s,
    warm img/s list)."""
    from gantool.data import load_dataset
    from gantool.data.pipeline import steps_per_epoch, training_dataset

    load_seconds, source = common.timed(load_dataset, spec)
    per_epoch = steps_per_epoch(source, BATCH_SIZE)
    window_epochs = max(1, math.ceil(args.min_batches / per_epoch))
    epochs = 1 + window_epochs * args.repeats
    dataset = training_dataset(source, BATCH_SIZE, 0, 0, epochs, per_epoch)
    iterator = iter(dataset)
    cold_seconds, cold_images = common.timed(iterate, iterator, per_epoch)
    warm = []
    for _ in range(args.repeats):
        seconds, images = common.timed(iterate, iterator, per_epoch * window_epochs)
        warm.append(images / seconds)
    return load_seconds, source, cold_images / cold_seconds, warm


# --- step rate --------------------------------------------------------------------------------


class ConstantBatchRunner:
    """gantool's default DCGAN step fed by one constant batch (no input pipeline)."""

    def __init__(self, gantool_runner, source):
        import tensorflow as tf

        from gantool.data.pipeline import to_model_range

        self.inner = gantool_runner
        self.spe = 1
        batch = next(iter(source.dataset.batch(BATCH_SIZE)))
        constant = tf.data.Dataset.from_tensors(to_model_range(batch, source.kind)).repeat()
        self.iterator = iter(constant)

    def run(self, steps):
        logs = None
        for _ in range(steps):
            logs = self.inner.gan.train_function(self.iterator)
        return float(logs["d_loss"])


def measure_step(args, spec, steps=2):
    """Median images/s of the DCGAN 28x28x1 step (batch 128) fed by a constant batch and by
    gantool's pipeline over ``spec``, interleaved; returns (constant list, pipeline list)."""
    import keras
    from train_throughput import GantoolRunner

    from gantool.data import load_dataset

    keras.backend.clear_session()
    source = load_dataset(spec)
    config = common.recipe_config("mnist_dcgan", dataset=spec, data_shape=list(source.shape),
                                  data_kind=source.kind)
    jit = True if args.jit else config.jit
    piped = GantoolRunner(config, source, jit, 1)
    constant = ConstantBatchRunner(piped, source)
    runners = {"constant": constant, "pipeline": piped}
    for runner in runners.values():
        runner.run(2)
    rates = {name: [] for name in runners}
    for r in range(args.repeats):
        for name in (("constant", "pipeline") if r % 2 == 0 else ("pipeline", "constant")):
            seconds, _ = common.timed(runners[name].run, steps)
            rates[name].append(steps * BATCH_SIZE / seconds)
    return rates["constant"], rates["pipeline"], jit


def main(argv=None):
    args = parse_args(argv)
    common.print_header("gantool input pipeline vs training step (images/s)", args.device)
    import gantool  # noqa: F401, I001  (first: the step runs with gantool's TF settings)
    import tensorflow as tf

    start = time.perf_counter()
    scratch = common.scratch_dir("pipeline")
    specs = source_specs(args, scratch)

    if args.step_rate:
        step_rate, step_note = args.step_rate, "given with --step-rate"
    else:
        with tf.device(args.device):
            constant, piped, jit = measure_step(args, specs[1][1])
        step_rate = common.median(constant)
        step_note = (f"measured: gantool DCGAN 28x28x1 step, batch {BATCH_SIZE}, "
                     f"jit={'on' if jit else 'off'}")
        common.print_table(
            ["training step fed by", "images/s (median)", "spread"],
            [["a constant batch (pure step)", common.fmt(step_rate), common.spread(constant)],
             ["gantool's npz pipeline", common.fmt(common.median(piped)), common.spread(piped)]],
            title="Consumption: the training step")
        print(f"pipeline cost to the step: {100 * (1 - common.median(piped) / step_rate):.1f}% "
              f"(negative: noise)")
        print()

    rows = []
    for label, spec, context in specs:
        with context():
            load_seconds, source, cold, warm = measure_pipeline(args, spec)
        warm_rate = common.median(warm)
        ratio = warm_rate / step_rate
        rows.append([label, source.num_examples, "x".join(map(str, source.shape)),
                     common.fmt(load_seconds, 2), common.fmt(cold), common.fmt(warm_rate),
                     common.spread(warm), common.fmt(cold / step_rate, 2),
                     common.fmt(ratio, 2), common.verdict(ratio, TARGET_RATIO, True)])
    common.print_table(
        ["source", "examples", "shape", "load s", "epoch 1 img/s (cold)", "warm img/s",
         "spread", "cold / step", "warm / step", f">= {TARGET_RATIO:g}x"],
        rows, title=f"Pipeline alone (batch {BATCH_SIZE}) vs the step's {common.fmt(step_rate)} "
                    f"images/s ({step_note})")
    print(f"total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
