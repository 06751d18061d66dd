"""Click options and parameter types shared between commands, each defined once.

Choices that come from a registry (architectures, losses) are read when a command runs, so an
entry registered after import (a plug-in, a test) is accepted like a built-in one.
"""

import os

import click

from gantool.config import TrainConfig
from gantool.errors import UsageError

DEFAULTS = TrainConfig()
POSITIVE = click.IntRange(min=1)
FRACTION = click.FloatRange(min=0, max=1, max_open=True)
LEARNING_RATE = click.FloatRange(min=0, max=10, min_open=True)


def quiet_tensorflow():
    """Ask TensorFlow's C++ side for errors only, before it is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class IntList(click.ParamType):
    """Comma-separated layer widths, e.g. ``256,512,1024``; empty for no hidden layer."""

    name = "N,N,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            units = [int(v) for v in str(value).replace(" ", "").split(",") if v]
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of whole numbers", param, ctx)
        if any(u < 1 for u in units):
            self.fail(f"{value!r}: layer widths must be >= 1", param, ctx)
        return units


class DatasetSpec(click.ParamType):
    """A registered dataset name or ``folder:PATH`` / ``npz:PATH`` / ``npy:PATH``."""

    name = "NAME|folder:PATH|npz:PATH"

    def convert(self, value, param, ctx):
        from gantool.data import validate_dataset_spec

        try:
            validate_dataset_spec(value)
        except UsageError as e:
            self.fail(str(e), param, ctx)
        return value


class RegistryChoice(click.ParamType):
    """One of a registry's names, read at parse time (``registry`` is a zero-argument function
    returning the :class:`~gantool.registry.Registry`, so that importing stays cheap)."""

    def __init__(self, registry, metavar):
        self.registry = registry
        self.name = metavar

    def get_metavar(self, param, ctx=None):
        return "[" + "|".join(self.registry().names()) + "]"

    def convert(self, value, param, ctx):
        if value in self.registry():
            return value
        self.fail(f"{value!r} is not one of {', '.join(map(repr, self.registry().names()))}",
                  param, ctx)


class SettingType(click.ParamType):
    """A declared :class:`~gantool.settings.Setting`: command-line text checked as TOML and
    ``config.json`` values are."""

    def __init__(self, setting):
        self.setting = setting
        self.name = setting.kind

    def convert(self, value, param, ctx):
        try:
            return self.setting.check(value, source="options")
        except UsageError as e:
            self.fail(str(e).removeprefix("options: "), param, ctx)


def architectures():
    from gantool.models import ARCHITECTURES

    return ARCHITECTURES


def losses():
    from gantool.losses import LOSSES

    return LOSSES


SEED = click.IntRange(min=0, max=2**63 - 1)  # every seed in [0, 2**63) works


def seed_option(default=0):
    return click.option("--seed", type=SEED, default=default, show_default=True,
                        help="Random seed in [0, 2**63) (latents, data order, initialisation).")


MAX_SEEDS = 10_000_000  # a --seeds list names at most this many seeds


class SeedList(click.ParamType):
    """Seeds and inclusive ranges, e.g. ``0-35,42`` -> [0, 1, ..., 35, 42]; each in [0, 2**63)."""

    name = "N|A-B,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        seeds = []
        for part in str(value).replace(" ", "").split(","):
            low, _, high = part.partition("-")
            try:
                low, high = int(low), int(high or low)
            except ValueError:
                self.fail(f"{part!r} in {value!r} is not a seed N or a range A-B", param, ctx)
            if not 0 <= low <= high < 2**63:
                self.fail(f"{part!r}: seeds are whole numbers in [0, 2**63), ranges A-B with "
                          "A <= B", param, ctx)
            if len(seeds) + high - low + 1 > MAX_SEEDS:
                self.fail(f"{value!r} names more than {MAX_SEEDS} seeds", param, ctx)
            seeds.extend(range(low, high + 1))
        return seeds


def seeds_option(help_text="One sample per seed, e.g. 0-35,42: the same image for a seed "
                 "whatever the batch (instead of --n and --seed)."):
    return click.option("--seeds", type=SeedList(), help=help_text)


def truncation_option():
    return click.option("--truncation", type=click.FloatRange(min=0, min_open=True),
                        metavar="PSI", help="Truncation trick: redraw latent components outside "
                        "[-PSI, PSI] (uniform latents: U(-PSI, PSI)).")


def scale_option(help_text="Upscale grids (nearest neighbour) by this factor [default: so that "
                 "a grid is at least 512 pixels wide]."):
    return click.option("--scale", type=click.IntRange(min=1, max=64), help=help_text)


def out_option(help_text, default=None):
    return click.option("--out", type=click.Path(), default=default, help=help_text)


def fps_option(default):
    return click.option("--fps", type=click.IntRange(min=1), default=default, show_default=True,
                        help="GIF frames per second.")


def ema_option(help_text="Use the generator's moving-average weights when the run kept them."):
    return click.option("--ema/--no-ema", default=True, show_default=True, help=help_text)


def quiet_option(help_text="No progress bar."):
    return click.option("--quiet", is_flag=True, help=help_text)


def inception_weights_option(help_text="FID Inception weights.npz [default: cached copy, else "
                             "download]."):
    return click.option("--inception-weights", type=click.Path(dir_okay=False), help=help_text)


def data_dir_option(help_text="tensorflow-datasets data directory (download cache)."):
    return click.option("--data-dir", type=click.Path(file_okay=False), help=help_text)


def channels_option(help_text="1 (grey) or 3 (RGB)."):
    return click.option("--channels", type=click.Choice(["1", "3"]), help=help_text)


CKPT_HELP = "A run directory or a checkpoint inside it (RUN_DIR/checkpoints/ckpt-N)."
