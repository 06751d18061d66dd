"""Checks of a :class:`~gantool.config.TrainConfig` as a whole: one-line usage errors that name
the bad value and the accepted range."""

from gantool.data import validate_dataset_spec
from gantool.distribute import STRATEGIES
from gantool.errors import UsageError
from gantool.fieldtypes import check_derived, check_seed
from gantool.losses import LOSSES
from gantool.models import ARCHITECTURES

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")



def _check(condition, message):
    if not condition:
        raise UsageError(message)


def validate(config, saved=False):
    """Reject nonsense settings with a one-line :class:`UsageError` naming value and range.
    ``saved``: a run's config (its dataset need not exist any more; data_shape and data_kind,
    derived when it trained, must be there)."""
    ARCHITECTURES.get(config.arch)
    check_derived(config) if saved else validate_dataset_spec(config.dataset)
    check_seed(config.seed, "seed")
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
                 "eval_every", "eval_n", "sample_every_steps"):
        value = getattr(config, name)
        _check(value is None or (isinstance(value, int) and value >= 1),
               f"{name.replace('_', '-')} must be a whole number >= 1, got {value!r}")
    _check(config.channels in (None, 1, 3), f"channels must be 1 or 3, got {config.channels}")
    for name in ("lr", "d_lr", "g_lr"):
        value = getattr(config, name)
        _check(value is None or (isinstance(value, (int, float)) and 0 < value < 10),
               f"{name.replace('_', '-')} must be a learning rate in (0, 10), got {value!r}")
    for name in ("beta1", "beta2", "label_smoothing"):
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
