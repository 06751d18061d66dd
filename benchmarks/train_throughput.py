"""Training throughput: images/s of gantool's GAN step against a straightforward baseline step.

For each case (a recipe from examples/ with its batch size) this builds

- gantool's GAN exactly as ``gantool train`` does (``gantool.training.build_gan``), with
  gantool's default settings (the row marked "(default)"), with XLA (``jit_compile``) flipped,
  and with ``steps_per_execution`` K or, for recipes that set one, 1 (``--grid`` adds XLA flipped
  with that as well);
- a baseline written the straightforward way (the TensorFlow DCGAN tutorial's style): the same
  gantool model builders, two GradientTapes, separate discriminator calls on the real and the
  fake batch, ``BinaryCrossentropy(from_logits=True)``, two Adam optimizers, and a
  ``@tf.function`` step called from a Python loop over a ``tf.data`` dataset;

then times them interleaved (each round runs every variant once, in a rotating order), after a
warm-up, and reports the median images/s over the rounds, the median per-round ratio to the
baseline, and the achieved FLOP/s (counted analytically, see ``common.step_flops``) against a
float32 matmul peak measured in the same run. gantool variants are driven through the compiled
``train_function`` that ``fit()`` calls (no callbacks), fed by gantool's own input pipeline.

TensorFlow reads some settings once per process (oneDNN's CPU kernels, which ``import gantool``
switches on for x86 CPUs), so the variants run in two worker processes driven by this one:

- "gantool": TensorFlow as ``gantool train`` runs it (gantool imported first);
- "TF defaults": TensorFlow imported before gantool, with the environment as given: what the
  tutorial's code gets when people run it. The reference baseline runs here.

Each process also runs the other side's code (the baseline with gantool's settings, gantool's step
with TensorFlow's defaults), so the table separates what the settings give from what the step
code gives.

Run ``python benchmarks/train_throughput.py --help`` for the options.
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time

import common

# name, recipe (examples/NAME.toml), data ("mnist", "rgb32" or a toy name), run by default?,
# in the --quick set?
CASES = [
    ("dcgan 28x28x1", "mnist_dcgan", "mnist", True, True),
    ("dcgan 32x32x3", "svhn_dcgan", "rgb32", True, False),
    ("mlp MNIST vanilla (128)", "mnist_vanilla", "mnist", True, True),
    ("mlp MNIST deep (1024-512-256)", "mnist_mlp_deep", "mnist", False, False),
    ("mlp 2-D sine", "sine", "sine", True, True),
]
RGB32_EXAMPLES = 10_000
BASELINE = "baseline (tutorial style), TF defaults"
GANTOOL_ENV, TF_DEFAULTS_ENV = "gantool", "TF defaults"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--device", default="/CPU:0", help="TensorFlow device to run on")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per case")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per timed window (default: sized from the warm-up so that "
                             "a window takes about --seconds), rounded up to a multiple of the "
                             "variant's steps_per_execution")
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="target length of a timed window when --steps is not given")
    parser.add_argument("--spe", type=int, default=4,
                        help="the steps_per_execution compared with 1 for recipes that do not "
                             "set one (recipes that do are compared with 1)")
    parser.add_argument("--grid", action="store_true",
                        help="also run XLA on with --spe (the full jit x spe grid)")
    parser.add_argument("--cases", nargs="+", metavar="NAME",
                        help="substrings of the case names to run (default: all but the deep "
                             "mlp; 'all' runs every case)")
    parser.add_argument("--quick", action="store_true",
                        help="3 cases (dcgan 28x28, vanilla mlp, sine) and 3 rounds")
    parser.add_argument("--precision", choices=["float32", "mixed_float16", "mixed_bfloat16"],
                        help="gantool's --precision for its variants (default: the recipe's); "
                             "the baseline stays float32")
    parser.add_argument("--batch-size", type=int,
                        help="global batch size instead of the recipe's")
    parser.add_argument("--worker", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = min(args.repeats, 3)
    return args


def selected_cases(args):
    """The cases to run: --cases substrings ('all': every case), else the default or quick set."""
    if args.cases:
        return [c for c in CASES if "all" in args.cases
                or any(s.lower() in c[0].lower() for s in args.cases)]
    return [c for c in CASES if (c[4] if args.quick else c[3])]


# --- data -------------------------------------------------------------------------------------


def case_dataset_spec(data, scratch):
    """``(gantool dataset spec, description)`` for a case's data."""
    import numpy as np

    if data == "mnist":
        return common.mnist_spec(scratch)
    if data == "rgb32":
        path = scratch / "rgb32.npz"
        if not path.exists():
            rng = np.random.default_rng(0)
            np.savez(path, x_train=rng.integers(0, 256, (RGB32_EXAMPLES, 32, 32, 3), np.uint8))
        return f"npz:{path}", f"{RGB32_EXAMPLES} random 32x32x3 images (SVHN's shape; offline)"
    return data, f"gantool toy dataset {data!r}"


def source_arrays(source):
    """All elements of a gantool DataSource as one numpy array in model range (the baseline's
    data, prepared up front the way the tutorial does)."""
    import numpy as np

    from gantool.data.pipeline import to_model_range

    array = np.stack(list(source.dataset.as_numpy_iterator()))
    return to_model_range(array, source.kind).numpy()


# --- the runners ------------------------------------------------------------------------------


class GantoolRunner:
    """gantool's GAN, stepped through the ``train_function`` that ``fit()`` calls."""

    def __init__(self, config, source, jit, steps_per_execution):
        from gantool.data.pipeline import steps_per_epoch, training_dataset

        self.gan = common.build_gantool_gan(config, jit=jit,
                                            steps_per_execution=steps_per_execution)
        self.spe = steps_per_execution
        self.gan.make_train_function()
        full = steps_per_epoch(source, config.batch_size)
        dataset = training_dataset(source, config.batch_size, config.seed, 0, 10**9, full)
        self.iterator = iter(dataset)
        self.generator, self.discriminator = self.gan.generator, self.gan.discriminator

    def run(self, steps):
        """Run ``steps`` training steps (a multiple of steps_per_execution) to completion."""
        logs = None
        for _ in range(max(1, steps // self.spe)):
            logs = self.gan.train_function(self.iterator)
        return float(logs["d_loss"])


class BaselineRunner:
    """The straightforward GAN step: two tapes, two D calls, Keras BCE losses, two Adams."""

    spe = 1

    def __init__(self, config, source):
        import keras
        import tensorflow as tf

        from gantool.models import build_models

        keras.mixed_precision.set_global_policy("float32")  # the tutorial's precision
        keras.utils.set_random_seed(config.seed)
        self.config = config
        self.generator, self.discriminator = build_models(config)
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.g_optimizer = keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta1,
                                                 beta_2=config.beta2)
        self.d_optimizer = keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta1,
                                                 beta_2=config.beta2)
        images = source_arrays(source)
        dataset = (tf.data.Dataset.from_tensor_slices(images).shuffle(len(images))
                   .batch(config.batch_size, drop_remainder=True).repeat())
        self.iterator = iter(dataset)
        self.train_step = tf.function(self._train_step)

    def _noise(self, n):
        import tensorflow as tf

        shape = (n, self.config.latent_dim)
        if self.config.latent_dist == "uniform":
            return tf.random.uniform(shape, -1.0, 1.0)
        return tf.random.normal(shape)

    def _train_step(self, images):
        import tensorflow as tf

        noise = self._noise(tf.shape(images)[0])
        real_target = 1.0 - self.config.label_smoothing
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fakes = self.generator(noise, training=True)
            real_out = self.discriminator(images, training=True)
            fake_out = self.discriminator(fakes, training=True)
            g_loss = self.cross_entropy(tf.ones_like(fake_out), fake_out)
            d_loss = (self.cross_entropy(tf.ones_like(real_out) * real_target, real_out)
                      + self.cross_entropy(tf.zeros_like(fake_out), fake_out))
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        return d_loss

    def run(self, steps):
        d_loss = None
        for _ in range(steps):
            d_loss = self.train_step(next(self.iterator))
        return float(d_loss)


# --- worker processes -------------------------------------------------------------------------


def make_variants(config, spe, grid=False):
    """``[(label, process, spec)]`` under gantool's settings: the recipe's own settings (the
    default: its jit and steps_per_execution), XLA flipped, and steps_per_execution ``spe`` or,
    where the recipe sets it, 1 (with ``grid``, XLA flipped with that too); the recipe's settings
    under TensorFlow's defaults; the baseline under both."""
    default_spe = config.steps_per_execution
    other_spe = 1 if default_spe != 1 else spe
    settings = [(config.jit, default_spe), (not config.jit, default_spe), (config.jit, other_spe)]
    if grid:
        settings.append((not config.jit, other_spe))
    variants = []
    for jit, k in sorted(set(settings)):
        label = f"gantool jit={'on' if jit else 'off'} spe={k}"
        if jit == config.jit and k == default_spe:
            label += " (default)"
        variants.append((label, GANTOOL_ENV, {"runner": "gantool", "jit": jit, "spe": k}))
    default = {"runner": "gantool", "jit": config.jit, "spe": default_spe}
    variants.append(("gantool default, TF defaults", TF_DEFAULTS_ENV, default))
    variants.append(("baseline, gantool's TF settings", GANTOOL_ENV, {"runner": "baseline"}))
    variants.append((BASELINE, TF_DEFAULTS_ENV, {"runner": "baseline"}))
    return variants


def make_runner(spec, config, source):
    """A runner from a variant's spec, in a fresh Keras name scope.

    gantool's models name most layers explicitly but leave some to Keras's automatic names
    ("dense", "dense_1", ...), which can then clash with an explicit "dense_1" when a second
    model is built in the same process; ``clear_session`` restarts the automatic numbering.
    """
    import keras

    keras.backend.clear_session()
    if spec["runner"] == "baseline":
        return BaselineRunner(config, source)
    return GantoolRunner(config, source, spec["jit"], spec["spe"])


def warm_up(runner):
    """First call (trace + compile) time, and the seconds per step of the call after it."""
    first, _ = common.timed(runner.run, runner.spe)
    seconds, _ = common.timed(runner.run, runner.spe)
    return first, seconds / runner.spe


def onednn_enabled():
    """Whether this process's TensorFlow runs oneDNN's CPU kernels (None where unknown)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def load_case(recipe, spec, overrides=None):
    """(config, source) of a case, as every process builds them; ``overrides``: settings given
    on this script's command line (precision, batch size)."""
    from gantool.data import load_dataset

    source = load_dataset(spec)
    config = common.recipe_config(recipe, dataset=spec, data_shape=list(source.shape),
                                  data_kind=source.kind, **(overrides or {}))
    return config, source


def config_overrides(args):
    return {k: v for k, v in (("precision", args.precision), ("batch_size", args.batch_size))
            if v is not None}


def worker_main(job):
    """A worker process: build and warm up ``job``'s variants, report, then run timed windows
    as the parent asks (one JSON line in, one out), until stdin closes."""
    if job["process"] == TF_DEFAULTS_ENV:
        import tensorflow  # noqa: F401  (before gantool: TensorFlow keeps its own defaults)
    else:
        import gantool  # noqa: F401  (before TensorFlow: gantool's settings apply)
    import tensorflow as tf

    def reply(message):
        print("@@" + json.dumps(message), flush=True)

    with tf.device(job["device"]):
        config, source = load_case(job["recipe"], job["dataset"], job["overrides"])
        runners, warm = {}, {}
        for label, spec in job["variants"]:
            runners[label] = make_runner(spec, config, source)
            warm[label] = [*warm_up(runners[label]), runners[label].spe]
        reply({"warm": warm, "onednn": onednn_enabled()})
        for line in sys.stdin:
            label, steps = json.loads(line)
            seconds, _ = common.timed(runners[label].run, steps)
            reply({"seconds": seconds})


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, process_name, job):
        self.log = tempfile.TemporaryFile(mode="w+")
        command = [sys.executable, __file__, "--worker", json.dumps(
            {**job, "process": process_name})]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, env=common.GIVEN_ENVIRONMENT)

    def receive(self):
        for line in self.process.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        self.log.seek(0)
        raise RuntimeError("benchmark worker failed:\n" + self.log.read()[-3000:])

    def run(self, label, steps):
        self.process.stdin.write(json.dumps([label, steps]) + "\n")
        self.process.stdin.flush()
        return self.receive()["seconds"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.log.close()


# --- measuring --------------------------------------------------------------------------------


def window_steps(args, step_seconds, multiple):
    """Steps per timed window: --steps, or about --seconds of steps, a multiple of ``multiple``."""
    wanted = args.steps or args.seconds / step_seconds
    return max(multiple, math.ceil(wanted / multiple) * multiple)


def start_workers(args, recipe, dataset, variants):
    """Start one worker per process kind and wait for their warm-ups.

    Returns (label -> worker, label -> first-call seconds, label -> steps per window,
    process -> oneDNN on?)."""
    workers, owner, first_call, steps, onednn = {}, {}, {}, {}, {}
    for process_name in dict.fromkeys(process for _, process, _ in variants):
        job = {"device": args.device, "recipe": recipe, "dataset": dataset,
               "overrides": config_overrides(args),
               "variants": [[label, spec] for label, process, spec in variants
                            if process == process_name]}
        workers[process_name] = Worker(process_name, job)
    for process_name, worker in workers.items():
        ready = worker.receive()
        onednn[process_name] = ready["onednn"]
        for label, (first, step_seconds, spe) in ready["warm"].items():
            owner[label] = worker
            first_call[label] = first
            steps[label] = window_steps(args, step_seconds, spe)
    return workers, owner, first_call, steps, onednn


def time_rounds(owner, labels, steps, batch_size, repeats):
    """Images/s of each variant per round; each round runs every variant once, in an order
    rotated by one each round (so no variant always follows the same one)."""
    rates = {label: [] for label in labels}
    for r in range(repeats):
        for label in labels[r % len(labels):] + labels[: r % len(labels)]:
            seconds = owner[label].run(label, steps[label])
            rates[label].append(steps[label] * batch_size / seconds)
    return rates


def case_rows(rates, processes, first_call, flops, batch_size, peak, onednn):
    """Table rows: median images/s, spread, per-round ratio to the baseline, FLOP/s."""
    baseline = rates[BASELINE]
    rows = []
    for label, values in rates.items():
        ratios = [a / b for a, b in zip(values, baseline, strict=True)]
        achieved = flops * common.median(values) / batch_size
        on = onednn[processes[label]]
        rows.append([label, {True: "on", False: "off", None: "?"}[on],
                     common.fmt(common.median(values)), common.spread(values),
                     common.fmt(common.median(ratios), 2), common.fmt(achieved / 1e9),
                     f"{100 * achieved / peak:.1f}%", common.fmt(first_call[label], 2)])
    return rows


def measure_case(args, name, recipe, data, scratch, peak):
    """Start the workers of one case, time every variant, print its table.

    Returns (case name, variant -> median images/s, fastest gantool variant).
    """
    import keras

    from gantool.models import build_models

    spec, data_note = case_dataset_spec(data, scratch)
    config, _ = load_case(recipe, spec, config_overrides(args))
    variants = make_variants(config, args.spe, args.grid)
    processes = {label: process for label, process, _ in variants}
    workers, owner, first_call, steps, onednn = start_workers(args, recipe, spec, variants)
    try:
        rates = time_rounds(owner, list(processes), steps, config.batch_size, args.repeats)
    finally:
        for worker in workers.values():
            worker.close()

    keras.backend.clear_session()
    generator, discriminator = build_models(config)
    flops = common.step_flops(generator, discriminator, config.batch_size)
    medians = {label: common.median(values) for label, values in rates.items()}
    best = max((label for label in medians if label.startswith("gantool jit")), key=medians.get)
    window = "-".join(str(n) for n in sorted({min(steps.values()), max(steps.values())}))
    print(f"## {name}: recipe examples/{recipe}.toml, batch {config.batch_size}, "
          f"precision {config.precision}")
    print()
    print(f"data: {data_note}; {window} steps per window, {args.repeats} rounds; "
          f"G {common.fmt(common.model_macs(generator) / 1e6)} M and "
          f"D {common.fmt(common.model_macs(discriminator) / 1e6)} M multiply-adds per example "
          f"-> {common.fmt(flops / 1e9)} GFLOP per step")
    print()
    common.print_table(["variant", "oneDNN", "images/s (median)", "spread", "x baseline",
                        "GFLOP/s", "% of matmul peak", "first call s"],
                       case_rows(rates, processes, first_call, flops, config.batch_size, peak,
                                 onednn))
    print(f"fastest gantool variant: {best}")
    print(flush=True)
    return name, medians, best


def print_summary(results):
    """One row per case: gantool's default against the baseline (as people run it, and with
    gantool's TensorFlow settings) and the fastest gantool variant."""
    rows = []
    for name, medians, best in results:
        default = next(label for label in medians if label.endswith("(default)"))
        baseline = medians[BASELINE]
        rows.append([name, common.fmt(medians[default]), common.fmt(baseline),
                     common.fmt(medians[default] / baseline, 2),
                     common.fmt(medians[default] / medians["baseline, gantool's TF settings"], 2),
                     best, common.fmt(medians[best] / baseline, 2)])
    common.print_table(["case", "gantool default img/s", "baseline img/s", "default / baseline",
                        "default / baseline with gantool's TF settings",
                        "fastest gantool variant", "fastest / baseline"],
                       rows, title="Summary (medians; the per-case tables give per-round ratios)")


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    common.print_header("gantool training throughput (images/s per training step)", args.device)
    import gantool  # noqa: F401, I001  (first: the peak is measured with gantool's settings)
    import tensorflow as tf

    start = time.perf_counter()
    scratch = common.scratch_dir("throughput")
    with tf.device(args.device):
        peak, size = common.matmul_peak(args.device)
        print(f"matmul peak: {common.fmt(peak / 1e9)} GFLOP/s (float32 {size}x{size}, best of 10 "
              f"calls, oneDNN {'on' if onednn_enabled() else 'off'})")
        print(flush=True)
    results = [measure_case(args, name, recipe, data, scratch, peak)
               for name, recipe, data, *_ in selected_cases(args)]
    print_summary(results)
    print(f"total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
