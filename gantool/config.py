"""Settings of a training run: one dataclass, TOML files in, ``config.json`` out and back.

``config.json`` in a run directory holds every field of :class:`TrainConfig` plus what was
derived from the data (``data_shape``, ``data_kind``), so ``sample``, ``animate`` and ``eval``
rebuild the models from the run path alone.
"""

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gantool import __version__
from gantool.errors import UsageError

CONFIG_NAME = "config.json"


@dataclass
class TrainConfig:
    # what to train
    arch: str = "dcgan"
    dataset: str = "mnist"
    data_dir: str | None = None
    image_size: int | None = None
    channels: int | None = None
    max_examples: int | None = None
    # optimisation
    epochs: int = 25
    batch_size: int = 128
    steps_per_epoch: int | None = None
    latent_dim: int = 100
    latent_dist: str = "normal"
    loss: str = "ns"
    lr: float = 2e-4
    d_lr: float | None = None
    g_lr: float | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    label_smoothing: float = 0.0
    seed: int = 0
    # architecture knobs (each architecture reads the ones it uses)
    g_hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])
    d_hidden: list[int] = field(default_factory=lambda: [1024, 512, 256])
    g_activation: str = "leaky_relu"
    d_activation: str = "leaky_relu"
    leaky_slope: float = 0.2
    dropout: float = 0.3
    g_filters: int = 64
    d_filters: int = 64
    # stabilisation and conditioning
    d_steps: int = 1
    g_steps: int = 1
    gp_weight: float = 10.0
    r1: float = 0.0
    instance_noise: float = 0.0
    pack: int = 1
    ema: float | None = None
    spectral_norm: bool = False
    conditional: bool = False
    num_classes: int | None = None  # derived from the data with --conditional
    # outputs
    out: str | None = None
    sample_every: int = 1
    checkpoint_every: int = 1
    keep: int = 3
    grid_size: int = 64
    tensorboard: bool = True
    # execution
    strategy: str = "auto"
    cpu_devices: int | None = None
    sync_bn: bool = False
    tpu: str | None = None
    precision: str = "float32"
    on_nan: str = "stop"
    # scores during training (gantool.evaluation)
    eval_every: int | None = None
    eval_n: int | None = None
    inception_weights: str | None = None
    jit: bool = False
    steps_per_execution: int = 1
    dry_run: bool = False
    # derived from the data when training starts
    data_shape: list[int] | None = None
    data_kind: str | None = None
    version: str = __version__

    @property
    def d_learning_rate(self):
        return self.d_lr if self.d_lr is not None else self.lr

    @property
    def g_learning_rate(self):
        return self.g_lr if self.g_lr is not None else self.lr

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    def save(self, run_dir):
        path = Path(run_dir) / CONFIG_NAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, values, source="config"):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(
                f"{source}: unknown setting(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(known))}"
            )
        return cls(**values)

    @classmethod
    def load(cls, run_dir):
        """Read ``RUN_DIR/config.json`` (unknown keys from newer versions are an error)."""
        path = Path(run_dir) / CONFIG_NAME
        if not path.is_file():
            raise UsageError(f"{run_dir}: not a gantool run directory (no {CONFIG_NAME})")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(values, source=str(path))


def read_toml(path):
    """Read a TOML recipe into a dict of settings, keys normalised to ``snake_case``.

    Keys may use dashes as on the command line (``batch-size``) or underscores. A ``[train]``
    table is accepted as well as top-level keys.
    """
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"config file {path} is not valid TOML: {e}") from None
    if "train" in values and isinstance(values["train"], dict):
        values = {**{k: v for k, v in values.items() if k != "train"}, **values["train"]}
    values = {k.replace("-", "_"): v for k, v in values.items()}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return values


def _check(condition, message):
    if not condition:
        raise UsageError(message)


def validate(config):
    """Reject nonsense settings with a one-line :class:`UsageError` naming value and range."""
    from gantool.data import validate_dataset_spec
    from gantool.distribute import STRATEGIES
    from gantool.losses import LOSSES
    from gantool.models import ARCHITECTURES

    ARCHITECTURES.get(config.arch)
    validate_dataset_spec(config.dataset)
    _check(config.strategy in STRATEGIES,
           f"unknown strategy {config.strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    _check(config.precision in PRECISIONS,
           f"unknown precision {config.precision!r}; choose one of: {', '.join(PRECISIONS)}")
    _check(config.on_nan in ("stop", "rollback"),
           f"unknown on-nan policy {config.on_nan!r}; choose stop or rollback")
    _check(config.latent_dist in ("normal", "uniform"),
           f"unknown latent distribution {config.latent_dist!r}; choose normal or uniform")
    for name in ("epochs", "batch_size", "latent_dim", "sample_every", "checkpoint_every",
                 "keep", "grid_size", "d_steps", "g_steps", "pack", "steps_per_execution"):
        value = getattr(config, name)
        _check(isinstance(value, int) and value >= 1,
               f"{name.replace('_', '-')} must be a whole number >= 1, got {value!r}")
    for name in ("steps_per_epoch", "max_examples", "image_size", "channels", "cpu_devices",
                 "eval_every", "eval_n"):
        value = getattr(config, name)
        _check(value is None or (isinstance(value, int) and value >= 1),
               f"{name.replace('_', '-')} must be a whole number >= 1, got {value!r}")
    _check(config.channels in (None, 1, 3), f"channels must be 1 or 3, got {config.channels}")
    for name in ("lr", "d_lr", "g_lr"):
        value = getattr(config, name)
        _check(value is None or (isinstance(value, (int, float)) and 0 < value < 10),
               f"{name.replace('_', '-')} must be a learning rate in (0, 10), got {value!r}")
    for name in ("beta1", "beta2", "label_smoothing", "dropout"):
        value = getattr(config, name)
        _check(isinstance(value, (int, float)) and 0 <= value < 1,
               f"{name.replace('_', '-')} must be in [0, 1), got {value!r}")
    for name in ("gp_weight", "r1", "instance_noise"):
        value = getattr(config, name)
        _check(isinstance(value, (int, float)) and value >= 0,
               f"{name.replace('_', '-')} must be >= 0, got {value!r}")
    _check(config.ema is None or (isinstance(config.ema, float) and 0 < config.ema < 1),
           f"ema decay must be in (0, 1), e.g. 0.999, got {config.ema!r}")
    _check(config.batch_size % config.pack == 0,
           f"batch-size {config.batch_size} must be a multiple of --pack {config.pack}")
    _check(not (config.conditional and config.pack > 1),
           "--conditional and --pack cannot be combined: a pack would mix classes")
    _check(not (config.ema and config.precision == "mixed_float16"),
           "--ema is not supported with --precision mixed_float16 (use mixed_bfloat16)")
    loss = LOSSES.get(config.loss)
    _check(not config.label_smoothing or getattr(loss, "supports_label_smoothing", True),
           f"--label-smoothing has no meaning for --loss {config.loss} (its outputs are scores, "
           "not probabilities)")
    _check(config.leaky_slope >= 0, f"leaky-slope must be >= 0, got {config.leaky_slope}")
    for name in ("g_hidden", "d_hidden"):
        units = getattr(config, name)
        _check(isinstance(units, list) and all(isinstance(u, int) and u >= 1 for u in units),
               f"{name.replace('_', '-')} must be a list of layer widths >= 1, got {units!r}")
    for name in ("g_activation", "d_activation"):
        value = getattr(config, name)
        _check(value in ACTIVATIONS,
               f"{name.replace('_', '-')} {value!r} is unknown; choose one of: "
               f"{', '.join(ACTIVATIONS)}")
    for name in ("g_filters", "d_filters"):
        _check(getattr(config, name) >= 1,
               f"{name.replace('_', '-')} must be >= 1, got {getattr(config, name)}")


ACTIVATIONS = ("leaky_relu", "relu", "tanh")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def apply_loss_defaults(values, explicit):
    """Fill in a loss's recipe defaults (e.g. WGAN-GP: Adam(0, 0.9), 5 critic steps) for the
    settings in ``values`` (a dict) that the user did not give (``explicit``)."""
    from gantool.losses import LOSSES

    loss = LOSSES.get(values.get("loss", TrainConfig.loss))
    for key, value in getattr(loss, "recommended", {}).items():
        key = {"n_critic": "d_steps"}.get(key, key)
        if key not in explicit:
            values[key] = value
    return values


# Settings that may change when a run is resumed; the rest define the models and the data.
RESUMABLE_SETTINGS = ("epochs", "steps_per_epoch", "sample_every", "checkpoint_every", "keep",
                      "strategy", "cpu_devices", "tpu", "jit", "steps_per_execution",
                      "dry_run", "tensorboard", "out",
                      "on_nan", "eval_every", "eval_n", "inception_weights")
