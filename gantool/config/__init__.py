"""Settings of a training run (:class:`TrainConfig`), their checks and TOML recipes."""

from gantool.config.checks import PRECISIONS, validate
from gantool.config.recipes import apply_loss_defaults, read_toml
from gantool.config.train_config import (
    LEGACY_ARCH_KEYS,
    RESUMABLE_SETTINGS,
    TrainConfig,
    all_setting_names,
)

__all__ = ["LEGACY_ARCH_KEYS", "PRECISIONS", "RESUMABLE_SETTINGS", "TrainConfig",
           "all_setting_names", "apply_loss_defaults", "read_toml", "validate"]
