"""``train(config)``: build everything under a ``tf.distribute`` strategy and run ``fit()``."""

import contextlib
import math
import re
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gantool import config as config_lib
from gantool.config import TrainConfig
from gantool.errors import GantoolError, UsageError

DRY_RUN_STEPS = 2
DRY_RUN_EPOCHS = 2
POINT_SAMPLES = 1000
REAL_POINTS = 2000


class Interrupted(GantoolError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint (exit code 128 + signal)."""

    def __init__(self, message, signal_name="SIGINT"):
        super().__init__(message)
        self.exit_code = 128 + signal.Signals[signal_name].value


@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    steps_done: int
    history: list


def default_run_dir(config):
    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.dataset.split(":")[-1].rstrip("/"))
    dataset = Path(dataset).stem or "data"
    return Path("runs") / f"{config.arch}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(config, resume=False, force=False, explicit=None, create=True):
    """Create or reopen the run directory; returns ``(config, run_dir)``.

    A new run needs an empty or missing directory unless ``force``. With ``resume`` the saved
    config is used, updated with the explicitly given settings in
    :data:`~gantool.config.RESUMABLE_SETTINGS`; other explicit settings must match it.
    ``create=False`` (non-chief workers) checks and reads but writes nothing.
    """
    run_dir = Path(config.out) if config.out else default_run_dir(config)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} exists and is not a directory")
    if resume:
        saved = TrainConfig.load(run_dir)
        explicit = set(explicit if explicit is not None else _changed_settings(config))
        clashes = [k for k in sorted(explicit - set(config_lib.RESUMABLE_SETTINGS))
                   if getattr(config, k) != getattr(saved, k)
                   and k not in ("data_shape", "data_kind", "version")]
        if clashes:
            k = clashes[0]
            raise UsageError(f"--{k.replace('_', '-')} {getattr(config, k)!r} differs from the "
                             f"run's {getattr(saved, k)!r}; a resumed run keeps its models and "
                             "data "
                             f"(only {', '.join(config_lib.RESUMABLE_SETTINGS)} may change)")
        updates = {k: getattr(config, k) for k in explicit & set(config_lib.RESUMABLE_SETTINGS)}
        updates["out"] = str(run_dir)
        return saved.replace(**updates), run_dir
    if not create:
        return config.replace(out=str(run_dir)), run_dir
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not force:
            raise UsageError(f"run directory {run_dir} already exists and is not empty; pass "
                             "--resume to continue it or --force to start it again")
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to --out {run_dir}: {e.strerror or e}") from None
    return config.replace(out=str(run_dir)), run_dir


def _changed_settings(config):
    defaults = TrainConfig()
    return {k for k, v in config.to_dict().items() if getattr(defaults, k) != v}


def train(config, *, resume=False, force=False, explicit=None, progress=True):
    """Train a GAN as described by ``config`` (a :class:`TrainConfig`); returns a TrainResult.

    ``explicit`` names the settings the user gave (used to merge with a resumed run's config).
    Writes the run directory described in the README; under multi-worker training only the
    chief writes there (other workers use a temporary directory, deleted at the end).
    Raises GantoolError/UsageError on failure, Interrupted on SIGINT/SIGTERM.
    """
    config_lib.validate(config)
    from gantool.distribute import is_chief, make_strategy

    chief = is_chief()
    config, run_dir = prepare_run_dir(config, resume=resume, force=force, explicit=explicit,
                                      create=chief)
    strategy = make_strategy(config.strategy, config.cpu_devices, config.tpu)
    out_dir = run_dir if chief else Path(tempfile.mkdtemp(prefix="gantool-worker-"))
    try:
        return _train(config, run_dir, out_dir, strategy, resume, progress and chief)
    finally:
        if not chief:
            shutil.rmtree(out_dir, ignore_errors=True)


@contextlib.contextmanager
def stop_requests(state):
    """While active, SIGINT/SIGTERM set ``state.interrupted`` (a second SIGINT aborts at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum, frame):
        if state.interrupted and signum == signal.SIGINT:
            raise KeyboardInterrupt
        state.interrupted = signal.Signals(signum).name

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _set_precision(precision):
    import keras

    keras.mixed_precision.set_global_policy(precision)


def execution_steps(wanted, steps_per_epoch, done_in_epoch=0):
    """The largest steps_per_execution <= ``wanted`` that divides both the steps per epoch and
    the steps left in a resumed epoch: an execution must not run into the next epoch (the data
    of all epochs is one stream, so Keras would take the next epoch's batches)."""
    common = math.gcd(steps_per_epoch, steps_per_epoch - done_in_epoch)
    return max(k for k in range(1, min(wanted, common) + 1) if common % k == 0)


def _build_gan(config, strategy, total_steps=None, steps_per_execution=1):
    import keras

    from gantool.gan import GAN
    from gantool.models import build_models

    _set_precision(config.precision)
    with strategy.scope():
        keras.utils.set_random_seed(config.seed)
        try:
            generator, discriminator = build_models(config)
        except ValueError as e:
            raise UsageError(f"--arch {config.arch}: {e}") from None
        gan = GAN(generator, discriminator, latent_dim=config.latent_dim,
                  latent_dist=config.latent_dist, loss=config.loss,
                  label_smoothing=config.label_smoothing, seed=config.seed,
                  d_steps=config.d_steps, g_steps=config.g_steps, gp_weight=config.gp_weight,
                  r1_gamma=config.r1, instance_noise=config.instance_noise,
                  total_steps=total_steps, pack=config.pack, conditional=config.conditional)

        def adam(lr, ema=None):
            # --ema: Keras's optimizer keeps the moving average of the generator's weights
            # (saved with the optimizer in checkpoints; see sampling.load_generator).
            optimizer = keras.optimizers.Adam(lr, beta_1=config.beta1, beta_2=config.beta2,
                                              use_ema=ema is not None,
                                              ema_momentum=ema if ema is not None else 0.99)
            if config.precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            return optimizer

        gan.compile(d_optimizer=adam(config.d_learning_rate),
                    g_optimizer=adam(config.g_learning_rate, config.ema), jit_compile=config.jit,
                    steps_per_execution=steps_per_execution)
        gan.build_optimizers()
    return gan


def _fixed_sampler(gan, config, n):
    """The function the sample grids are drawn with, and the grid's column count.

    Conditional runs get one row per class; ``--ema`` runs are sampled with the moving-average
    weights, copied into a separate generator so training is untouched.
    """
    import keras

    from gantool.sampling import class_rows, copy_ema_weights, generate

    labels, columns = class_rows(n, config.num_classes) if config.conditional else (None, None)
    ema_generator = keras.models.clone_model(gan.generator) if config.ema else None

    def sample(latents):
        generator = gan.generator
        if ema_generator is not None:
            generator = copy_ema_weights(generator, gan.g_optimizer, ema_generator)
        return generate(generator, latents, labels)

    return sample, columns


def _scalar_logs_under_multi_worker(gan, strategy):
    """Work around Keras 3 (checked 3.15) ``fit()`` under a multi-worker
    ``MultiWorkerMirroredStrategy``: it reduces the step's logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on scalars ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388). Logs of shape (1,)
    reduce to the same scalars. Same condition as Keras's own (``_in_multi_worker_mode``)."""
    import tensorflow as tf

    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()):
        return
    step = gan.train_step
    gan.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in step(data).items()}


def _train(config, run_dir, out_dir, strategy, resume, progress):
    import tensorflow as tf

    from gantool import callbacks as cb
    from gantool.checkpoints import CHECKPOINT_DIR, RunCheckpoint
    from gantool.data import load_dataset
    from gantool.data.pipeline import steps_per_epoch, training_dataset
    from gantool.sampling import draw_latents

    max_examples = config.max_examples
    if config.dry_run:
        max_examples = min(max_examples or 10**12, config.batch_size * DRY_RUN_STEPS)
    source = load_dataset(config.dataset, data_dir=config.data_dir, image_size=config.image_size,
                          channels=config.channels, max_examples=max_examples, seed=config.seed)
    if resume and list(config.data_shape) != list(source.shape):
        raise UsageError(f"dataset {config.dataset} now gives shape {tuple(source.shape)}, the run "
                         f"was trained on {tuple(config.data_shape)}")
    if config.conditional and source.labels is None:
        raise UsageError(f"--conditional needs class labels, and dataset {config.dataset} has "
                         "none (tfds datasets with labels, folder: with one sub-folder per "
                         "class, or npz: with y_train)")
    config = config.replace(data_shape=list(source.shape), data_kind=source.kind,
                            num_classes=source.num_classes if config.conditional else None)
    batch_size = config.batch_size * config.d_steps  # one real chunk per D step
    if config.dry_run:  # a smoke test should also run on a handful of examples
        batch_size = min(batch_size, source.num_examples)
    steps = steps_per_epoch(source, batch_size, config.steps_per_epoch)
    epochs = config.epochs
    if config.dry_run:
        steps, epochs = min(steps, DRY_RUN_STEPS), min(epochs, DRY_RUN_EPOCHS)

    start_step = 0
    source_ckpt = None
    if resume:
        source_ckpt = tf.train.latest_checkpoint(str(run_dir / CHECKPOINT_DIR))
        start_step = RunCheckpoint.step_of(source_ckpt)
    per_execution = execution_steps(config.steps_per_execution, steps, start_step % steps)
    if per_execution != config.steps_per_execution and progress and not config.dry_run:
        print(f"steps per execution: {per_execution} instead of {config.steps_per_execution} "
              f"(it must divide the {steps} steps per epoch"
              + (f" and the {steps - start_step % steps} left in this one)" if start_step % steps
                 else ")"))
    gan = _build_gan(config, strategy, total_steps=epochs * steps,
                     steps_per_execution=per_execution)
    _scalar_logs_under_multi_worker(gan, strategy)
    with strategy.scope():
        checkpoint = RunCheckpoint(gan, out_dir / CHECKPOINT_DIR, keep=config.keep)
    if resume:
        start_step, _ = checkpoint.restore(source_ckpt)
    if out_dir == run_dir:
        config.save(run_dir)
    state = cb.TrainingState(steps_per_epoch=steps, epochs=epochs, step=start_step,
                             on_nan=config.on_nan)
    if state.epochs_done >= epochs:
        print(f"{run_dir} has already trained {state.epochs_done} epochs; pass a larger --epochs "
              "to continue")
        return TrainResult(run_dir, state.epochs_done, state.step,
                           cb.read_csv(run_dir / cb.METRICS_NAME))

    writer = cb.SummaryWriter(out_dir / "tensorboard") if config.tensorboard else None
    real_points = None
    if source.kind == "points":
        real_points = next(source.dataset.batch(REAL_POINTS).as_numpy_iterator())
    n_fixed = POINT_SAMPLES if source.kind == "points" else config.grid_size
    fixed_latents = draw_latents(n_fixed, config.latent_dim, config.latent_dist, config.seed + 1)
    sample_fn, columns = _fixed_sampler(gan, config, n_fixed)
    logger = cb.RunLogger(out_dir, state, progress, writer)
    callbacks = [
        logger,  # first: it counts steps, replaces epoch logs by epoch means, stops on NaN
        cb.Checkpointer(checkpoint, out_dir, state, config.checkpoint_every),
        cb.SampleWriter(out_dir, state, fixed_latents, source.kind, config.sample_every,
                        real_points, writer, sample_fn, columns),
    ]
    if config.eval_every and out_dir == run_dir:  # the chief scores; no collective ops in it
        from gantool.evaluation import EvalCallback

        evaluator = EvalCallback(state, config, config.eval_every, n=config.eval_n,
                                 inception_weights=config.inception_weights,
                                 seed=config.seed + 2, progress=progress)
        evaluator.prepare()  # fail now: missing weights, or a 2-D dataset without metrics
        callbacks.insert(0, evaluator)  # before RunLogger, which writes this epoch's row
    first_epoch, done_in_epoch = divmod(state.step, steps)
    dataset = training_dataset(source, batch_size, config.seed, first_epoch, epochs, steps,
                               with_labels=config.conditional)
    try:
        with stop_requests(state):
            if done_in_epoch:  # resuming mid-epoch: finish that epoch on its remaining batches
                gan.fit(dataset.skip(done_in_epoch).take(steps - done_in_epoch),
                        initial_epoch=first_epoch, epochs=first_epoch + 1,
                        steps_per_epoch=steps - done_in_epoch, callbacks=callbacks, verbose=0,
                        shuffle=False)
                dataset = dataset.skip(steps)
                first_epoch += 1
            if first_epoch < epochs and not state.interrupted:
                gan.fit(dataset, initial_epoch=first_epoch, epochs=epochs,
                        steps_per_epoch=steps, callbacks=callbacks, verbose=0, shuffle=False)
    except KeyboardInterrupt:
        raise Interrupted(f"aborted at step {state.step}; the latest checkpoint is "
                          f"{checkpoint.latest}; continue with: gantool train --out {run_dir} "
                          "--resume") from None
    except tf.errors.ResourceExhaustedError as e:
        raise GantoolError(f"out of memory ({e.message.splitlines()[0]}); try a smaller "
                           "--batch-size") from None
    finally:
        if writer is not None:
            writer.close()
    if state.interrupted and state.step < epochs * steps:
        where = (f"in epoch {state.epochs_done + 1}" if state.stopped_mid_epoch
                 else f"after epoch {state.epochs_done}")
        raise Interrupted(f"stopped by {state.interrupted} at step {state.step} ({where}); saved "
                          f"{checkpoint.latest}; continue with: gantool train --out {run_dir} "
                          "--resume", state.interrupted)
    return TrainResult(run_dir, state.epochs_done, state.step, logger.history)
