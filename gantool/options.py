"""Click options shared between commands, defined once."""

import click

from gantool.config import TrainConfig

DEFAULTS = TrainConfig()


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
        from gantool.errors import UsageError

        try:
            validate_dataset_spec(value)
        except UsageError as e:
            self.fail(str(e), param, ctx)
        return value


def seed_option(default=0):
    return click.option("--seed", type=int, default=default, show_default=True,
                        help="Random seed (latents, data order, initialisation).")


def out_option(help_text, default=None):
    return click.option("--out", type=click.Path(), default=default, help=help_text)


def fps_option(default):
    return click.option("--fps", type=click.IntRange(min=1), default=default, show_default=True,
                        help="GIF frames per second.")


def ckpt_argument_help():
    return "A run directory or a checkpoint inside it (RUN_DIR/checkpoints/ckpt-N)."
