"""Helpers shared by the benchmark scripts: the header, timing, tables, data and model builders.

Every script in this folder prints a header (command line, machine, versions, date) followed by
markdown tables, so that its output can be pasted into an issue as it is. ``make bench`` runs
every ``benchmarks/*.py`` with no arguments, this module included: run directly it only prints
the machine header.

The machine these benchmarks were written on is shared and noisy. The scripts therefore
interleave the variants they compare (round-robin repeats) and report medians and ratios
measured in the same run; absolute numbers from different runs are not comparable.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import datetime  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SHARED = Path(os.environ.get("GANTOOL_SHARED", REPO.parent / "shared"))
SHARED_MNIST = SHARED / "data" / "mnist.npz"


# The environment before anything imports gantool (``import gantool`` adds TensorFlow settings,
# such as TF_ENABLE_ONEDNN_OPTS=1 on x86): child processes that should run with TensorFlow's own
# defaults get this one.
GIVEN_ENVIRONMENT = dict(os.environ)

# Environment variables that change TensorFlow's speed, echoed in the header when set.
ENV_SETTINGS = ("TF_ENABLE_ONEDNN_OPTS", "TF_XLA_FLAGS", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")


# --- header -----------------------------------------------------------------------------------


def cpu_model():
    """The CPU model name from /proc/cpuinfo (or platform.processor()), e.g. 'AMD EPYC 7B13'."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores():
    """CPU cores this process may run on (its affinity mask), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def memory_gib():
    """Total physical memory in GiB, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def package_version(name):
    """The installed version of distribution ``name`` (without importing it), or 'absent'."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def versions():
    """'python X, tensorflow Y, keras Z, gantool W', read from the installed metadata."""
    names = ("tensorflow", "keras", "gantool")
    return ", ".join([f"python {platform.python_version()}",
                      *(f"{name} {package_version(name)}" for name in names)])


def print_header(title, device=None):
    """Print the benchmark title, command line, machine, versions, load and date."""
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    mem = memory_gib()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"# {title}")
    print()
    print(f"- command: `{command}`")
    print(f"- machine: {usable_cores()} cores ({cpu_model()})"
          + (f", {mem:.0f} GiB RAM" if mem else "") + f", {platform.system()} {platform.release()}")
    print(f"- versions: {versions()}")
    if device:
        print(f"- device: {device}")
    settings = [f"{k}={os.environ[k]}" for k in ENV_SETTINGS if k in os.environ]
    if settings:
        print(f"- environment: {', '.join(settings)}")
    print(f"- load average at start (1, 5, 15 min): {load}")
    print(f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(flush=True)


# --- tables and numbers -----------------------------------------------------------------------


def print_table(headers, rows, title=None):
    """Print ``rows`` (lists of values, str()-ed) under ``headers`` as an aligned markdown table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if title:
        print(f"## {title}")
        print()

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    print(flush=True)


def fmt(value, digits=3):
    """A number with ``digits`` significant digits (thousands grouped), or '-' for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values):
    """'min-max' of ``values`` relative to their median, as a +-percent string (noise indicator)."""
    if len(values) < 2:
        return "-"
    mid = median(values)
    return f"±{100 * (max(values) - min(values)) / 2 / mid:.0f}%"


def timed(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)``; return ``(seconds, result)``."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def verdict(value, target, higher_is_better=False):
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "FAIL"


# --- data -------------------------------------------------------------------------------------


def random_mnist_npz(directory, n=10_000, seed=0):
    """Write ``n`` random 28x28 uint8 'digits' under ``x_train`` in DIRECTORY/mnist_random.npz."""
    path = Path(directory) / "mnist_random.npz"
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
    return path


def mnist_spec(scratch_dir):
    """``(spec, note)``: the shared real MNIST as ``npz:PATH``, else a random stand-in written to
    ``scratch_dir`` (note says which)."""
    if SHARED_MNIST.is_file():
        return f"npz:{SHARED_MNIST}", f"real MNIST ({SHARED_MNIST})"
    path = random_mnist_npz(scratch_dir)
    return f"npz:{path}", f"random 28x28 stand-in ({SHARED_MNIST} is absent)"


def scratch_dir(prefix):
    """A temporary directory removed at interpreter exit."""
    holder = tempfile.TemporaryDirectory(prefix=f"gantool-bench-{prefix}-")
    _SCRATCH.append(holder)
    return Path(holder.name)


_SCRATCH = []


# --- gantool models ---------------------------------------------------------------------------


def recipe_config(recipe, **overrides):
    """A gantool TrainConfig from ``examples/RECIPE.toml`` with ``overrides`` applied."""
    from gantool.config import TrainConfig, read_toml

    values = read_toml(EXAMPLES / f"{recipe}.toml")
    values.update(overrides)
    return TrainConfig.from_dict(values, source=recipe)


def build_gantool_gan(config, jit=None, steps_per_execution=1):
    """The GAN exactly as ``gantool train`` builds it (``gantool.training.build_gan``), with
    ``jit`` (default: the config's) and ``steps_per_execution``."""
    import tensorflow as tf

    from gantool.training import build_gan

    if jit is not None:
        config = config.replace(jit=jit)
    return build_gan(config, tf.distribute.get_strategy(),
                      steps_per_execution=steps_per_execution)


def layer_macs(layer):
    """Multiply-adds per example of one Dense/Conv2D/Conv2DTranspose layer (0 for others)."""
    import keras

    if isinstance(layer, keras.layers.Dense):
        return int(layer.input.shape[-1]) * layer.units
    if isinstance(layer, keras.layers.Conv2DTranspose):  # before Conv2D: it is a subclass
        _, h_in, w_in, c_in = layer.input.shape
        kh, kw = layer.kernel_size
        return h_in * w_in * kh * kw * c_in * layer.filters
    if isinstance(layer, keras.layers.Conv2D):
        _, h_out, w_out, _ = layer.output.shape
        kh, kw = layer.kernel_size
        return h_out * w_out * kh * kw * int(layer.input.shape[-1]) * layer.filters
    return 0


def model_macs(model):
    """Multiply-adds per example of one forward pass of a functional keras model."""
    return sum(layer_macs(layer) for layer in model.layers)


def step_flops(generator, discriminator, batch_size):
    """FLOPs of one GAN training step, counted analytically.

    G runs forward once and D forward on the real and the fake batch; backward costs about twice
    the forward, so a step is ~3x the forward passes: 3 * batch * (G + 2 D) multiply-adds, at 2
    FLOPs per multiply-add.
    """
    macs = 3 * batch_size * (model_macs(generator) + 2 * model_macs(discriminator))
    return 2 * macs


def matmul_peak(device="/CPU:0", size=None, repeats=10):
    """Best FLOP/s of a float32 ``size x size`` matmul on ``device`` (size 2048 on CPU, 8192 on
    accelerators) over ``repeats`` calls after one warm-up call. The best, not the median: on a
    shared machine a slow call measures the neighbours, and a peak is the fastest the hardware
    went."""
    import tensorflow as tf

    if size is None:
        size = 2048 if "CPU" in device.upper() else 8192
    with tf.device(device):
        a = tf.random.normal((size, size))
        b = tf.random.normal((size, size))
        matmul = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
        matmul(a, b).numpy()
        seconds = [timed(lambda: matmul(a, b).numpy())[0] for _ in range(repeats)]
    return 2 * size**3 / min(seconds), size


if __name__ == "__main__":
    print_header("gantool benchmarks: machine")
