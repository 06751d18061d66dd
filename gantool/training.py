"""``train(config)``: build everything under a ``tf.distribute`` strategy and run ``fit()``."""

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantool import config as config_lib
from gantool.config import TrainConfig
from gantool.errors import GantoolError, UsageError

DRY_RUN_STEPS = 2
DRY_RUN_EPOCHS = 2
POINT_SAMPLES = 1000


@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    history: list


def default_run_dir(config):
    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.dataset.split(":")[-1].rstrip("/"))
    dataset = Path(dataset).stem or "data"
    return Path("runs") / f"{config.arch}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(config, resume=False, force=False, explicit=None):
    """Create or reopen the run directory; returns ``(config, run_dir)``.

    A new run needs an empty or missing directory unless ``force``. With ``resume`` the saved
    config is used, updated with the explicitly given settings in
    :data:`~gantool.config.RESUMABLE_SETTINGS`; other explicit settings must match it.
    """
    run_dir = Path(config.out) if config.out else default_run_dir(config)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} exists and is not a directory")
    exists = run_dir.is_dir() and any(run_dir.iterdir())
    if resume:
        saved = TrainConfig.load(run_dir)
        explicit = set(explicit if explicit is not None else _changed_settings(config))
        clashes = [k for k in sorted(explicit - set(config_lib.RESUMABLE_SETTINGS))
                   if getattr(config, k) != getattr(saved, k) and k not in ("data_shape", "data_kind", "version")]
        if clashes:
            k = clashes[0]
            raise UsageError(f"--{k.replace('_', '-')} {getattr(config, k)!r} differs from the "
                             f"run's {getattr(saved, k)!r}; a resumed run keeps its models and data "
                             f"(only {', '.join(config_lib.RESUMABLE_SETTINGS)} may change)")
        updates = {k: getattr(config, k) for k in explicit & set(config_lib.RESUMABLE_SETTINGS)}
        return saved.replace(**updates, out=str(run_dir)), run_dir
    if exists:
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
    Writes the run directory described in the README. Raises GantoolError/UsageError on failure.
    """
    config_lib.validate(config)
    config, run_dir = prepare_run_dir(config, resume=resume, force=force, explicit=explicit)

    from gantool.distribute import is_chief, make_strategy

    strategy = make_strategy(config.strategy, config.cpu_devices)
    chief = is_chief()
    out_dir = run_dir if chief else Path(tempfile.mkdtemp(prefix="gantool-worker-"))
    try:
        return _train(config, run_dir, out_dir, strategy, resume, progress and chief)
    finally:
        if not chief:
            shutil.rmtree(out_dir, ignore_errors=True)


def _train(config, run_dir, out_dir, strategy, resume, progress):
    import keras
    import tensorflow as tf

    from gantool import callbacks as cb
    from gantool.checkpoints import CHECKPOINT_DIR, RunCheckpoint
    from gantool.data import load_dataset
    from gantool.data.pipeline import steps_per_epoch, training_dataset
    from gantool.gan import GAN
    from gantool.models import build_models
    from gantool.sampling import draw_latents

    keras.utils.set_random_seed(config.seed)
    global_batch = config.batch_size
    max_examples = config.max_examples
    if config.dry_run:
        max_examples = min(max_examples or 10**12, global_batch * DRY_RUN_STEPS)
    source = load_dataset(config.dataset, data_dir=config.data_dir, image_size=config.image_size,
                          channels=config.channels, max_examples=max_examples, seed=config.seed)
    if resume and list(config.data_shape) != list(source.shape):
        raise UsageError(f"dataset {config.dataset} now gives shape {tuple(source.shape)}, the run "
                         f"was trained on {tuple(config.data_shape)}")
    config = config.replace(data_shape=list(source.shape), data_kind=source.kind)
    steps = steps_per_epoch(source, global_batch, config.steps_per_epoch)
    epochs = config.epochs
    if config.dry_run:
        steps = min(steps, DRY_RUN_STEPS)
        epochs = min(epochs, DRY_RUN_EPOCHS)

    with strategy.scope():
        try:
            generator, discriminator = build_models(config)
        except ValueError as e:
            raise UsageError(f"--arch {config.arch}: {e}") from None
        gan = GAN(generator, discriminator, latent_dim=config.latent_dim,
                  latent_dist=config.latent_dist, loss=config.loss,
                  label_smoothing=config.label_smoothing, seed=config.seed)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta1,
                                              beta_2=config.beta2),
            g_optimizer=keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta1,
                                              beta_2=config.beta2),
            jit_compile=config.jit,
        )
        gan.build_optimizers()
        checkpoint = RunCheckpoint(gan, out_dir / CHECKPOINT_DIR, keep=config.keep)
        initial_epoch = checkpoint.restore() if resume else 0

    if out_dir == run_dir:
        config.save(run_dir)
    if initial_epoch >= epochs:
        print(f"{run_dir} has already trained {initial_epoch} epochs; pass a larger --epochs "
              "to continue")
        return TrainResult(run_dir, initial_epoch, cb.read_csv(run_dir / cb.METRICS_NAME))

    dataset = training_dataset(source, global_batch, config.seed, initial_epoch, epochs, steps)
    writer = cb.SummaryWriter(out_dir / "tensorboard") if config.tensorboard else None
    real_points = None
    if source.kind == "points":
        real_points = np.stack(list(source.dataset.take(2000).as_numpy_iterator()))
    n_fixed = POINT_SAMPLES if source.kind == "points" else config.grid_size
    fixed_latents = draw_latents(n_fixed, config.latent_dim, config.latent_dist, config.seed + 1)
    logger = cb.RunLogger(out_dir, steps, epochs, initial_epoch, progress, writer)
    callbacks = [
        logger,  # first: it replaces the epoch logs by epoch means and stops on NaN
        cb.SampleWriter(out_dir, fixed_latents, source.kind, config.sample_every, epochs,
                        real_points, writer),
        cb.Checkpointer(checkpoint, out_dir, config.checkpoint_every, epochs),
    ]
    try:
        gan.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
                callbacks=callbacks, verbose=0, shuffle=False)
    except KeyboardInterrupt:
        latest = checkpoint.latest
        raise GantoolError(
            f"interrupted; the latest checkpoint is {latest or 'none'}; continue with: "
            f"gantool train --out {run_dir} --resume") from None
    except tf.errors.ResourceExhaustedError as e:
        raise GantoolError(f"out of memory ({e.message.splitlines()[0]}); try a smaller "
                           "--batch-size") from None
    finally:
        if writer is not None:
            writer.close()
    return TrainResult(run_dir, epochs, logger.history)
