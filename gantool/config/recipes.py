"""TOML recipes in: keys normalised and checked against the known settings, and a loss's
recommended settings filled in where the user did not choose."""

import tomllib
from pathlib import Path

from gantool.config.train_config import TrainConfig, all_setting_names
from gantool.errors import UsageError
from gantool.losses import LOSSES


def read_toml(path):
    """Read a TOML recipe into a dict of settings, keys normalised to ``snake_case``.

    Keys may use dashes as on the command line (``batch-size``) or underscores. A ``[train]``
    table is accepted as well as top-level keys.
    """
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"config file {path} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UsageError(f"config file {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"config file {path} is not valid TOML: {e}") from None
    if "train" in values and isinstance(values["train"], dict):
        values = {**{k: v for k, v in values.items() if k != "train"}, **values["train"]}
    values = {k.replace("-", "_"): v for k, v in values.items()}
    known = all_setting_names()
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return values


def apply_loss_defaults(values, explicit):
    """Fill in a loss's recipe defaults (e.g. WGAN-GP: Adam(0, 0.9), 5 critic steps) for the
    settings in ``values`` (a dict) that the user did not give (``explicit``)."""
    loss = LOSSES.get(values.get("loss", TrainConfig.loss))
    for key, value in getattr(loss, "recommended", {}).items():
        key = {"n_critic": "d_steps"}.get(key, key)
        if key not in explicit:
            values[key] = value
    return values
