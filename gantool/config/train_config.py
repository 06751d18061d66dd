"""Settings of a training run: one dataclass, flat settings in (CLI, TOML, config.json) and out.

:class:`TrainConfig` holds the fields every run has plus the chosen architecture's own
settings (``arch_options``, declared by the architecture, see :mod:`gantool.models`). A run's
``config.json`` (written and read by :mod:`gantool.rundir`) holds these flat, plus what was
derived from the data (``data_shape``, ``data_kind``), so ``sample``, ``animate`` and ``eval``
rebuild the models from the run path alone.
"""

import copy
import dataclasses
from dataclasses import dataclass, field

from gantool import __version__
from gantool.errors import UsageError
from gantool.fieldtypes import check_annotated
from gantool.models import ARCHITECTURES
from gantool.models.architecture import all_settings


@dataclass
class TrainConfig:
    # what to train
    arch: str = "dcgan"
    dataset: str = "mnist"
    data_dir: str | None = None
    image_size: int | None = None
    channels: int | None = None
    max_examples: int | None = None
    skip_bad_images: bool = False  # folder: train on the images that decode, with a warning
    # optimisation
    epochs: int = 25
    time_budget: float | None = None  # minutes of training; --epochs then an upper bound
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
    lr_schedule: str = "constant"  # or linear, cosine: a function of training progress
    lr_warmup: float = 0.0  # fraction of training with a linear warm-up
    adam_epsilon: float = 1e-7  # Keras's; TensorFlow 1, PyTorch and MXNet use 1e-8
    label_smoothing: float = 0.0
    seed: int = 0
    init: str = "dcgan"  # kernels, biases, batch-norm gamma: gantool.models.layers.INIT_SCHEMES
    update: str = "simultaneous"  # or "alternating" (D's update, then G's through the new D)
    g_latents: str = "fresh"  # the alternating G step's latents: "fresh" or "same" as D's
    # stabilisation and conditioning
    d_steps: int = 1
    g_steps: int = 1
    gp_weight: float = 10.0
    r1: float = 0.0
    r2: float = 0.0  # R2: gamma/2 * |grad D|^2 on fakes (R3GAN)
    augment: str = "none"  # D's inputs: "none", "diffaugment" or "ada" (gantool.adaptive)
    augment_policy: str = "color,translation,cutout"  # operations, comma-separated
    ada_target: float = 0.6  # ADA: target of E[sign(D(real))]
    ada_kimg: float = 500.0  # ADA: thousands of images for p to move by 1
    ada_interval: int = 4  # ADA: D steps between updates of p
    instance_noise: float = 0.0
    pack: int = 1
    ema: float | None = None
    ema_kimg: float | None = None  # EMA half-life in thousands of images
    ema_rampup: float | None = None  # half-life <= images seen * this (0.05)
    spectral_norm: bool = False
    conditional: bool = False
    num_classes: int | None = None  # derived from the data with --conditional
    init_from: str | None = None  # transfer: G and D from this run (saved: its checkpoint)
    freeze_d: int = 0  # D's first N weight layers kept fixed (FreezeD)
    # outputs
    out: str | None = None
    sample_every: int = 1
    sample_every_steps: int | None = None
    checkpoint_every: int = 1
    keep: int = 3
    grid_size: int = 64
    tensorboard: bool = True
    track: list[str] = field(default_factory=list)  # --track: gantool.trackers
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
    # the chosen architecture's own settings (declared by the architecture)
    arch_options: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.arch, str) and self.arch in ARCHITECTURES:
            defaults = _arch_options(self.arch, {}, "defaults")
            self.arch_options = {**defaults, **self.arch_options}

    def __getattr__(self, name):
        # architecture settings read as attributes (config.g_filters), as the models do
        options = self.__dict__.get("arch_options")
        if options is not None and name in options:
            return options[name]
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    @property
    def d_learning_rate(self):
        return self.d_lr if self.d_lr is not None else self.lr

    @property
    def g_learning_rate(self):
        return self.g_lr if self.g_lr is not None else self.lr

    def replace(self, **changes):
        common = {k: v for k, v in changes.items() if k in _common_fields()}
        options = {k: v for k, v in changes.items() if k not in common}
        config = dataclasses.replace(self, **common)
        if options:
            config = dataclasses.replace(config, arch_options=_arch_options(
                config.arch, {**config.arch_options, **options}, "options"))
        return config

    def to_dict(self):
        """The flat settings that ``config.json`` holds: common fields + the arch's settings."""
        values = dataclasses.asdict(self)
        return {**{k: v for k, v in values.items() if k != "arch_options"},
                **values["arch_options"]}

    @classmethod
    def create(cls, **values):
        """A config from flat settings, as :meth:`from_dict` (handy in Python and tests)."""
        return cls.from_dict(values, source="TrainConfig")

    @classmethod
    def from_dict(cls, values, source="config"):
        """A config from flat settings (command line, TOML): the chosen architecture's settings
        are checked against its declarations; another architecture's is a usage error."""
        values = dict(values)
        values.pop("arch_options", None)
        common = {k: values.pop(k) for k in list(values) if k in _common_fields()}
        arch = common.get("arch", cls.arch)
        known_elsewhere = set(all_settings())
        unknown = sorted(set(values) - known_elsewhere)
        if unknown:
            raise UsageError(
                f"{source}: unknown setting(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(_common_fields() | known_elsewhere))}"
            )
        # typed by annotation: one rule for TOML, config.json and Python (gantool.fieldtypes)
        common = {k: check_annotated(k, _FIELD_TYPES[k], v, source) for k, v in common.items()}
        return cls(**common, arch_options=_arch_options(arch, values, source))

    @classmethod
    def from_saved(cls, values, source="the run's config"):
        """A config from a run's ``config.json``. Runs of gantool 0.1.0 saved every
        architecture's knobs; those the run's architecture does not take are dropped."""
        values = dict(values)
        arch = values.get("arch", cls.arch)
        ours = set(_arch_setting_names(arch)) if isinstance(arch, str) else set()
        for key in LEGACY_ARCH_KEYS:
            if key not in ours:
                values.pop(key, None)
        return cls.from_dict(values, source=source)


def _common_fields():
    return {f.name for f in dataclasses.fields(TrainConfig)} - {"arch_options"}


def all_setting_names():
    """Every setting a recipe may hold: the common fields and every architecture's own."""
    return _common_fields() | set(all_settings())


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(TrainConfig)}


def _arch_setting_names(arch):
    return ARCHITECTURES.get(arch).setting_names() if arch in ARCHITECTURES else []


def _arch_options(arch, given, source):
    """The settings of architecture ``arch``: ``given`` checked against its declarations,
    defaults for the rest. A setting it does not take is a usage error listing those it does."""
    architecture = ARCHITECTURES.get(arch)
    foreign = [k for k in given if architecture.setting(k) is None]
    if foreign:
        flag = "--" + foreign[0].replace("_", "-")
        raise UsageError(f"{source}: {flag} is not a setting of --arch {arch}; {arch} takes: "
                         f"{architecture.describe_settings()}")
    return {s.name: s.check(given[s.name], source) if s.name in given else copy.copy(s.default)
            for s in architecture.settings}


# Architecture knobs that gantool 0.1.0 wrote into every config.json, whatever the architecture.
LEGACY_ARCH_KEYS = ("g_hidden", "d_hidden", "g_activation", "d_activation", "leaky_slope",
                    "dropout", "g_filters", "d_filters")


# --epochs under --time-budget when not given: in effect unbounded (the budget ends training)
BUDGET_EPOCHS = 10**6

# Settings that may change when a run is resumed; the rest define the models and the data.
RESUMABLE_SETTINGS = ("epochs", "time_budget", "steps_per_epoch", "sample_every",
                      "sample_every_steps", "checkpoint_every", "keep", "strategy", "cpu_devices",
                      "tpu", "jit", "steps_per_execution", "dry_run", "tensorboard", "out",
                      "track", "on_nan", "eval_every", "eval_n", "inception_weights",
                      "skip_bad_images")
