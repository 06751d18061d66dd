"""The run directory: the one module that knows its file names, writes into it atomically and
finds its checkpoints.

```
RUN_DIR/
  config.json       TrainConfig (rebuilds the models)    checkpoints/   ckpt-STEP.{index,data-*}
  metrics.csv       one row per epoch                    steps.csv      one row per step
  training.png      the loss plot                        samples/       epoch_NNNN.{png,npy}, ...
  generator.keras   the generator as a Keras model       tensorboard/   TensorBoard events
  eval.json         from gantool eval                    training.gif, evolution.png, ...
```

Importing this module does not import TensorFlow: checkpoints are found from their files
(``ckpt-N.index``) and TensorFlow's small ``checkpoint`` index file, read as text.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gantool.config import RESUMABLE_SETTINGS, TrainConfig, validate
from gantool.errors import UsageError
from gantool.runlock import LOCK, RunLock  # noqa: F401  (the lock is part of the contract)

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
METRICS = "metrics.csv"
STEPS = "steps.csv"
PLOT = "training.png"
SAMPLES = "samples"
TENSORBOARD = "tensorboard"
GENERATOR = "generator.keras"
EVAL = "eval.json"
TRAINING_GIF = "training.gif"
EVOLUTION = "evolution.png"
INTERPOLATION_GIF = "interpolation.gif"
SAMPLE_GRID = "sample.png"
FIXED_LATENTS = "fixed_latents.npy"
REAL_POINTS = "real_points.npy"
CHECKPOINT_PREFIX = "ckpt-"

_CHECKPOINT_FILE = re.compile(r"^ckpt-(\d+)\.index$")
_LATEST_LINE = re.compile(r'^model_checkpoint_path:\s*"([^"]+)"\s*$', re.M)


def samples_dir(run_dir):
    return Path(run_dir) / SAMPLES


def sample_path(run_dir, epoch, suffix):
    """``RUN_DIR/samples/epoch_NNNN{suffix}``: the fixed-latent samples after ``epoch`` epochs."""
    return samples_dir(run_dir) / f"epoch_{epoch:04d}{suffix}"


def checkpoint_dir(run_dir):
    return Path(run_dir) / CHECKPOINTS


# --- atomic writes -------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (same suffix, so writers that check it work);
    on success it replaces ``path`` in one rename, on failure it is removed. Write errors name
    ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs follow the umask
    try:
        yield tmp
        tmp.replace(path)
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, data):
    return write_text(path, json.dumps(data, indent=2) + "\n")


def save_array(path, array):
    """``np.save`` to ``path`` atomically (uint8 images, float32 points or latents)."""
    import numpy as np

    with atomic_path(path) as tmp:
        np.save(tmp, array)
    return Path(path)


# --- config --------------------------------------------------------------------------------

def read_config(run_dir):
    """The :class:`TrainConfig` in ``RUN_DIR/config.json`` (validated as a new one would be)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise UsageError(f"{run_dir}: not a gantool run directory (no {CONFIG})")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(values, dict):
        raise UsageError(f"{path}: expected a JSON object of settings, got "
                         f"{type(values).__name__}")
    config = TrainConfig.from_saved(values, source=str(path))
    try:
        validate(config, saved=True)
    except UsageError as e:
        raise UsageError(f"{path}: {e}") from None
    return config


def write_config(run_dir, config):
    return write_json(Path(run_dir) / CONFIG, config.to_dict())


# --- checkpoints ---------------------------------------------------------------------------

def step_of(prefix):
    """The training step checkpoint ``prefix`` (``.../ckpt-N``) was saved at; 0 for None."""
    return int(str(prefix).rsplit("-", 1)[1]) if prefix else 0


def checkpoints(ckpt_dir):
    """Every checkpoint prefix in ``ckpt_dir`` that has an index file, newest first. The one
    TensorFlow's ``checkpoint`` file names as latest comes first when it exists."""
    ckpt_dir = Path(ckpt_dir)
    found = sorted((int(m.group(1)), ckpt_dir / m.group(0)[:-len(".index")])
                   for name in (os.listdir(ckpt_dir) if ckpt_dir.is_dir() else [])
                   if (m := _CHECKPOINT_FILE.match(name)))
    prefixes = [str(p) for _, p in reversed(found)]
    named = _named_latest(ckpt_dir)
    if named in prefixes:
        prefixes.remove(named)
        prefixes.insert(0, named)
    return prefixes


def _named_latest(ckpt_dir):
    try:
        text = (Path(ckpt_dir) / "checkpoint").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _LATEST_LINE.search(text)
    if match is None:
        return None
    return str(Path(ckpt_dir) / Path(match.group(1)).name)


def latest_checkpoint(ckpt_dir):
    """The newest checkpoint prefix in ``ckpt_dir``, or None."""
    found = checkpoints(ckpt_dir)
    return found[0] if found else None


def resolve(path):
    """Map a run directory or a checkpoint inside it to ``(run_dir, checkpoint_prefix)``.

    Accepts ``RUN_DIR``, ``RUN_DIR/checkpoints`` or ``RUN_DIR/checkpoints/ckpt-N``.
    """
    path = Path(path)
    if path.is_dir():
        ckpt_dir = path / CHECKPOINTS if (path / CHECKPOINTS).is_dir() else path
        prefix = latest_checkpoint(ckpt_dir)
        if prefix is None:
            raise UsageError(f"{path}: no checkpoint found (expected a run directory "
                             f"with {CHECKPOINTS}/ or a checkpoint path like ckpt-3)")
        return (ckpt_dir.parent if ckpt_dir.name == CHECKPOINTS else ckpt_dir), prefix
    if Path(str(path) + ".index").is_file():
        return (path.parent.parent if path.parent.name == CHECKPOINTS else path.parent), str(path)
    raise UsageError(f"{path}: not a run directory or checkpoint (expected RUN_DIR or "
                     f"RUN_DIR/{CHECKPOINTS}/ckpt-N)")


@dataclass(frozen=True)
class Run:
    """A run directory resolved once: its path, its config and the checkpoint to read.

    ``Run.open(path)`` takes what ``sample``, ``animate`` and ``eval`` are given (a run
    directory or a checkpoint in one) and is passed down from there.
    """

    path: Path
    config: TrainConfig
    checkpoint: str | None

    @classmethod
    def open(cls, path, need_checkpoint=True):
        if need_checkpoint:
            run_dir, prefix = resolve(path)
        else:
            run_dir, prefix = Path(path), None
        return cls(Path(run_dir), read_config(run_dir), prefix)

    def file(self, name):
        return self.path / name


# --- a training run's directory --------------------------------------------------------------

def default_run_dir(config):
    """``runs/ARCH-DATASET-YYYYmmdd-HHMMSS``: where a run goes without ``--out``."""
    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.dataset.split(":")[-1].rstrip("/"))
    dataset = Path(dataset).stem or "data"
    return Path("runs") / f"{config.arch}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def target_dir(config):
    """The run directory ``config`` trains into: ``--out``, or :func:`default_run_dir`."""
    return Path(config.out) if config.out else default_run_dir(config)


def prepare_run_dir(config, resume=False, force=False, explicit=None, create=True):
    """Create or reopen the run directory; returns ``(config, run_dir)``.

    A new run needs an empty or missing directory unless ``force``. With ``resume`` the saved
    config is used, updated with the explicitly given settings in
    :data:`~gantool.config.RESUMABLE_SETTINGS`; other explicit settings must match it.
    ``create=False`` (non-chief workers) checks and reads but writes nothing.
    """
    run_dir = target_dir(config)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} exists and is not a directory")
    if resume:
        explicit = set(explicit if explicit is not None else _changed_settings(config))
        return _resumed_config(config, read_config(run_dir), explicit, run_dir), run_dir
    if create:
        _empty_run_dir(run_dir, force)
    return config.replace(out=str(run_dir)), run_dir


def _resumed_config(config, saved, explicit, run_dir):
    clashes = [k for k in sorted(explicit - set(RESUMABLE_SETTINGS))
               if getattr(config, k, None) != getattr(saved, k, None)
               and k not in ("data_shape", "data_kind", "version")]
    if clashes:
        k = clashes[0]
        raise UsageError(f"--{k.replace('_', '-')} {getattr(config, k, None)!r} differs from the "
                         f"run's {getattr(saved, k, None)!r}; a resumed run keeps its models and "
                         f"data (only {', '.join(RESUMABLE_SETTINGS)} may change)")
    updates = {k: getattr(config, k) for k in explicit & set(RESUMABLE_SETTINGS)}
    updates["out"] = str(run_dir)
    return saved.replace(**updates)


def _changed_settings(config):
    """The settings of ``config`` that differ from the defaults (its architecture's, for the
    architecture's own settings)."""
    defaults = {**TrainConfig().to_dict(), **TrainConfig(arch=config.arch).arch_options}
    return {k for k, v in config.to_dict().items() if defaults.get(k) != v}


def _empty_run_dir(run_dir, force):
    contents = [p for p in run_dir.iterdir() if p.name != LOCK] if run_dir.is_dir() else []
    if contents and not force:
        raise UsageError(f"run directory {run_dir} already exists and is not empty; pass "
                         "--resume to continue it or --force to start it again")
    for path in contents:  # not the lock, which this process holds
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to --out {run_dir}: {e.strerror or e}") from None
