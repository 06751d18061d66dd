"""Checks of a :class:`~gantool.config.TrainConfig` as a whole: one-line usage errors that name
the bad value and the accepted range."""

from gantool.data import validate_dataset_spec
from gantool.distribute import STRATEGIES
from gantool.errors import UsageError
from gantool.fieldtypes import check_derived, check_seed
from gantool.losses import LOSSES
from gantool.models import ARCHITECTURES
from gantool.trackers import check_trackers

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
    if not saved:  # a run's --track packages need not be installed where it is sampled
        check_trackers(config.track)
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
    for name in ("gp_weight", "r1", "r2", "instance_noise"):
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
    check_budget_and_schedules(config)
    check_augment(config)
    loss = LOSSES.get(config.loss)
    _check(not config.label_smoothing or getattr(loss, "supports_label_smoothing", True),
           f"--label-smoothing has no meaning for --loss {config.loss} (its outputs are scores, "
           "not probabilities)")


LR_SCHEDULES = ("constant", "linear", "cosine")


def check_budget_and_schedules(config):
    """--time-budget, --lr-schedule/--lr-warmup and --ema-kimg/--ema-rampup (one-line errors)."""
    budget = config.time_budget
    _check(budget is None or (_number(budget) and 0 < budget < float("inf")),
           f"time-budget must be a number of minutes > 0, e.g. 30, got {budget!r}")
    _check(budget is None or config.strategy != "multi-worker",
           "--time-budget is not supported with --strategy multi-worker (each worker's clock "
           "would stop it at a different step)")
    _check(config.lr_schedule in LR_SCHEDULES, f"unknown lr-schedule {config.lr_schedule!r}; "
           f"choose one of: {', '.join(LR_SCHEDULES)}")
    warmup = config.lr_warmup
    _check(_number(warmup) and 0 <= warmup < 1,
           f"lr-warmup must be a fraction of training in [0, 1), got {warmup!r}")
    kimg, rampup = config.ema_kimg, config.ema_rampup
    _check(kimg is None or (_number(kimg) and 0 < kimg < float("inf")),
           f"ema-kimg must be a half-life in thousands of images > 0, e.g. 10, got {kimg!r}")
    _check(rampup is None or (_number(rampup) and 0 <= rampup <= 1),
           f"ema-rampup must be in [0, 1] (0: off), e.g. 0.05, got {rampup!r}")
    _check(not (kimg is not None and config.ema is not None),
           f"--ema {config.ema} and --ema-kimg {kimg} cannot be combined: give a fixed decay or "
           "a half-life")
    _check(rampup is None or kimg is not None, "--ema-rampup needs --ema-kimg")
    _check(not (kimg is not None and config.precision == "mixed_float16"),
           "--ema-kimg is not supported with --precision mixed_float16 (use mixed_bfloat16)")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


AUGMENTS = ("none", "diffaugment", "ada")  # gantool.adaptive.AUGMENTS (checked by the tests)
AUGMENT_OPERATIONS = ("color", "translation", "cutout")  # gantool.augment.POLICIES


def check_augment(config):
    """--augment, --augment-policy and ADA's settings: one-line usage errors."""
    _check(config.augment in AUGMENTS,
           f"unknown augment {config.augment!r}; choose one of: {', '.join(AUGMENTS)}")
    ops = config.augment_policy.split(",") if isinstance(config.augment_policy, str) else [None]
    bad = [op for op in ops if op not in AUGMENT_OPERATIONS]
    _check(not bad and len(set(ops)) == len(ops),
           f"augment-policy {config.augment_policy!r} must be distinct operations from "
           f"{', '.join(AUGMENT_OPERATIONS)}, comma-separated")
    _check(isinstance(config.ada_target, (int, float)) and 0 < config.ada_target < 1,
           f"ada-target must be in (0, 1), e.g. 0.6, got {config.ada_target!r}")
    _check(isinstance(config.ada_kimg, (int, float)) and config.ada_kimg > 0,
           f"ada-kimg must be > 0 (thousands of images), got {config.ada_kimg!r}")
    _check(isinstance(config.ada_interval, int) and config.ada_interval >= 1,
           f"ada-interval must be a whole number >= 1, got {config.ada_interval!r}")

