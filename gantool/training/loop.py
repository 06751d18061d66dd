"""``train(config)``: a training run in a few named steps.

:func:`train` prepares the run directory and the strategy; :func:`train_into` then loads the
data (:func:`~gantool.training.schedule.load_data`), builds the GAN and restores a resumed run
(:func:`build`), makes the callbacks (:func:`make_callbacks`), runs ``fit()`` (:func:`fit`)
and reports how it ended (:func:`finish`). ``--time-budget`` ends training like a last epoch
(:class:`~gantool.training.callbacks.budget.TrainingClock`).
"""

import contextlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from gantool import rundir
from gantool.config import validate
from gantool.distribute import is_chief, make_strategy, tf_config
from gantool.errors import GantoolError
from gantool.sampling import SamplingGenerator
from gantool.trackers import with_trackers
from gantool.training.build import (
    build_gan,
    print_summaries,
    scalar_logs_under_multi_worker,
    validate_step,
)
from gantool.training.callbacks import (
    Checkpointer,
    FixedSamples,
    NanPolicy,
    ProgressBar,
    RunLog,
    SampleWriter,
    SummaryWriter,
    TensorBoardScalars,
    TrainingPlot,
    read_csv,
)
from gantool.training.callbacks.budget import TrainingClock, elapsed_variable, progress_variable
from gantool.training.checkpoints import RunCheckpoint
from gantool.training.ema import short_run_warning
from gantool.training.lr_schedule import LearningRateSchedule, scale_variable, scheduled
from gantool.training.schedule import load_data, schedule_for, steps_per_execution
from gantool.training.signals import Interrupted, stop_requests
from gantool.training.state import TrainingState
from gantool.training.transfer import load_init_weights, resolve_init_from


@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    steps_done: int
    history: list
    budget_spent: bool = False  # --time-budget ended training


def train(config, *, resume=False, force=False, explicit=None, progress=True):
    """Train a GAN as described by ``config`` (a :class:`TrainConfig`); returns a TrainResult.

    ``explicit`` names the settings the user gave (used to merge with a resumed run's config).
    Writes the run directory described in the README; under multi-worker training only the
    chief writes there (other workers use a temporary directory, deleted at the end).
    Raises GantoolError/UsageError on failure, Interrupted on SIGINT/SIGTERM.
    """
    validate(config)
    validate_step(config)
    if config.strategy == "multi-worker":
        tf_config()  # a malformed TF_CONFIG is a usage error before anything starts
    chief = is_chief(config.strategy)
    if not resume:  # one run-directory name, also for the default runs/ARCH-DATASET-TIME
        config = config.replace(out=str(rundir.target_dir(config)))
    # the chief holds the run directory's lock from before it touches it (--force deletes)
    lock = rundir.RunLock(rundir.target_dir(config), create=not resume)
    with lock if chief else contextlib.nullcontext():
        config, run_dir = rundir.prepare_run_dir(config, resume=resume, force=force,
                                                 explicit=explicit, create=chief)
        strategy = make_strategy(config.strategy, config.cpu_devices, config.tpu)
        out_dir = run_dir if chief else Path(tempfile.mkdtemp(prefix="gantool-worker-"))
        try:
            return train_into(config, run_dir, out_dir, strategy, resume, progress and chief)
        finally:
            if not chief:
                shutil.rmtree(out_dir, ignore_errors=True)


def train_into(config, run_dir, out_dir, strategy, resume, progress):
    """Train into ``out_dir`` (``run_dir``, or a worker's scratch directory)."""
    source, config = load_data(config, resume)
    if not resume:  # --init-from: check the networks match, name the checkpoint
        config = resolve_init_from(config)
    schedule = schedule_for(config, source)
    warning = None if schedule.budget else short_run_warning(
        config.ema, schedule.total_steps * config.g_steps)
    if warning and out_dir == run_dir:  # the chief
        print(warning, file=sys.stderr)
    gan, checkpoint, start_step = build(config, strategy, schedule, run_dir, out_dir, resume,
                                        progress)
    if out_dir == run_dir:
        rundir.write_config(run_dir, config)
    state = TrainingState(steps_per_epoch=schedule.steps, epochs=schedule.epochs,
                          step=start_step, on_nan=config.on_nan)
    clock = TrainingClock(state, gan.progress, schedule.total_steps, schedule.budget,
                          checkpoint.extras.get("elapsed_seconds"))
    done = already_done(config, state, schedule, clock, run_dir)
    if done is not None:
        return done
    log = RunLog(out_dir, state)
    callbacks, closers = make_callbacks(config, state, log, gan, checkpoint, source, out_dir,
                                        progress, evaluate=out_dir == run_dir, clock=clock)
    try:
        fit(gan, schedule.dataset(source, config, state.epochs_done), schedule, state,
            callbacks, checkpoint, run_dir)
        return finish(state, schedule, checkpoint, run_dir, log.history)
    finally:  # after finish(): a tracker run ends as failed or killed on its exception
        for close in closers:
            close()


def already_done(config, state, schedule, clock, run_dir):
    """The TrainResult of a resumed run with nothing left to train (its epochs, or its time
    budget, done), after saying so; else None."""
    if state.epochs_done < schedule.epochs and not clock.spent:
        return None
    if clock.spent:
        print(f"{run_dir} has already trained its --time-budget of {config.time_budget:g} "
              f"minutes ({clock.seconds / 60:.2f}); pass a larger --time-budget to continue")
    else:
        print(f"{run_dir} has already trained {state.epochs_done} epochs; pass a larger --epochs "
              "to continue")
    return TrainResult(run_dir, state.epochs_done, state.step, read_csv(run_dir / rundir.METRICS))


def build(config, strategy, schedule, run_dir, out_dir, resume, progress):
    """The GAN (with its ``progress`` variable), its RunCheckpoint (in ``out_dir``; with a
    budgeted run's ``elapsed_seconds`` and a learning-rate schedule's ``lr_scale``) and the step
    training starts from: that of the run's latest checkpoint, restored, when resuming."""
    resume_from = rundir.latest_checkpoint(rundir.checkpoint_dir(run_dir)) if resume else None
    per_execution = steps_per_execution(config, schedule, rundir.step_of(resume_from), progress)
    # under a budget the traced step's instance noise follows gan.progress instead of the step
    gan = build_gan(config, strategy, total_steps=None if schedule.budget else schedule.total_steps,
                    steps_per_execution=per_execution)
    progress_variable(gan, strategy)
    scalar_logs_under_multi_worker(gan, strategy)
    if config.dry_run and out_dir == run_dir:  # the chief, even with --quiet
        print_summaries(gan.generator, gan.discriminator)
    with strategy.scope():
        extras = {**({"elapsed_seconds": elapsed_variable()} if schedule.budget else {}),
                  **({"lr_scale": scale_variable()} if scheduled(config) else {})}
        checkpoint = RunCheckpoint(gan, rundir.checkpoint_dir(out_dir), keep=config.keep,
                                   extras=extras)
    start_step = checkpoint.restore(resume_from)[0] if resume else 0
    if config.init_from and not resume:
        load_init_weights(gan, config)
    return gan, checkpoint, start_step


def make_callbacks(config, state, log, gan, checkpoint, source, out_dir, progress, evaluate,
                   clock):
    """The callbacks in their order (see :mod:`gantool.training.callbacks`), and what to close
    when training ends. ``log``: the RunLog, first (it counts the steps and turns the epoch logs
    into epoch means). ``evaluate``: this process writes the run directory, so it scores the
    generator with ``--eval-every`` (no collective ops in it). ``clock``: the TrainingClock,
    after the NanPolicy (then the learning-rate schedule that reads it)."""
    writer = SummaryWriter(out_dir / rundir.TENSORBOARD) if config.tensorboard else None
    if evaluate:  # --track: the chief's scalars and images also go to experiment trackers
        writer = with_trackers(writer, config, out_dir)
    sampler = SamplingGenerator(gan.generator, gan.g_optimizer, config)  # grids and scores
    bar = ProgressBar(state, log) if progress else None
    callbacks = [log, NanPolicy(checkpoint, state), clock]
    if scheduled(config):
        callbacks.append(LearningRateSchedule(config, state, clock,
                                              checkpoint.extras["lr_scale"]))
    callbacks += [bar] if bar is not None else []
    callbacks += [TensorBoardScalars(writer, state)] if writer is not None else []
    callbacks += [TrainingPlot(out_dir, state, log.history),
                  Checkpointer(checkpoint, out_dir, state, config.checkpoint_every),
                  SampleWriter(out_dir, state, sampler, FixedSamples.for_run(config, source),
                               config.sample_every, writer, config.sample_every_steps)]
    if config.eval_every and evaluate:
        from gantool.training.evaluator import Evaluator

        evaluator = Evaluator(state, config, sampler, progress=progress)
        evaluator.prepare()  # fail now: missing weights, or a 2-D dataset without metrics
        callbacks.insert(0, evaluator)  # before RunLog, which writes this epoch's row
    closers = [c.close for c in (bar, writer) if c is not None]
    return callbacks, closers


def fit(gan, dataset, schedule, state, callbacks, checkpoint, run_dir):
    """``fit()`` from ``state.step`` to the last epoch: a resumed run first finishes its
    interrupted epoch on that epoch's remaining batches. Signals stop it (see
    :func:`~gantool.training.signals.stop_requests`)."""
    steps, epochs = schedule.steps, schedule.epochs
    first_epoch, done_in_epoch = divmod(state.step, steps)
    options = dict(callbacks=callbacks, verbose=0, shuffle=False)
    try:
        with stop_requests(state):
            if done_in_epoch:
                gan.fit(dataset.skip(done_in_epoch).take(steps - done_in_epoch),
                        initial_epoch=first_epoch, epochs=first_epoch + 1,
                        steps_per_epoch=steps - done_in_epoch, **options)
                dataset = dataset.skip(steps)
                first_epoch += 1
            if first_epoch < epochs and not (state.interrupted or state.budget_spent):
                gan.fit(dataset, initial_epoch=first_epoch, epochs=epochs, steps_per_epoch=steps,
                        **options)
    except KeyboardInterrupt:
        raise Interrupted(f"aborted at step {state.step}; the latest checkpoint is "
                          f"{checkpoint.latest}; continue with: gantool train --out {run_dir} "
                          "--resume") from None
    except tf.errors.ResourceExhaustedError as e:
        raise GantoolError(f"out of memory ({e.message.splitlines()[0]}); try a smaller "
                           "--batch-size") from None


def finish(state, schedule, checkpoint, run_dir, history):
    """The TrainResult; Interrupted when a signal stopped training before its last step."""
    if state.interrupted and state.step < schedule.total_steps:
        where = (f"in epoch {state.epochs_done + 1}" if state.stopped_mid_epoch
                 else f"after epoch {state.epochs_done}")
        raise Interrupted(f"stopped by {state.interrupted} at step {state.step} ({where}); saved "
                          f"{checkpoint.latest}; continue with: gantool train --out {run_dir} "
                          "--resume", state.interrupted)
    return TrainResult(run_dir, state.epochs_done, state.step, history, state.budget_spent)
