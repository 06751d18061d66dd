"""Where gantool's training time goes on this machine, measured by ablation and the TF profiler.

Sections (each prints a table):

1. DCGAN 28x28x1 step (batch 128) split by ablation: tf.functions running the generator
   forward, the full forward (G, D on real and fake, losses), forward + both gradients, and
   gantool's whole ``train_step``; the differences give D forward, backward and optimizer
   update. With XLA off and on, interleaved.
2. Op types of that step from the TensorFlow profiler (``tf.profiler.experimental``; the trace
   is read with the protobuf module TensorFlow ships): share of the executor threads' time.
3. Per-step overhead on a tiny model (the sine recipe, batch 32), where overhead dominates:
   the ``train_function`` that ``fit()`` calls, fed by gantool's pipeline or a constant batch;
   gantool's ``train_step`` in a plain ``tf.function``; ``fit()`` itself with and without
   gantool's per-step callbacks (RunLogger, with and without TensorBoard); the tutorial-style
   baseline of train_throughput.py.
4. Sampling (``gantool sample``'s generator pass): eager batches, gantool.sampling.generate,
   against a ``tf.function`` and an XLA-compiled one.
5. (``--threads``) a recipe's step (``--recipe``, the MNIST DCGAN by default) in fresh
   processes with other TensorFlow thread settings (inter/intra op parallelism), with oneDNN
   forced on (``TF_ENABLE_ONEDNN_OPTS=1``; TensorFlow leaves it off on AMD CPUs, ``import
   gantool`` turns it on for x86) and with
   XLA. Each setting runs in two processes, in alternating order.

Run ``python benchmarks/step_profile.py --help`` for the options.
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import time

import common

DCGAN_BATCH = 128


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--device", default="/CPU:0", help="TensorFlow device to run on")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per measurement")
    parser.add_argument("--steps", type=int, default=2,
                        help="DCGAN steps per timed window (sections 1 and 2)")
    parser.add_argument("--sections", default="1,2,3,4",
                        help="comma-separated sections to run (5 is the same as --threads)")
    parser.add_argument("--threads", action="store_true",
                        help="also run section 5 (fresh processes, about 2 minutes)")
    parser.add_argument("--recipe", default="mnist_dcgan",
                        help="section 5: the examples/ recipe whose step is timed")
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--child-step", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sections = {int(s) for s in args.sections.split(",") if s.strip()}
    if args.threads:
        args.sections.add(5)
    if args.quick:
        args.repeats = min(args.repeats, 3)
    return args


def rotations(names, repeats):
    """``repeats`` rounds over ``names``, each round's order rotated by one."""
    names = list(names)
    for r in range(repeats):
        yield names[r % len(names):] + names[: r % len(names)]


def interleaved(functions, repeats, calls):
    """Time each of ``functions`` (name -> callable running one unit) for ``calls`` calls per
    round, rounds interleaved in a rotating order; returns name -> list of seconds per call."""
    seconds = {name: [] for name in functions}
    for order in rotations(functions, repeats):
        for name in order:
            elapsed, _ = common.timed(lambda f=functions[name]: [f() for _ in range(calls)])
            seconds[name].append(elapsed / calls)
    return seconds


def interleaved_self_timed(functions, repeats):
    """Like :func:`interleaved` for callables that return their own seconds per step."""
    seconds = {name: [] for name in functions}
    for order in rotations(functions, repeats):
        for name in order:
            seconds[name].append(functions[name]())
    return seconds


def recipe_setup(scratch, recipe="mnist_dcgan"):
    """gantool's GAN config for ``examples/RECIPE.toml`` (MNIST from ../shared or a random
    stand-in for recipes on "mnist") and one real batch in model range: (config, source,
    batch, data note)."""
    import keras

    from gantool.data import load_dataset
    from gantool.data.pipeline import to_model_range

    keras.backend.clear_session()
    spec = common.recipe_config(recipe).dataset
    note = f"gantool dataset {spec!r}"
    if spec == "mnist":
        spec, note = common.mnist_spec(scratch)
    source = load_dataset(spec)
    config = common.recipe_config(recipe, dataset=spec, data_shape=list(source.shape),
                                  data_kind=source.kind)
    batch = next(iter(source.dataset.batch(config.batch_size)))
    return config, source, to_model_range(batch, source.kind), note


# --- 1. ablation ------------------------------------------------------------------------------


def ablation_functions(gan, real, jit):
    """tf.functions for the nested parts of a GAN step (each returns a scalar)."""
    import tensorflow as tf

    generator, discriminator = gan.generator, gan.discriminator
    batch = int(real.shape[0])

    def latents():
        return tf.random.normal((batch, gan.latent_dim))

    def losses(real_logits, fake_logits):
        bce = tf.nn.sigmoid_cross_entropy_with_logits
        d_loss = tf.reduce_mean(bce(tf.ones_like(real_logits), real_logits)
                                + bce(tf.zeros_like(fake_logits), fake_logits))
        g_loss = tf.reduce_mean(bce(tf.ones_like(fake_logits), fake_logits))
        return d_loss, g_loss

    def forward_pass():
        fake = generator(latents(), training=True)
        return losses(discriminator(real, training=True), discriminator(fake, training=True))

    def g_forward():
        return tf.reduce_sum(generator(latents(), training=True))

    def forward():
        d_loss, g_loss = forward_pass()
        return d_loss + g_loss

    def gradients():
        with tf.GradientTape(persistent=True) as tape:
            d_loss, g_loss = forward_pass()
        grads = (tape.gradient(d_loss, discriminator.trainable_variables)
                 + tape.gradient(g_loss, generator.trainable_variables))
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    def full_step():
        return gan.train_step(real)["d_loss"]

    parts = {"G forward": g_forward, "forward (G, D real, D fake, losses)": forward,
             "forward + gradients": gradients, "full train_step (+ Adam updates, logs)": full_step}
    return {name: tf.function(fn, jit_compile=jit) for name, fn in parts.items()}


def section_ablation(args, scratch):
    config, _, real, note = recipe_setup(scratch)
    functions = {}
    for jit in ("off", "on"):
        gan = common.build_gantool_gan(config, jit=jit == "on")
        for name, fn in ablation_functions(gan, real, jit == "on").items():
            float(fn())  # trace and compile
            functions[(jit, name)] = lambda fn=fn: float(fn())
    seconds = interleaved(functions, args.repeats, args.steps)
    parts = {}
    for jit in ("off", "on"):
        g_fwd, fwd, grads, full = (common.median(s) for (j, _), s in seconds.items() if j == jit)
        parts[jit] = {"G forward": g_fwd, "D forward (real + fake) + losses": fwd - g_fwd,
                      "backward (both gradients)": grads - fwd,
                      "Adam updates + logs": full - grads, "whole step": full}
    rows = []
    for part, off in parts["off"].items():
        on = parts["on"][part]
        rows.append([part, common.fmt(1e3 * off),
                     f"{100 * off / parts['off']['whole step']:.0f}%", common.fmt(1e3 * on),
                     f"{100 * on / parts['on']['whole step']:.0f}%",
                     common.fmt(off / on, 2) if on > 0 else "-"])
    common.print_table(["part", "XLA off ms", "share", "XLA on ms", "share", "off / on"], rows,
                       title=f"1. DCGAN 28x28x1 step by ablation (batch {config.batch_size}; "
                             f"{note}; median of {args.repeats} interleaved rounds)")
    print("Parts are differences of nested tf.functions, so noise can make a small one "
          "negative.")
    print(flush=True)


# --- 2. profiler ------------------------------------------------------------------------------


def op_times(logdir, steps):
    """Op type -> seconds per step summed over the executor threads, from the profiler trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True),
                   key=os.path.getmtime)
    space = xplane_pb2.XSpace()
    with open(paths[-1], "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith(("tf_Compute", "tf_numa", "tf_XLA")):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if "::" in name or name in ("Process", "ParallelFor", "Start", "Execute"):
                    continue  # executor and thread-pool wrappers around the ops
                totals[name.split(":")[-1]] += event.duration_ps / 1e12 / steps
    return totals


def section_profiler(args, scratch):
    import tensorflow as tf

    config, source, real, note = recipe_setup(scratch)
    gan = common.build_gantool_gan(config)
    step = tf.function(gan.train_step)
    for _ in range(2):
        float(step(real)["d_loss"])
    logdir = str(scratch / "profile")
    steps = max(3, args.steps)
    tf.profiler.experimental.start(logdir)
    wall, _ = common.timed(lambda: [float(step(real)["d_loss"]) for _ in range(steps)])
    tf.profiler.experimental.stop()
    try:
        totals = op_times(logdir, steps)
    except (ImportError, IndexError, OSError) as e:
        print(f"## 2. op profile skipped: cannot read the profiler trace ({e})")
        print()
        return
    total = sum(totals.values())
    rows = [[op, common.fmt(1e3 * s), f"{100 * s / total:.1f}%"]
            for op, s in totals.most_common(12)]
    rows.append(["(all ops)", common.fmt(1e3 * total), "100%"])
    common.print_table(["op type", "thread-ms per step", "share"], rows,
                       title=f"2. Op types of the DCGAN step, XLA off (TF profiler, {steps} "
                             f"steps, {common.fmt(1e3 * wall / steps)} ms wall per step)")
    print("Thread-ms add up the time of every executor thread, so they can exceed the wall "
          "time. Conv2DBackpropInput is both the transposed convolutions' forward pass in G and "
          "the convolutions' input gradient in D.")
    print(flush=True)


# --- 3. per-step overhead ---------------------------------------------------------------------


def batch_end_recorder():
    """A Keras callback appending the time of every batch end to the returned list."""
    import keras

    times = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
    return callback, times


def fit_runner(gan, dataset, steps, callbacks_factory):
    """A callable running ``fit()`` for ``steps`` steps, timing from the first batch end to the
    last (so neither fit's set-up nor epoch-end work counts); returns seconds per step."""

    def run():
        recorder, times = batch_end_recorder()
        gan.fit(dataset, epochs=1, steps_per_epoch=steps + 1, verbose=0, shuffle=False,
                callbacks=[*callbacks_factory(), recorder])
        return (times[-1] - times[0]) / steps

    return run


def gantool_callbacks(run_dir, steps, writer=None):
    """gantool's per-step loggers as ``gantool train --quiet`` sets them up (no progress bar):
    the CSV logs and, with ``writer``, the TensorBoard scalars.

    ``writer``: a TensorBoard SummaryWriter made once, as a training run does (a new event
    file's first writes cost ~0.1 s, which would otherwise count against these few steps)."""
    from gantool.training import TrainingState
    from gantool.training.callbacks import RunLog, TensorBoardScalars

    state = TrainingState(steps_per_epoch=steps + 1, epochs=1)
    return [RunLog(run_dir, state)] + ([TensorBoardScalars(writer, state)] if writer else [])


def section_overhead(args, scratch):
    import keras
    import tensorflow as tf
    from train_throughput import BaselineRunner, GantoolRunner

    from gantool.data import load_dataset
    from gantool.data.pipeline import steps_per_epoch, to_model_range, training_dataset

    keras.backend.clear_session()
    source = load_dataset("sine")
    config = common.recipe_config("sine", dataset="sine", data_shape=list(source.shape),
                                  data_kind=source.kind)
    batch = to_model_range(next(iter(source.dataset.batch(config.batch_size))), source.kind)
    constant = iter(tf.data.Dataset.from_tensors(batch).repeat())
    calls = 100

    runner = GantoolRunner(config, source, config.jit, 1)
    gan = runner.gan
    plain_step = tf.function(gan.train_step)
    keras.backend.clear_session()
    baseline = BaselineRunner(config, source)
    full = steps_per_epoch(source, config.batch_size)
    fit_data = training_dataset(source, config.batch_size, config.seed, 0, 10**6, full)
    run_dir = scratch / "sine_run"
    run_dir.mkdir()
    from gantool.training.callbacks import SummaryWriter

    writer = SummaryWriter(run_dir / "tensorboard")
    units = {
        "train_function, gantool pipeline (what fit() runs)": lambda: runner.run(1),
        "train_function, constant batch": lambda: float(gan.train_function(constant)["d_loss"]),
        "train_step in a plain tf.function, constant batch":
            lambda: float(plain_step(batch)["d_loss"]),
        "baseline (tutorial style), constant batch": lambda: float(baseline.train_step(batch)),
    }
    for unit in units.values():
        unit(), unit()
    per_call = interleaved(units, args.repeats, calls)
    fits = {"fit(), no callbacks": fit_runner(gan, fit_data, calls, list),
            "fit() + gantool RunLogger, --no-tensorboard":
                fit_runner(gan, fit_data, calls, lambda: gantool_callbacks(run_dir, calls)),
            "fit() + gantool RunLogger + TensorBoard (10-step means)":
                fit_runner(gan, fit_data, calls,
                           lambda: gantool_callbacks(run_dir, calls, writer))}
    for fit in fits.values():
        fit()
    per_call.update(interleaved_self_timed(fits, args.repeats))
    reference = common.median(per_call["train_function, gantool pipeline (what fit() runs)"])
    rows = [[name, common.fmt(1e3 * common.median(s)), common.spread(s),
             common.fmt(config.batch_size / common.median(s)),
             common.fmt(common.median(s) / reference, 2)] for name, s in per_call.items()]
    common.print_table(["variant", "ms per step", "spread", "points/s", "x train_function"],
                       rows, title=f"3. Per-step overhead: sine recipe, batch "
                                   f"{config.batch_size} (XLA {'on' if config.jit else 'off'})")


# --- 4. sampling ------------------------------------------------------------------------------


def section_sampling(args, scratch, n=2000, batch_size=500):
    import tensorflow as tf

    from gantool.sampling import draw_latents, generate

    config, _, _, _ = recipe_setup(scratch)
    gan = common.build_gantool_gan(config)
    generator = gan.generator
    latents = draw_latents(n, config.latent_dim, config.latent_dist, 0)

    def batched(fn, size):
        return lambda: [fn(latents[i:i + size]).numpy() for i in range(0, n, size)]

    plain = tf.function(lambda z: generator(z, training=False))
    xla = tf.function(lambda z: generator(z, training=False), jit_compile=True)
    eager = lambda z: generator(z, training=False)  # noqa: E731
    units = {
        f"eager, batches of {batch_size}": batched(eager, batch_size),
        f"gantool.sampling.generate (traced once), batches of {batch_size}":
            lambda: generate(generator, latents, batch_size=batch_size),
        f"tf.function, batches of {batch_size}": batched(plain, batch_size),
        f"tf.function + XLA, batches of {batch_size}": batched(xla, batch_size),
        f"tf.function, one batch of {n}": batched(plain, n),
    }
    first = {}
    for name, unit in units.items():
        first[name], _ = common.timed(unit)
    seconds = interleaved(units, args.repeats, 1)
    reference = common.median(next(iter(seconds.values())))
    rows = [[name, common.fmt(n / common.median(s)), common.spread(s),
             common.fmt(10_000 * common.median(s) / n, 2), common.fmt(first[name], 2),
             common.fmt(reference / common.median(s), 2)] for name, s in seconds.items()]
    common.print_table(["generator pass", "images/s", "spread", "s per 10k (est.)",
                        "first call s", "x eager"], rows,
                       title=f"4. Sampling: DCGAN 28x28x1 generator, {n} images")


# --- 5. threads -------------------------------------------------------------------------------

THREAD_SETTINGS = [
    ("TF defaults", {}, {}),
    ("intra 2, inter 1", {"intra": 2, "inter": 1}, {}),
    ("intra 1, inter 2", {"intra": 1, "inter": 2}, {}),
    ("intra 1, inter 1", {"intra": 1, "inter": 1}, {}),
    ("oneDNN on (TF_ENABLE_ONEDNN_OPTS=1: gantool's setting)", {}, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    ("oneDNN on, intra 1, inter 1", {"intra": 1, "inter": 1}, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    ("XLA (jit_compile=True)", {"jit": True}, {}),
    ("XLA, oneDNN on", {"jit": True}, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
]


def child_step(settings_json):
    """Child process mode: set the thread counts, time a recipe's step, print JSON rates."""
    import tensorflow as tf

    settings = json.loads(settings_json)
    if "intra" in settings:
        tf.config.threading.set_intra_op_parallelism_threads(settings["intra"])
    if "inter" in settings:
        tf.config.threading.set_inter_op_parallelism_threads(settings["inter"])
    scratch = common.scratch_dir("child")
    config, _, real, _ = recipe_setup(scratch, settings["recipe"])
    gan = common.build_gantool_gan(config)
    step = tf.function(gan.train_step, jit_compile=settings.get("jit", False))
    float(step(real)["d_loss"])
    seconds, _ = common.timed(lambda: float(step(real)["d_loss"]))
    steps = max(1, round(settings["seconds"] / seconds))
    rates = []
    for _ in range(settings["repeats"]):
        seconds, _ = common.timed(lambda: [float(step(real)["d_loss"]) for _ in range(steps)])
        rates.append(steps * config.batch_size / seconds)
    print(json.dumps({"rates": rates}))


def section_threads(args):
    rates = {label: [] for label, _, _ in THREAD_SETTINGS}
    rounds = 2
    for r in range(rounds):
        order = THREAD_SETTINGS if r % 2 == 0 else THREAD_SETTINGS[::-1]
        for label, settings, env in order:
            payload = json.dumps({**settings, "recipe": args.recipe, "seconds": 0.5,
                                  "repeats": max(2, args.repeats // 2)})
            result = subprocess.run([sys.executable, __file__, "--child-step", payload],
                                    capture_output=True, text=True,
                                    env={**common.GIVEN_ENVIRONMENT, **env},
                                    check=True)
            rates[label] += json.loads(result.stdout.strip().splitlines()[-1])["rates"]
    reference = common.median(rates[THREAD_SETTINGS[0][0]])
    rows = [[label, common.fmt(common.median(r)), common.spread(r),
             common.fmt(common.median(r) / reference, 2)] for label, r in rates.items()]
    common.print_table(["setting", "examples/s", "spread", "x defaults"], rows,
                       title=f"5. examples/{args.recipe}.toml step under TensorFlow thread "
                             f"settings, oneDNN and XLA ({rounds} fresh processes each, "
                             f"alternating order)")


def main(argv=None):
    args = parse_args(argv)
    if args.child_step:
        child_step(args.child_step)
        return
    common.print_header("gantool training step profile", args.device)
    import gantool  # noqa: F401, I001  (first: sections 1-4 run with gantool's TF settings)
    import tensorflow as tf

    start = time.perf_counter()
    scratch = common.scratch_dir("profile")
    sections = {1: lambda: section_ablation(args, scratch),
                2: lambda: section_profiler(args, scratch),
                3: lambda: section_overhead(args, scratch),
                4: lambda: section_sampling(args, scratch)}
    with tf.device(args.device):
        for number, section in sections.items():
            if number in args.sections:
                section()
    if 5 in args.sections:
        section_threads(args)
    print(f"total time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
